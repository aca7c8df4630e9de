"""Template context every page gets: the demo notice, the navigation of the signed-in role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str | Promise
    url: str


def _items(role: str) -> list[NavItem]:
    """Links by role. No database query: the pages themselves check the policy."""
    home = NavItem("home", _("Home"), reverse("web:home"))
    if role == "practitioner":
        return [home, NavItem("patients", _("Patients"), reverse("web:patients")),
                NavItem("register", _("Register a patient"), reverse("web:patient_new"))]
    if role == "coordinator":
        return [home, NavItem("network", _("Network"), reverse("web:coord:network")),
                NavItem("practitioners", _("Practitioners"), reverse("web:coord:practitioners")),
                NavItem("teams", _("Teams"), reverse("web:coord:teams")),
                NavItem("import", _("Import"), reverse("web:coord:import")),
                NavItem("break_glass", _("Break-the-glass reviews"), reverse("web:coord:break_glass")),
                NavItem("audit", _("Audit log"), reverse("web:coord:audit"))]
    if role == "patient":
        return [NavItem("home", _("My record"), reverse("web:home")),
                NavItem("access_log", _("Who accessed my record"), reverse("web:access_log"))]
    if role == "auditadmin":
        return [home, NavItem("audit", _("Audit log"), reverse("web:coord:audit"))]
    if role in ("secadmin", "sysadmin"):
        return [home, NavItem("admin", _("Back office"), reverse("admin:index"))]
    return [home]


def platform(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = user.role if user is not None and user.is_authenticated else ""
    return {
        "DEMO": settings.MEDUNION_DEMO,
        "MFA_RELAXED": not settings.MEDUNION_REQUIRE_MFA,
        "NAV_ITEMS": _items(role) if role else [],
    }
