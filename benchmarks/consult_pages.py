"""The specialist's queue page and the case page on a consortium with many consultations.

    .venv/bin/python benchmarks/consult_pages.py                       # 100,000 cases, 1,000,000 messages, SQLite
    .venv/bin/python benchmarks/consult_pages.py --cases 10000 --messages 100000
    DATABASE_URL=postgres://… .venv/bin/python benchmarks/consult_pages.py   # on PostgreSQL (an empty database)

Builds the demo consortium into a fresh database, adds the cases and their messages with bulk
inserts (not through the actions: this measures reading, not writing), then requests each page
in-process through Django's test client as the demo cardiologist (`cardio`) and prints the median
and 95th percentile time and the number of SQL queries of each page. The numbers last seen are
in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

BATCH = 5000


def _setup(workdir: Path) -> None:
    os.environ["MEDUNION_DATA_DIR"] = str(workdir)
    if not os.environ.get("DATABASE_URL"):
        os.environ["MEDUNION_SQLITE_PATH"] = str(workdir / "bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medunion.settings")
    os.environ.setdefault("MEDUNION_LOG_LEVEL", "WARNING")
    os.environ["MEDUNION_DEMO"] = "1"
    os.environ["MEDUNION_DEBUG"] = "1"  # development keys are fine for a throw-away database
    os.environ["MEDUNION_NOTIFY_SENDERS"] = ""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _generate(cases: int, messages: int, seed: int = 7) -> dict[str, object]:
    """Cases of every specialty and state between the demo's village doctors and specialists."""
    from django.db import transaction

    from medunion.accounts.models import User
    from medunion.consults.models import Consult, ConsultMessage, ConsultParticipant
    from medunion.core import clock
    from medunion.core.ids import uuid7
    from medunion.network.codes import TIER_RANK
    from medunion.network.models import Consortium, PracticeSite, PractitionerSpecialty
    from medunion.patients.models import Patient

    rng = random.Random(seed)
    community = Consortium.objects.get(kind="county_community")
    cardio = User.objects.get(username="cardio").practitioner
    village_sites = list(PracticeSite.objects.filter(practitioner__title="village_doctor", primary=True)
                         .select_related("practitioner", "organisation")[:1500])
    specialists: dict[str, list[object]] = {}
    for s in PractitionerSpecialty.objects.exclude(specialty="general_practice").select_related("practitioner"):
        specialists.setdefault(s.specialty, []).append(s.practitioner)
    specialties = sorted(specialists)
    patients = list(Patient.objects.values_list("pk", "registered_at_id"))
    states = (["requested"] * 10 + ["in_progress"] * 20 + ["on_hold"] * 5 + ["answered"] * 15
              + ["completed"] * 45 + ["cancelled"] * 5)
    now = clock.now()
    per_case = max(1, messages // cases)
    made_cases = made_messages = 0
    mine = 0
    with transaction.atomic():
        batch_c: list[Consult] = []
        batch_p: list[ConsultParticipant] = []
        batch_m: list[ConsultMessage] = []
        for i in range(cases):
            site = rng.choice(village_sites)
            specialty = "cardiology" if i % 5 == 0 else rng.choice(specialties)
            state = rng.choice(states)
            assignee = None
            if state != "requested" and not (state == "cancelled" and rng.random() < 0.5):
                assignee = cardio if specialty == "cardiology" and rng.random() < 0.02 else rng.choice(
                    specialists[specialty])
                mine += assignee is cardio and state in ("in_progress", "on_hold", "answered")
            created = now - dt.timedelta(minutes=rng.randint(5, 60 * 24 * 365))
            target = {"emergency": 30, "urgent": 240, "routine": 2880}[rng.choice(["routine"] * 7 + ["urgent"] * 2
                                                                                  + ["emergency"])]
            urgency = {30: "emergency", 240: "urgent", 2880: "routine"}[target]
            pid = rng.choice(patients)[0]
            n = max(1, round(rng.gauss(per_case, per_case / 3)))
            c = Consult(id=uuid7(), created_at=created, patient_id=pid, consortium=community,
                        asker=site.practitioner, asker_organisation=site.organisation,
                        asker_tier_rank=TIER_RANK.get(site.organisation.tier, 1), specialty=specialty,
                        urgency=urgency, question="胸闷、心悸两天，请指导下一步处理。" * 2, history="高血压十年",
                        target_kind="pool", assignee=assignee, assigned_at=created if assignee else None,
                        state=state, version=1, last_seq=n, target_minutes=target,
                        due_at=created + dt.timedelta(minutes=target),
                        answered_at=created + dt.timedelta(hours=3) if state in ("answered", "completed") else None,
                        closed_at=created + dt.timedelta(days=1) if state in ("completed", "cancelled") else None)
            batch_c.append(c)
            if assignee is not None:
                batch_p.append(ConsultParticipant(id=uuid7(), consult=c, patient_id=pid, practitioner=assignee,
                                                  role="assignee", invited_at=created))
            for seq in range(1, n + 1):
                writer = site.practitioner if seq % 2 or assignee is None else assignee
                batch_m.append(ConsultMessage(
                    id=uuid7(), created_at=created + dt.timedelta(minutes=seq), consult=c, patient_id=pid, seq=seq,
                    audience="patient" if seq % 5 == 0 else "clinicians", kind="message",
                    author_practitioner=writer, author_name=writer.name, author_title=writer.title,
                    author_organisation="", body="请补做心电图并复测血压，结果上传后再评估。"))
            made_cases += 1
            made_messages += n
            if len(batch_m) >= BATCH or i == cases - 1:
                Consult.objects.bulk_create(batch_c, batch_size=1000)
                ConsultParticipant.objects.bulk_create(batch_p, batch_size=1000)
                ConsultMessage.objects.bulk_create(batch_m, batch_size=2000)
                batch_c, batch_p, batch_m = [], [], []
                print(f"\r  {made_cases:,} cases, {made_messages:,} messages", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    case = (Consult.objects.filter(assignee=cardio, state="in_progress", last_seq__gte=per_case)
            .order_by("-created_at").values_list("pk", flat=True).first())
    return {"cases": made_cases, "messages": made_messages, "cardio_open": mine, "case": case}


def _time(client, path: str, runs: int) -> tuple[float, float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        client.get(path)  # warm caches and the template loader
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], len(ctx.captured_queries), \
        response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _setup(Path(tmp))
        from django.db import connection
        from django.test import Client

        from medunion.accounts.models import User
        from medunion.demo.build import build_demo

        started = time.perf_counter()
        build_demo()
        facts = _generate(args.cases, args.messages)
        print(f"data: {facts['cases']:,} cases, {facts['messages']:,} messages "
              f"({facts['cardio_open']} open with the cardiologist) in {time.perf_counter() - started:.0f} s "
              f"on {connection.vendor}")
        client = Client()
        client.force_login(User.objects.get(username="cardio"))
        pages = [("queue: my open cases", "/consults?queue=mine"), ("queue: the cardiology pool", "/consults?queue=pool"),
                 ("case page", f"/consults/{facts['case']}")]
        print(f"{'page':32} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'status':>7}")
        for label, path in pages:
            median, p95, queries, status = _time(client, path, args.runs)
            print(f"{label:32} {median:10.1f} {p95:8.1f} {queries:8d} {status:7d}")


if __name__ == "__main__":
    main()
