#!/usr/bin/env python
# ruff: noqa: T201
"""Fault drill: bad input at volume — schemathesis over the whole /api/v1 against a real server.

    .venv/bin/python scripts/faults/schemathesis_http.py --db sqlite [--examples 20] [--max-time 600] [--stateful-time 240]
    scripts/with-postgres.sh .venv/bin/python scripts/faults/schemathesis_http.py --db pg

A fresh drill database with the demo consortium, `medunion serve --no-worker` on it, and the
schemathesis CLI against `/api/v1/openapi.json` with every check and every phase: the schema's
examples, the coverage phase (boundary and invalid values of every parameter), fuzzing (--examples
cases per operation) and the stateful phase, which follows the document's OpenAPI links (a case
created, then claimed, answered, referred on; the lists hand their first item to the operations
on it). Each call carries the bearer token of the persona whose work the operation is
(tests/api/schemathesis_owners.py, mapped to the demo's logins), refreshed when a call revoked it.
The accounts of those personas are not the secadmin's to deactivate here: an operation on one of
them is sent to a spare account the drill creates, so the run does not sign its own clients out.

Counts: operations tested, cases generated, failures by check (server errors, responses that
violate the schema, undocumented status codes, ...). RESULT: errors = failures; acknowledged,
present, duplicated and lost do not apply (null); ok when nothing failed and schemathesis ran
every phase.

The file is also the schemathesis hooks module of the run (SCHEMATHESIS_HOOKS points at it):
loaded by schemathesis, it registers the per-persona authentication and nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# The demo's login of each persona of tests/api/schemathesis_owners.py.
DEMO_LOGINS = {"asker": "village", "specialist": "cardio", "reader": "radiology", "coordinator": "coordinator",
               "sysadmin": "sysadmin", "secadmin": "secadmin", "auditadmin": "auditadmin"}
EXPECTED = ["2xx", "401", "403", "404", "409", "422", "429"]
CONFIG = f"""
[checks.positive_data_acceptance]
# Valid by the schema may still be refused by the domain (a resident ID number's check digit, a
# region that exists, an organisation where the caller practises): 422, or 404/409 for the state.
expected-statuses = {json.dumps(EXPECTED)}

[generation]
database = "none"

[phases.stateful.inference]
# The document's own links (src/medunion/core/openapi_links.py); inference pairs ids by name
# and shape and, for this API, mostly pairs the wrong ones.
algorithms = []
"""


# --- the hooks (loaded by schemathesis in its own process) ------------------------------------------

def _register_hooks() -> None:
    import requests
    import schemathesis

    sys.path.insert(0, str(REPO))
    from tests.api.schemathesis_owners import owner_of

    base = os.environ["MEDUNION_DRILL_URL"]
    password = os.environ["MEDUNION_DRILL_PASSWORD"]
    spare = os.environ["MEDUNION_DRILL_SPARE_USER"]
    protected = set(json.loads(os.environ["MEDUNION_DRILL_PERSONA_USERS"]))

    def persona(case: Any) -> str:
        return DEMO_LOGINS[owner_of(case.operation.method, case.operation.path)]

    def issue(username: str) -> str:
        for _attempt in range(30):
            answer = requests.post(base + "/api/v1/auth/token", json={"username": username, "password": password},
                                   timeout=60)
            if answer.status_code == 201:
                return str(answer.json()["access_token"])
            time.sleep(2)  # 429 after a burst of sign-ins: wait it out
        answer.raise_for_status()
        raise RuntimeError(f"no token for {username}: {answer.status_code}")

    @schemathesis.auth(cache_by_key=lambda case, context: persona(case), refresh_interval=None)
    class PersonaToken:
        def get(self, case: Any, context: Any) -> str:
            # DELETE /auth/token revokes the token it is sent: a token of its own, not the persona's.
            return issue(persona(case))

        def set(self, case: Any, data: str, context: Any) -> None:
            token = issue(persona(case)) if case.operation.label == "DELETE /api/v1/auth/token" else data
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}

    @schemathesis.hook
    def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        params = case.path_parameters or {}
        if case.operation.path.startswith("/api/v1/accounts/{user_id}") and str(params.get("user_id")) in protected:
            params["user_id"] = spare


if __name__ == "_schemathesis_hooks":
    _register_hooks()


# --- the drill -----------------------------------------------------------------------------------

def _setup_accounts(server_url: str, token: Any) -> tuple[str, list[str]]:
    """The personas' user ids, and a spare account for the secadmin's operations on accounts."""
    import requests

    ids = []
    for username in DEMO_LOGINS.values():
        me = requests.get(server_url + "/api/v1/auth/me",
                          headers={"Authorization": f"Bearer {token(server_url, username)}"}, timeout=60)
        me.raise_for_status()
        ids.append(me.json()["id"])
    spare = requests.post(server_url + "/api/v1/accounts", timeout=60,
                          headers={"Authorization": f"Bearer {token(server_url, 'secadmin')}"},
                          json={"username": "drill-spare", "password": "Drill-spare-account-2026!", "role": "auditadmin",
                                "display_name": "drill spare"})
    if spare.status_code != 201:
        raise RuntimeError(f"could not create the spare account: {spare.status_code} {spare.text[:300]}")
    return str(spare.json()["id"]), ids


def run(db: str, examples: int, max_time: int, stateful_time: int, workers: int, keep: bool,
        only: str = "") -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import _common

    with _common.drill_environment("schemathesis", db, keep=keep) as drill:
        built = drill.prepare(demo=True)
        with _common.Server(drill, workers=2, threads=4) as server:
            spare, personas = _setup_accounts(server.url, _common.token)
            config = drill.work / "schemathesis.toml"
            config.write_text(CONFIG)
            env = {**os.environ, "SCHEMATHESIS_HOOKS": str(Path(__file__).resolve()),
                   "MEDUNION_DRILL_URL": server.url, "MEDUNION_DRILL_PASSWORD": _common.PASSWORD,
                   "MEDUNION_DRILL_SPARE_USER": spare, "MEDUNION_DRILL_PERSONA_USERS": json.dumps(personas),
                   "NO_COLOR": "1"}
            load_before = _common.load()
            runs = {}
            # Two runs, so the call-by-call phases cannot use up the time of the stateful one.
            for name, phases, budget in (("calls", "examples,coverage,fuzzing", max_time),
                                         ("stateful", "stateful", stateful_time)):
                report = drill.work / f"report-{name}.json"
                command = [str(_common.BIN / "schemathesis"), "--config-file", str(config), "run",
                           server.url + "/api/v1/openapi.json", "--checks", "all", "--phases", phases,
                           "--max-examples", str(examples), "--workers", str(workers), "--max-time", str(budget),
                           "--continue-on-failure", "--generation-deterministic", "--request-timeout", "60",
                           "-H", "Accept-Language: en", "--report", "json", "--report-json-path", str(report)]
                if only:
                    command += ["--include-path-regex", only]
                started = time.monotonic()
                done = subprocess.run(command, env=env, cwd=drill.work, text=True, capture_output=True)
                took = time.monotonic() - started
                output = done.stdout + done.stderr
                (drill.work / f"schemathesis-{name}.log").write_text(output)
                # The failures and errors in full (they come before the warnings), then the summary.
                head, _sep, _rest = output.partition("=== WARNINGS ===")
                print(head[-30000:], output[output.rfind("=== SUMMARY ==="):], sep="\n", file=sys.stderr)
                if not report.exists():
                    raise RuntimeError(f"schemathesis wrote no report (exit {done.returncode}); see {drill.work}")
                runs[name] = summarise(json.loads(report.read_text()), took=round(took, 1),
                                       exit_code=done.returncode)
            server_errors = (drill.work / "serve.log").read_text(errors="replace").count("Internal Server Error")
        return {"runs": runs, "db": db, "built_s": round(built, 1), "examples": examples,
                "load": f"{load_before} -> {_common.load()}", "server_errors_logged": server_errors,
                "operations_tested": max(r["operations"].get("tested", 0) for r in runs.values()),
                "cases": sum(r["cases"] or 0 for r in runs.values()),
                "failures": sum(r["failures"] for r in runs.values()),
                "engine_errors": sum(len(r["engine_errors"]) for r in runs.values()),
                "ran_all_phases": all(r["ran_all_phases"] for r in runs.values())}


def summarise(document: dict[str, Any], **facts: Any) -> dict[str, Any]:
    by_check: dict[str, int] = {}
    operations: dict[str, list[str]] = {}
    for group in document.get("failures", []):
        by_check[group["title"]] = by_check.get(group["title"], 0) + group["count"]
        operations[group["title"]] = sorted(set(operations.get(group["title"], [])) | set(group["operations"]))
    phases = {name: p.get("status") for name, p in document.get("phases", {}).items()}
    return {
        "operations": document.get("operations", {}),
        "cases": document.get("test_cases", {}).get("generated"),
        "failures": sum(by_check.values()),
        "failures_by_check": by_check,
        "failing_operations": operations,
        "engine_errors": document.get("errors", []),
        "phases": phases,
        # "skip": the phase had nothing to run (the document has no examples of its own)
        "ran_all_phases": all(status in ("success", "failure", "skip") for status in phases.values()),
        "stop_reason": document.get("stop_reason"),
        "running_time_s": round(document.get("running_time") or 0, 1),
        **facts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    parser.add_argument("--examples", type=int, default=20, help="cases per operation in the fuzzing phase")
    parser.add_argument("--max-time", type=int, default=600,
                        help="seconds for the examples, coverage and fuzzing phases")
    parser.add_argument("--stateful-time", type=int, default=240, help="seconds for the stateful phase")
    parser.add_argument("--workers", type=int, default=2, help="schemathesis's concurrent workers")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, report)")
    parser.add_argument("--only", default="", help="test only the paths matching this regular expression")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    import _common

    try:
        detail = run(args.db, args.examples, args.max_time, args.stateful_time, args.workers, args.keep, args.only)
    except Exception as exc:  # noqa: BLE001 - the RESULT line reports what broke
        _common.emit_result("schemathesis_http", args.db, acknowledged=None, present=None, duplicated=None,
                            lost=None, errors=1, ok=False, detail={"error": f"{type(exc).__name__}: {exc}"})
        sys.exit(1)
    print(json.dumps(detail, indent=1, ensure_ascii=False), flush=True)
    errors = detail["failures"] + detail["engine_errors"]
    ok = errors == 0 and detail["ran_all_phases"] and detail["server_errors_logged"] == 0
    _common.emit_result("schemathesis_http", args.db, acknowledged=None, present=None, duplicated=None, lost=None,
                        errors=errors, ok=ok, detail=detail)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
