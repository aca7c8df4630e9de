"""The database triggers that make the audit log append-only (installed by migration 0002).

Test infrastructure also uses :func:`remove` / :func:`install` around Django's ``flush`` of
transactional tests, which must empty every table.
"""

from __future__ import annotations

from typing import Any

SQLITE_UP = [
    """CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_delete BEFORE DELETE ON audit_auditevent
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS audit_auditevent_no_update",
               "DROP TRIGGER IF EXISTS audit_auditevent_no_delete"]

PG_UP = [
    """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'restrict_violation'; END $$""",
    "DROP TRIGGER IF EXISTS audit_auditevent_no_change ON audit_auditevent",
    """CREATE TRIGGER audit_auditevent_no_change BEFORE UPDATE OR DELETE ON audit_auditevent
       FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
    "DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON audit_auditevent",
    """CREATE TRIGGER audit_auditevent_no_truncate BEFORE TRUNCATE ON audit_auditevent
       FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
]
PG_DOWN = ["DROP TRIGGER IF EXISTS audit_auditevent_no_change ON audit_auditevent",
           "DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON audit_auditevent"]


def _run(connection: Any, statements: list[str]) -> None:
    with connection.cursor() as cur:
        for sql in statements:
            cur.execute(sql)


def install(connection: Any) -> None:
    _run(connection, PG_UP if connection.vendor == "postgresql" else SQLITE_UP)


def remove(connection: Any) -> None:
    _run(connection, PG_DOWN if connection.vendor == "postgresql" else SQLITE_DOWN)
