"""Build the demo consortium into an empty database (``medunion demo``, ``make run``).

Fuping County (富平县, Weinan, Shaanxi; ~810,000 people): 21 townships and their villages, a
village clinic per village, a health centre per township, the county hospital leading the county
medical community, the county maternal and child health hospital, imaging, pathology and ECG hubs,
and the First Affiliated Hospital of Xi'an Jiaotong University as the partner tertiary hospital
(about 60 km away), which also leads a breast-disease alliance and a tele-medicine network.

Everything is written with ``bulk_create`` in one transaction: a few seconds on SQLite. The same
seed builds the same names, numbers and relationships (primary keys are fresh UUIDs; dates are
relative to the day of the build).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from tqdm import tqdm

from medunion.access.actor import system_actor
from medunion.accounts.models import User
from medunion.audit.actions import record
from medunion.audit.models import Verb
from medunion.core import clock
from medunion.core.errors import Conflict
from medunion.network.models import Organisation

from . import consults, diagnostics, network, personas, referrals, residents, staff
from .catalogue import COUNTY_ORGS, TERTIARY
from .personas import PASSWORD, print_logins
from .state import DemoState

__all__ = ["DemoReport", "PASSWORD", "build_demo", "database_is_empty", "print_logins"]

DEFAULT_SEED = 810
DEFAULT_PATIENTS = 3000

STEPS: list[tuple[str, Callable[[DemoState], None]]] = [
    ("regions", network.build_regions),
    ("organisations and departments", network.build_organisations),
    ("consortia", network.build_consortia),
    ("practitioners", staff.build_practitioners),
    ("credentials", staff.build_credentials),
    ("teams", staff.build_teams),
    ("patients", residents.build_patients),
    ("accounts", personas.build_accounts),
    ("break-the-glass grants", personas.build_break_glass),
    ("statistics", lambda _state: analyze()),
    ("consultations", consults.build_consults),
    ("referrals", referrals.build_referrals),
    ("remote diagnosis", diagnostics.build_diagnostics),
]


def analyze() -> None:
    """Refresh PostgreSQL's planner statistics after the bulk inserts. The build is one
    transaction, so autovacuum cannot see its rows yet; without this the consultations step
    (real queries through the actions) is planned for the tables as they were before — empty,
    or holding a test's few rows — and a nested loop over thousands of rows can take minutes.
    ANALYZE inside a transaction counts the transaction's own rows. SQLite needs nothing."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


@dataclass
class DemoReport:
    seed: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    personas: dict[str, uuid.UUID] = field(default_factory=dict)  # user name -> account id
    demo_patient_id: uuid.UUID | None = None
    missing_exam_practitioner_id: uuid.UUID | None = None
    consortia: dict[str, uuid.UUID] = field(default_factory=dict)

    def summary(self) -> str:
        keys = ("townships", "villages", "organisations", "village doctors", "township GPs", "specialists",
                "teams", "patients", "accounts")
        parts = ", ".join(f"{self.counts.get(k, 0):,} {k}" for k in keys)
        return f"demo consortium built in {self.seconds:.1f} s (seed {self.seed}): {parts}"


def database_is_empty() -> bool:
    """True when the database holds no organisation and no account."""
    return not Organisation.objects.exists() and not User.objects.exists()


def build_demo(progress: bool = False, seed: int = DEFAULT_SEED, patients: int = DEFAULT_PATIENTS) -> DemoReport:
    """Build the demo consortium. Refuses (Conflict) when the demo's organisations exist already."""
    codes = [h.code for h in (TERTIARY, *COUNTY_ORGS)]
    if Organisation.objects.filter(code__in=codes).exists():
        raise Conflict(_("The demo consortium exists already in this database."))
    started = time.perf_counter()
    state = DemoState(rng=random.Random(seed), today=clock.today(), patient_count=patients)
    with transaction.atomic(), tqdm(total=len(STEPS), disable=not progress, unit="step", desc="demo",
                                    leave=False) as bar:
        for label, step in STEPS:
            bar.set_postfix_str(label)
            step(state)
            bar.update(1)
        record(system_actor("demo"), "demo.build", Verb.EXECUTE, detail={"seed": seed, **state.counts})
    report = DemoReport(
        seed=seed, seconds=time.perf_counter() - started, counts=dict(state.counts),
        personas={name: u.pk for name, u in state.users.items()},
        demo_patient_id=state.demo_patient.pk if state.demo_patient else None,
        missing_exam_practitioner_id=state.missing_exam.pk if state.missing_exam else None,
        consortia={k: c.pk for k, c in state.consortia.items()},
    )
    if progress:
        tqdm.write(report.summary())
    return report
