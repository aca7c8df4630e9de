"""Who plays the mixed load, and on what: run by ``benchmarks/mixed_load.py`` in a subprocess with
the server's environment (the same database), it prints one JSON object (the "cast").

On a generated data set (``medunion.demo.province``) the cast is generated accounts picked with
``medunion.demo.province.sample``: specialists with the fullest pools to claim from, readers with
examinations awaiting, patients with signed reports, village doctors and township GPs with the
patients they may see. On the demo consortium it is the demo's personas (several sessions share an account).
Read-only: nothing is written here; the sign-ins go through the real endpoints, later.

    python benchmarks/load/pick.py [patients per clinician, 200] [accounts per kind, 12]
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medunion.settings")


def _patients_of(username: str, limit: int, *, referable: bool = False) -> list[dict[str, str]]:
    """Patients the account may see: id and resident ID number. ``referable``: only those with no
    live upward referral (a second one is refused, rightly), each used once by the load."""
    from medunion.access.actor import actor_for
    from medunion.access.policy import visible_patients
    from medunion.accounts.models import User
    from medunion.referrals.models import Referral
    from medunion.referrals.states import LIVE_STATES

    user = User.objects.get(username=username)
    actor = actor_for(user, "api")
    rows = visible_patients(actor).exclude(id_number_last4="")
    if referable:
        rows = rows.exclude(pk__in=Referral.objects.filter(state__in=list(LIVE_STATES), direction="up")
                            .values("patient_id"))
    return [{"id": str(p.pk), "id_number": p.id_number} for p in rows.order_by("id")[:limit]]


def demo_cast(limit: int) -> dict[str, Any]:
    from medunion.demo.personas import PASSWORD

    return {
        "source": "demo",
        "password": PASSWORD,
        # consultations go to the pool of this specialty, which the specialists answer
        "consult_specialty": "cardiology",
        "specialists": ["cardio"],
        "village": [{"username": "village", "patients": _patients_of("village", limit),
                     "referable": _patients_of("village", limit, referable=True)}],
        "township": [{"username": "township", "patients": _patients_of("township", limit)}],
        "readers": ["radiology"],
        "patients": ["patient"],
        "integrator": {"username": "county", "patients": _patients_of("county", limit)},
    }


def _pool_specialty(username: str) -> str:
    """The specialty with the most open pool cases in the clinician's consortia (answered there)."""
    from django.db.models import Count

    from medunion.consults.models import Consult
    from medunion.demo.province.sample import _places, _practitioner

    _orgs, consortia, _s = _places(_practitioner(username))
    top = (Consult.objects.filter(consortium_id__in=consortia, state="requested", target_kind="pool")
           .values("specialty").annotate(n=Count("id")).order_by("-n").first())
    return top["specialty"] if top else "cardiology"


def province_cast(limit: int, accounts: int) -> dict[str, Any] | None:
    """Generated accounts (``medunion.demo.province.sample``): specialists with cases to work,
    readers with examinations awaiting, patients with signed reports."""
    try:
        from medunion.demo.province import sample
    except ImportError:
        return None
    if not sample.users("specialist", 1):
        return None  # not a generated data set
    from medunion.demo.personas import PASSWORD

    many = accounts * 4
    # The fullest pools first (a run claims about 25 cases a step; runs on the same data set drain
    # the pools they worked on).
    candidates = sample.users("specialist", accounts * 20)
    specialists = sample.fullest_pools(candidates, at_least=30)[:accounts]
    readers = [u for u in sample.users("reader", many) if sample.awaiting_examinations_for(u, 3)][:accounts]
    village = [{"username": u, "specialty": _pool_specialty(u), "patients": _patients_of(u, limit),
                "referable": _patients_of(u, limit, referable=True)} for u in sample.users("village", accounts)]
    township = [{"username": u, "patients": _patients_of(u, limit)} for u in sample.users("township", accounts)]
    integrator = sample.users("township", accounts + 1)[-1]
    return {
        "source": "province", "password": PASSWORD, "consult_specialty": "cardiology",
        "specialists": specialists, "readers": readers,
        "village": [v for v in village if v["patients"]], "township": [t for t in township if t["patients"]],
        "patients": [u for u, _pid in sample.patients_with_reports(accounts)],
        "integrator": {"username": integrator, "patients": _patients_of(integrator, limit)},
    }


def main() -> None:
    import django

    django.setup()
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    accounts = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    cast = province_cast(limit, accounts) if os.environ.get("MEDUNION_LOAD_CAST", "auto") != "demo" else None
    print(json.dumps(cast or demo_cast(limit)))


if __name__ == "__main__":
    main()
