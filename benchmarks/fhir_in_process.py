"""A FHIR read and identifier search in one process: CPU time per request through Django's WSGI
handler, called the way gunicorn calls it, without a server or a socket — what the Python of a
request costs, measured more steadily than through a server (benchmarks/README.md, "FHIR
throughput").

    MEDUNION_DATA_DIR=<data dir> .venv/bin/python benchmarks/fhir_in_process.py            # read and search
    MEDUNION_DATA_DIR=<data dir> .venv/bin/python benchmarks/fhir_in_process.py --profile read
    MEDUNION_PG_KEEP=<cluster dir> scripts/with-postgres.sh .venv/bin/python benchmarks/fhir_in_process.py --pin

The database is the one the environment names (the demo consortium, or a generated province with
its keys in the environment); the benchmark adds an API token and audit rows to it, nothing else.
One clinician (the demo's ``township``, or a generated village doctor) reads up to 60 of the
patients they may see for good (care team or organisation), in turn. After 100 requests to warm
up, five rounds of ``--requests`` requests each; the best round's CPU milliseconds per request
are printed. ``--profile`` runs one more round under cProfile and prints its top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections.abc import Callable
from urllib.parse import quote

RESIDENT_ID = "urn:oid:2.16.156.10011.1.3"


def setup() -> tuple[Callable[[str, str], bytes], list[tuple[str, str]]]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medunion.settings")
    os.environ.setdefault("MEDUNION_LOG_LEVEL", "WARNING")
    os.environ["MEDUNION_NOTIFY_SENDERS"] = ""
    os.environ.pop("MEDUNION_DEBUG", None)
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    from medunion.access.actor import actor_for
    from medunion.access.policy import relationship_to, visible_patients
    from medunion.accounts.actions import issue_token
    from medunion.accounts.models import User
    from medunion.demo.personas import PASSWORD
    from medunion.demo.province import sample

    username = (sample.users("village", 1) or ["township"])[0]
    actor = actor_for(User.objects.get(username=username), "fhir")
    patients = [(str(pk), number) for pk, number in
                visible_patients(actor).order_by("pk").values_list("pk", "id_number")[:300]
                if number and relationship_to(actor, pk) in ("care_team", "same_organisation")][:60]
    if not patients:
        raise SystemExit(f"{username} may see no patient for good: is this a MedUnion data set?")
    request = RequestFactory().post("/api/v1/auth/token", REMOTE_ADDR="127.0.0.1")
    raw, _token = issue_token(request, username=username, password=PASSWORD)
    handler = WSGIHandler()

    def call(path: str, query: str) -> bytes:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
                   "HTTP_HOST": "127.0.0.1:8000", "REMOTE_ADDR": "127.0.0.1", "HTTP_AUTHORIZATION": f"Bearer {raw}",
                   "HTTP_ACCEPT": "application/fhir+json", "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr}
        status: list[str] = []
        body = b"".join(handler(environ, lambda s, headers, exc_info=None: status.append(s)))
        if not status[0].startswith("200"):
            raise SystemExit(f"{path}?{query}: {status[0]} {body[:300]!r}")
        return body

    return call, patients


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kinds", nargs="*", default=["read", "search"], help="read, search (default: both)")
    parser.add_argument("--requests", type=int, default=500, help="requests per round")
    parser.add_argument("--profile", action="store_true", help="one more round under cProfile")
    parser.add_argument("--top", type=int, default=40, help="functions the profile prints")
    parser.add_argument("--pin", action="store_true",
                        help="this process on the first CPU, a private PostgreSQL (scripts/with-postgres.sh) on the others")
    args = parser.parse_args()
    if set(args.kinds) - {"read", "search"}:
        parser.error("the kinds are read and search")
    if args.pin:
        # Apart, the two do not take turns on one core: steadier figures (the server's CPU time
        # is not counted, only this process's).
        from fhir_throughput import pin_private_postgres

        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            parser.error("--pin needs two CPUs")
        os.sched_setaffinity(0, {cpus[0]})
        pin_private_postgres(set(cpus[1:]))
    call, patients = setup()

    for kind in args.kinds:
        def one(i: int, kind: str = kind) -> None:
            pk, number = patients[i % len(patients)]
            if kind == "read":
                call(f"/fhir/Patient/{pk}", "")
            else:
                call("/fhir/Patient", "identifier=" + quote(f"{RESIDENT_ID}|{number}"))

        for i in range(100):
            one(i)
        best = float("inf")
        for _round in range(5):
            started = time.process_time()
            for i in range(args.requests):
                one(i)
            best = min(best, (time.process_time() - started) / args.requests * 1000)
        print(f"{kind}: {best:.3f} CPU ms a request (best of 5 × {args.requests}, {len(patients)} patients)")
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for i in range(args.requests):
                one(i)
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
