"""Benchmark of the practitioner import on a fresh SQLite database.

    .venv/bin/python benchmarks/import_practitioners.py            # 1,300 and 10,000 rows
    .venv/bin/python benchmarks/import_practitioners.py 1300 20000  # other sizes

A county medical community with 21 township health centres and their village clinics is built,
then roster files are imported through ``medunion.network.importer.import_file`` (what
``medunion import-practitioners`` runs): a first import (every row new), the same file again
(every row unchanged) and a file where every tenth row changed. The numbers last seen are in
docs/onboarding.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from fresh import fresh_database


def _county(townships: int = 21, clinics_per_township: int = 12) -> list[str]:
    """The county: regions, a county hospital leading the consortium, townships and village clinics.
    Returns the codes of the organisations doctors practise at."""
    from medunion.network.models import Consortium, ConsortiumMembership, Organisation, Region

    Region.objects.create(code="610000000000", name="陕西省", level=1)
    Region.objects.create(code="610400000000", name="咸阳市", level=2, parent_id="610000000000")
    Region.objects.create(code="610424000000", name="乾县", level=3, parent_id="610400000000")
    county = Organisation.objects.create(code="C001", name="乾县人民医院", tier="county_hospital",
                                         region_id="610424000000")
    consortium = Consortium.objects.create(code="QX-YGT", name="乾县县域医共体", kind="county_community", lead=county)
    orgs = [county]
    for t in range(1, townships + 1):
        orgs.append(Organisation(code=f"W{t:03d}", name=f"第{t}镇卫生院", tier="township_centre",
                                 region_id="610424000000", parent=county))
        for v in range(1, clinics_per_township + 1):
            orgs.append(Organisation(code=f"V{t:03d}{v:02d}", name=f"第{t}镇{v}村卫生室", tier="village_clinic",
                                     region_id="610424000000"))
    Organisation.objects.bulk_create(orgs[1:])
    ConsortiumMembership.objects.bulk_create([ConsortiumMembership(consortium=consortium, organisation=o)
                                              for o in orgs])
    return [o.code for o in orgs if o.tier == "village_clinic"]


def _roster(n: int, clinics: list[str], changed_every: int = 0) -> bytes:
    header = "姓名,执业证书编码,机构编码,职称,专业,执业年限,性别,电话"
    lines = [header]
    for i in range(n):
        changed = bool(changed_every) and i % changed_every == 0
        lines.append(",".join([f"村医{i:05d}", f"V{610424000000 + i}", clinics[i % len(clinics)],
                               "乡村医生", "全科、中医" if changed else "全科", str(5 + i % 30),
                               "男" if i % 2 else "女", f"138{i:08d}"]))
    return ("\r\n".join(lines) + "\r\n").encode("gb18030")


def _run(label: str, path: Path) -> None:
    from medunion.access.actor import system_actor
    from medunion.network.importer import import_file

    started = time.perf_counter()
    report = import_file(path, acting=system_actor("benchmark"), consortium_code="QX-YGT")
    seconds = time.perf_counter() - started
    counts = report.counts()
    print(f"{label:<36} {counts['total']:>6} rows  {seconds:6.2f} s  {counts['total'] / seconds:8.0f} rows/s  "
          f"imported {counts['imported']}, updated {counts['updated']}, unchanged {counts['unchanged']}, "
          f"errors {counts['error']}")


def _coordinator() -> object:
    from medunion.access.actor import actor_for, system_actor
    from medunion.accounts.actions import create_account
    from medunion.network.models import Consortium

    user = create_account(acting=system_actor("benchmark"), username="bench_coordinator",
                          password="Qianxian-Onboarding-7391!", role="coordinator", display_name="协调员",
                          consortium_ids=[Consortium.objects.get(code="QX-YGT").pk])
    return actor_for(user, "page")


def _run_job(label: str, actor: object, path: Path) -> None:
    """What the page does: start a job (a background thread) and wait until it is done."""
    from medunion.network.importer import start_import, wait_for_job
    from medunion.network.models import Consortium, ImportJob

    started = time.perf_counter()
    job = start_import(acting=actor, consortium_id=Consortium.objects.get(code="QX-YGT").pk,  # type: ignore[arg-type]
                       filename=path.name, content=path.read_bytes())
    wait_for_job(job.pk, timeout=600)
    seconds = time.perf_counter() - started
    job = ImportJob.objects.get(pk=job.pk)
    s = job.summary
    print(f"{label:<36} {job.total:>6} rows  {seconds:6.2f} s  {job.total / seconds:8.0f} rows/s  "
          f"imported {s['imported']}, updated {s['updated']}, unchanged {s['unchanged']}, errors {s['error']} "
          f"({job.status})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[1300, 10000])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="medunion-bench-") as tmp:
        workdir = Path(tmp)
        fresh_database(workdir)
        clinics = _county()
        coordinator = _coordinator()
        import django

        print(f"SQLite, Python {sys.version.split()[0]}, Django {django.get_version()}")
        for n in args.sizes:
            from medunion.network.models import Practitioner

            Practitioner.objects.all().delete()
            path = workdir / f"roster-{n}.csv"
            path.write_bytes(_roster(n, clinics))
            _run(f"{n:,} new practitioners", path)
            _run(f"{n:,} again (nothing to do)", path)
            path.write_bytes(_roster(n, clinics, changed_every=10))
            _run(f"{n:,} with every 10th changed", path)
            path.write_bytes(_roster(n, clinics, changed_every=5))
            _run_job(f"{n:,} as a page job (background)", coordinator, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
