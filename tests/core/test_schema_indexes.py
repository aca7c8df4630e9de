"""Every index of the project's tables earns its place: none is a leading part of another.

An index costs every insert and update of its table. One on a column that a longer index already
begins with (as Django gives a foreign key unless told ``db_index=False``) serves no look-up the
longer one does not, and PostgreSQL's planner, weighing indexes by size, may take the narrow one
and filter the rows the longer one would have skipped (the unread-notice badge did so in CI).
The check reads the indexes the migrations built, on the database the tests run on."""

from __future__ import annotations

from django.apps import apps
from django.db import connection


def _definitions() -> dict[str, str]:
    """The statement that made each index, by name: a partial index's has its WHERE, an index with
    an operator class names it."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        else:
            cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
        return {name: sql.upper() for name, sql in cur.fetchall()}


def _plain(definition: str) -> bool:
    return " WHERE " not in definition and "_OPS" not in definition


def _serves(narrow: dict, wide: dict) -> bool:
    """A B-tree on ``wide``'s columns answers every look-up and order ``narrow`` answers: its
    columns begin with narrow's, in the same directions or all reversed (read backwards)."""
    n, w = narrow["columns"], wide["columns"]
    if len(w) <= len(n) or w[:len(n)] != n:
        return False
    if len(n) == 1:
        return True
    orders = narrow.get("orders") or ["ASC"] * len(n)
    wide_orders = (wide.get("orders") or ["ASC"] * len(w))[:len(n)]
    flipped = ["ASC" if o == "DESC" else "DESC" for o in wide_orders]
    return orders in (wide_orders, flipped)


def _redundant() -> list[str]:
    definitions = _definitions()
    tables = {m._meta.db_table for m in apps.get_models() if m.__module__.startswith("medunion.")}
    found = []
    with connection.cursor() as cur:
        for table in sorted(tables):
            # A unique constraint is an index too (SQLite's, declared in the table, has no
            # statement of its own and no condition).
            indexes = {name: c for name, c in connection.introspection.get_constraints(cur, table).items()
                       if (c["index"] or c["unique"]) and not c["primary_key"] and c["columns"]
                       and None not in c["columns"] and _plain(definitions.get(name, ""))}
            for name, narrow in indexes.items():
                if narrow["unique"] or name not in definitions:
                    continue  # it enforces something besides
                wider = [other for other, wide in indexes.items() if other != name and _serves(narrow, wide)]
                if wider:
                    found.append(f"{table}.{name} {narrow['columns']} is the start of {sorted(wider)}")
    return found


def test_no_index_is_the_start_of_another(db):
    assert _redundant() == []


def test_the_check_finds_an_index_a_longer_one_begins_with(db):
    """The check itself: an index on the account alone, beside the inbox index on account and time."""
    with connection.cursor() as cur:
        cur.execute('CREATE INDEX "notification_account_only" ON "notifications_notification" ("user_id")')
    found = _redundant()
    assert len(found) == 1, found
    assert "notification_account_only" in found[0] and "notification_inbox" in found[0], found
