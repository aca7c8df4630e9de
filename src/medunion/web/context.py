"""Template context every page gets: the demo notice, the navigation of the signed-in role, and
the number of unread notifications (one cheap query, made only when a page shows it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise, cached_property
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str | Promise
    url: str


def _reads(user: Any) -> bool:
    """Whether a clinician reads examinations at a hub (a reading specialty, practising at an
    organisation some consortium routes examinations to):
    one query, made when the navigation is shown; the worklist itself checks the policy."""
    from medunion.diagnostics.codes import READING_SPECIALTIES
    from medunion.network.models import Practitioner

    specialties = sorted({s for group in READING_SPECIALTIES.values() for s in group})
    return Practitioner.objects.filter(pk=user.practitioner_id, specialties__specialty__in=specialties,
                                       sites__active=True,
                                       sites__organisation__reading_routes__isnull=False).exists()


class LazyItems:
    """Navigation items built when the page first shows them."""

    def __init__(self, build: Any):
        self.build = build

    @cached_property
    def items(self) -> list[NavItem]:
        return self.build()

    def __iter__(self) -> Any:
        return iter(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def _items(role: str, user: Any = None) -> list[NavItem]:
    """Links by role. No database query (but whether a clinician reads at a hub): the pages
    themselves check the policy."""
    home = NavItem("home", _("Home"), reverse("web:home"))
    if role == "practitioner":
        reading = [NavItem("reading", _("Reading"), reverse("web:reading"))] if user is not None and _reads(user) \
            else []
        return [home, NavItem("consults", _("Consultations"), reverse("web:consults")),
                NavItem("ask", _("Ask a specialist"), reverse("web:consult_new")),
                NavItem("referrals", _("Referrals"), reverse("web:referrals")),
                NavItem("refer", _("Refer a patient"), reverse("web:referral_new")),
                NavItem("tasks", _("Follow-ups"), reverse("web:referral_tasks")),
                NavItem("examinations", _("Examinations"), reverse("web:examinations")), *reading,
                NavItem("patients", _("Patients"), reverse("web:patients")),
                NavItem("register", _("Register a patient"), reverse("web:patient_new"))]
    if role == "coordinator":
        return [home, NavItem("network", _("Network"), reverse("web:coord:network")),
                NavItem("consults", _("Consultations"), reverse("web:coord:consult_overdue")),
                NavItem("referral_figures", _("Referrals"), reverse("web:coord:referral_figures")),
                NavItem("referral_capacity", _("Green channel"), reverse("web:coord:referral_capacity")),
                NavItem("diagnostic_figures", _("Diagnostics"), reverse("web:coord:diagnostic_figures")),
                NavItem("reading_routes", _("Reading routes"), reverse("web:coord:reading_routes")),
                NavItem("practitioners", _("Practitioners"), reverse("web:coord:practitioners")),
                NavItem("teams", _("Teams"), reverse("web:coord:teams")),
                NavItem("import", _("Import"), reverse("web:coord:import")),
                NavItem("break_glass", _("Break-the-glass reviews"), reverse("web:coord:break_glass")),
                NavItem("audit", _("Audit log"), reverse("web:coord:audit"))]
    if role == "patient":
        return [NavItem("home", _("My record"), reverse("web:home")),
                NavItem("my_consults", _("My consultations"), reverse("web:my_consults")),
                NavItem("my_referrals", _("My referrals"), reverse("web:my_referrals")),
                NavItem("my_reports", _("My reports"), reverse("web:my_reports")),
                NavItem("access_log", _("Who accessed my record"), reverse("web:access_log"))]
    if role == "commission":
        return [home, NavItem("referral_figures", _("Referral figures"), reverse("web:coord:referral_figures")),
                NavItem("diagnostic_figures", _("Diagnostic turnaround"), reverse("web:coord:diagnostic_figures"))]
    if role == "auditadmin":
        return [home, NavItem("audit", _("Audit log"), reverse("web:coord:audit"))]
    if role in ("secadmin", "sysadmin"):
        return [home, NavItem("admin", _("Back office"), reverse("admin:index"))]
    return [home]


class Unread:
    """The signed-in user's unread notifications, counted when a page first shows ``n``."""

    def __init__(self, user: Any):
        self.user = user

    @cached_property
    def n(self) -> int:
        from medunion.access.actor import Actor
        from medunion.notifications.queries import unread_count

        # Counting one's own notifications needs nobody's relationships: no actor_for queries.
        return unread_count(Actor(user_id=self.user.pk, username=self.user.username, display="",
                                  role=self.user.role))


def platform(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = user.role if user is not None and user.is_authenticated else ""
    return {
        "DEMO": settings.MEDUNION_DEMO,
        "MFA_RELAXED": not settings.MEDUNION_REQUIRE_MFA,
        "NAV_ITEMS": LazyItems(lambda: _items(role, user)) if role else [],
        "UNREAD": Unread(user) if role else None,
    }
