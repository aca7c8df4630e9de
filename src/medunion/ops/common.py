"""What the backup's database engines share: the error, per-table statistics, progress bars."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any, Protocol, TypeVar

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from tqdm import tqdm

# Tables that `medunion migrate` fills by itself: a database holding rows only in these is empty.
BOOKKEEPING = frozenset({"django_migrations", "django_content_type", "auth_permission", "sqlite_sequence"})
AUDIT_TABLE = "audit_auditevent"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# {table: {"rows": int, "checksum": str}}: what a backup holds at its snapshot.
Stats = dict[str, dict[str, Any]]
T = TypeVar("T")


class BackupError(Exception):
    """A backup or restore that cannot go on; ``message`` says why and what to do."""

    def __init__(self, message: str | Promise):
        self.message = str(message)
        super().__init__(self.message)


class Reader(Protocol):
    """Read-only queries on one consistent state of a database (a snapshot, or a restored copy)."""

    kind: str

    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...

    def tables(self) -> list[str]: ...

    def stats(self, *, audit_upto: int | None = None, progress: bool = False) -> Stats: ...

    def key_ids(self, table: str, column: str) -> set[str]: ...


def check_name(name: str) -> str:
    """A table or column name taken from a manifest, safe to put into SQL between quotes."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BackupError(_("The manifest names a table or column that cannot be one: %(name)r") % {"name": name})
    return name


def bar(items: Iterable[T], *, enabled: bool, desc: str, total: int | None = None, unit: str = "table",
        position: int = 0) -> Iterator[T]:
    """``items`` with a progress bar on standard error (nothing when ``enabled`` is false)."""
    yield from tqdm(items, desc=desc, total=total, unit=unit, disable=not enabled, leave=False, file=sys.stderr,
                    position=position, dynamic_ncols=True)


def counter(*, enabled: bool, desc: str, total: int | None, unit: str, position: int = 0,
            unit_scale: bool = False) -> tqdm[Any]:
    return tqdm(desc=desc, total=total, unit=unit, disable=not enabled, leave=False, file=sys.stderr,
                position=position, dynamic_ncols=True, unit_scale=unit_scale)


def compare_stats(expected: Stats, found: Stats) -> list[str]:
    """The differences between two per-table statistics, one readable line each."""
    problems = []
    for table in sorted(set(expected) | set(found)):
        want, got = expected.get(table), found.get(table)
        if want is None:
            problems.append(_("%(table)s: a table the backup does not have") % {"table": table})
        elif got is None:
            problems.append(_("%(table)s: missing (%(rows)d rows in the backup)") % {"table": table, "rows": want["rows"]})
        elif want["rows"] != got["rows"]:
            problems.append(_("%(table)s: %(found)d rows, the backup has %(rows)d")
                            % {"table": table, "found": got["rows"], "rows": want["rows"]})
        elif want["checksum"] != got["checksum"]:
            problems.append(_("%(table)s: the rows differ from the backup's (checksum)") % {"table": table})
    return problems
