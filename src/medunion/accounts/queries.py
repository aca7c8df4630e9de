"""Read side of accounts: who an account is, for showing people (the patient's access log)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Prefetch

from .models import User


@dataclass(frozen=True)
class Who:
    name: str
    role: str
    title: str = ""
    organisation: str = ""


def who_is(user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, Who]:
    """Name, role label, professional title and primary organisation of these accounts, in two
    queries however many there are."""
    from medunion.network.models import PracticeSite

    ids = {u for u in user_ids if u}
    if not ids:
        return {}
    sites = (PracticeSite.objects.filter(active=True).select_related("organisation")
             .order_by("-primary", "organisation__code"))
    users = (User.objects.filter(pk__in=ids).select_related("practitioner")
             .prefetch_related(Prefetch("practitioner__sites", queryset=sites, to_attr="active_sites")))
    out: dict[uuid.UUID, Who] = {}
    for u in users:
        p = u.practitioner
        site = p.active_sites[0] if p is not None and p.active_sites else None  # type: ignore[attr-defined]
        out[u.pk] = Who(name=u.display_name or u.username, role=str(u.get_role_display()),
                        title=str(p.get_title_display()) if p is not None else "",
                        organisation=site.organisation.name if site else "")
    return out
