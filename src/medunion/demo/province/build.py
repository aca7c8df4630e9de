"""Build a generated data set (``medunion generate``, ``medunion demo --scale …``): the demo
consortium first (its personas and logins), then the province on top of it, stage by stage, each
stage one transaction written through the bulk paths, with a progress bar per stage.

Refuses a database that holds data already — a generated data set, one whose generation was
interrupted, or anything else: nothing is written then."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import system_actor
from medunion.accounts.models import User
from medunion.audit.actions import record
from medunion.audit.models import AuditEvent, Verb
from medunion.consults.models import Consult, ConsultMessage
from medunion.core import clock
from medunion.core.errors import Conflict
from medunion.diagnostics.models import Examination
from medunion.network.models import Organisation, Practitioner
from medunion.patients.models import Patient
from medunion.referrals.models import Referral

from ..build import build_demo, database_is_empty
from ..personas import PASSWORD
from .bulk import AuditChain, Ids, Sink, analyze, finish_sequences
from .consults import build_consults
from .diagnostics import build_diagnostics
from .network import build_network
from .patients import build_patient_accounts, build_patients
from .people import build_people
from .referrals import build_referrals, hold_green_places
from .scale import SCALES, Scale
from .state import Gen

START, DONE = "demo.generate.start", "demo.generate"


@dataclass
class StageTime:
    label: str
    seconds: float
    rows: int


@dataclass
class GenerateReport:
    scale: str
    seed: int
    seconds: float
    demo_seconds: float
    stages: list[StageTime] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    audit_rows: int = 0

    def summary(self) -> str:
        lines = [f"generated the {self.scale} data set in {self.seconds:.0f} s (seed {self.seed}; demo "
                 f"{self.demo_seconds:.0f} s)"]
        lines += [f"  {s.label:<18} {s.seconds:7.1f} s {s.rows:>11,} rows" for s in self.stages]
        lines.append("  totals: " + ", ".join(f"{v:,} {k}" for k, v in self.totals.items()))
        return "\n".join(lines)


def totals() -> dict[str, int]:
    return {
        "organisations": Organisation.objects.count(), "clinicians": Practitioner.objects.count(),
        "patients": Patient.objects.count(), "patient_logins": User.objects.filter(role="patient").count(),
        "consults": Consult.objects.count(), "messages": ConsultMessage.objects.count(),
        "referrals": Referral.objects.count(), "examinations": Examination.objects.count(),
    }


def generated_already() -> bool:
    return AuditEvent.objects.filter(action__in=[START, DONE]).exists() or \
        Organisation.objects.filter(code__startswith="PV-").exists()


def check_empty() -> None:
    """Refuse (Conflict) unless the database is empty; says what to do instead."""
    if generated_already():
        raise Conflict(_("This database holds a generated data set already (or one whose generation was "
                         "interrupted); nothing was changed. To generate again, point MEDUNION_DATA_DIR (or "
                         "MEDUNION_SQLITE_PATH) or DATABASE_URL at a new, empty database and run the command "
                         "there."))
    if not database_is_empty():
        raise Conflict(_("The generator builds into an empty database (it builds the demo consortium first); "
                         "this one holds data, and nothing was changed. Point MEDUNION_DATA_DIR (or "
                         "MEDUNION_SQLITE_PATH) or DATABASE_URL at a new, empty database and run the command "
                         "there."))


def _targets(scale: Scale) -> dict[str, int]:
    wanted = {k: getattr(scale, k) for k in ("organisations", "clinicians", "patients", "patient_logins",
                                             "consults", "messages", "referrals", "examinations")}
    if not scale.totals:
        return wanted
    have = totals()
    return {k: max(0, v - have[k]) for k, v in wanted.items()}


@contextmanager
def _bulk_mode() -> Iterator[None]:
    """SQLite: no fsync and a rollback journal during the load (new pages need no journal), a
    large page cache; restored afterwards. Only outside a transaction (a test's build keeps the
    settings as they are)."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.execute("PRAGMA journal_mode=DELETE")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-524288")
        cursor.execute("PRAGMA temp_store=MEMORY")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size=-2000")
            cursor.execute("PRAGMA temp_store=DEFAULT")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")


def _expected(gen: Gen) -> dict[str, int]:
    t = gen.targets
    return {"network": 8 * t["organisations"], "people": 16 * t["clinicians"], "patients": 4 * t["patients"],
            "consultations": 2 * t["messages"] + 3 * t["consults"], "referrals": 11 * t["referrals"],
            "diagnosis": 9 * t["examinations"], "patient accounts": 2 * t["patient_logins"]}


STAGES: list[tuple[str, Callable[[Gen], None]]] = [
    ("network", build_network), ("people", build_people), ("patients", build_patients),
    ("consultations", build_consults), ("referrals", build_referrals), ("diagnosis", build_diagnostics),
    ("patient accounts", build_patient_accounts),
]


def new_gen(spec: Scale, seed: int, targets: dict[str, int], sink: Sink, now: dt.datetime | None = None) -> Gen:
    ids = Ids(seed)
    # One hash of the published demo password (the configured hasher: Argon2), shared by every
    # generated account — acceptable for a synthetic data set only.
    return Gen(scale=spec, seed=seed, now=now or clock.now(), sink=sink, ids=ids, audit=AuditChain(sink, ids),
               rng=random.Random(seed), password_hash=make_password(PASSWORD), targets=targets)


def generate(scale: str = "province", seed: int = 810, progress: bool = False) -> GenerateReport:
    """Build the demo consortium and the generated data set of ``scale`` into an empty database."""
    spec = SCALES[scale]
    check_empty()
    started = time.perf_counter()
    demo = build_demo(progress=progress, seed=seed, patients=spec.demo_patients)
    report = GenerateReport(scale=scale, seed=seed, seconds=0.0, demo_seconds=time.perf_counter() - started)
    targets = _targets(spec)
    record(system_actor("demo"), START, Verb.EXECUTE, detail={"scale": scale, "seed": seed})
    sink = Sink(progress)
    gen = new_gen(spec, seed, targets, sink)
    expected = _expected(gen)
    with _bulk_mode():
        for label, stage in STAGES:
            t0, rows0 = time.perf_counter(), sum(sink.counts.values())
            with transaction.atomic():
                gen.audit.lock()
                sink.stage(label, expected[label])
                stage(gen)
                sink.flush()
            sink.close_bar()
            report.stages.append(StageTime(label, time.perf_counter() - t0, sum(sink.counts.values()) - rows0))
        t0 = time.perf_counter()
        finish_sequences()  # before anything else appends to the chain through the ORM
        with transaction.atomic():
            hold_green_places(gen)
            record(system_actor("demo"), DONE, Verb.EXECUTE,
                   detail={"scale": scale, "seed": seed, "audit_rows": gen.audit.written,
                           "demo_personas": len(demo.personas)})
        analyze()
        report.stages.append(StageTime("statistics", time.perf_counter() - t0, 0))
    report.seconds = time.perf_counter() - started
    report.counts = dict(gen.counts) | {"audit rows": gen.audit.written}
    report.audit_rows = gen.audit.written
    report.totals = totals()
    return report
