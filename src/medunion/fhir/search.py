"""FHIR search: parameter parsing, the filters each parameter type builds, paging and the
searchset Bundle.

- Repeating a parameter is AND; commas within one value are OR (``gender=male,female``).
- Unknown parameters and modifiers are a 400, unless the client sends ``Prefer: handling=lenient``.
- Paging: ``_count`` (default 20, at most 100) and ``_offset``; ``link`` carries self/next/previous.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from medunion.core import clock
from medunion.core.ids import uuid7

from .http import InvalidRequest
from .mappers.common import as_uuid, instant

COUNT_DEFAULT, COUNT_MAX = 20, 100
OFFSET_MAX = 1_000_000
CONTROL = {"_count", "_offset", "_cursor", "_format", "_pretty", "_total"}

Apply = Callable[[QuerySet[Any], list[str], str], QuerySet[Any]]


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # token | string | date | reference
    doc: Any
    apply: Apply | None = None  # None: the handler reads the values itself
    modifiers: frozenset[str] = frozenset()


@dataclass
class Criterion:
    param: Param
    modifier: str
    values: list[str]  # OR-ed


@dataclass
class SearchRequest:
    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)
    count: int = COUNT_DEFAULT
    offset: int = 0
    total: str = ""
    cursor: str = ""  # keyset continuation (types whose handler pages by key)
    link_params: list[tuple[str, str]] = field(default_factory=list)
    # Patient data: every match the answer tells about must be a resource served (and audited),
    # so no count-only answers (_count=0 is served as 1) and no total on an empty page.
    patient_data: bool = False

    def has(self, name: str) -> bool:
        return any(c.param.name == name for c in self.criteria)

    def values(self, name: str) -> list[list[str]]:
        return [c.values for c in self.criteria if c.param.name == name]

    def apply(self, qs: QuerySet[Any], skip: Iterable[str] = ()) -> QuerySet[Any]:
        skipped = set(skip)
        for c in self.criteria:
            if c.param.apply is not None and c.param.name not in skipped:
                qs = c.param.apply(qs, c.values, c.modifier)
        return qs

    def summary(self) -> dict[str, str]:
        """The filters as given, for the audit row's detail."""
        return {k: v for k, v in self.link_params}


def split_or(raw: str) -> list[str]:
    return [p.replace("\\,", ",").strip() for p in re.split(r"(?<!\\),", raw) if p.strip()]


def _int(key: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not low <= value <= high:
        raise InvalidRequest(errors={key: [str(_("Give a whole number from %(low)d to %(high)d.")
                                                 % {"low": low, "high": high})]})
    return value


def parse_search(request: HttpRequest, resource_type: str, params: dict[str, Param], *,
                 keyset: bool = False, patient_data: bool = False) -> SearchRequest:
    lenient = "handling=lenient" in request.headers.get("Prefer", "").replace(" ", "").lower()
    sr = SearchRequest(resource_type, patient_data=patient_data)
    errors: dict[str, list[str]] = {}
    for key, raw_values in request.GET.lists():
        raw = raw_values[-1] if raw_values else ""
        if key == "_count":
            # More than the maximum is served as the maximum (the server may page smaller).
            sr.count = min(_int(key, raw, 0, 10**9), COUNT_MAX)
            if patient_data:
                sr.count = max(sr.count, 1)
            continue
        if key == "_offset":
            sr.offset = _int(key, raw, 0, OFFSET_MAX)
            continue
        if key == "_cursor" and keyset:
            sr.cursor = raw
            continue
        if key == "_total":
            if raw not in ("none", "estimate", "accurate"):
                errors[key] = [str(_("Use none, estimate or accurate."))]
            sr.total = raw
            sr.link_params.append((key, raw))
            continue
        if key in CONTROL and key != "_cursor":
            continue
        name, _sep, modifier = key.partition(":")
        param = params.get(name)
        if param is None or (modifier and modifier not in param.modifiers):
            if not lenient:
                errors[key] = [str(_("This search parameter is not supported.") if param is None
                                   else _("This modifier is not supported for this parameter."))]
            continue
        for value in raw_values:
            values = split_or(value)
            if not values:
                errors[key] = [str(_("Give a value."))]
                continue
            sr.criteria.append(Criterion(param, modifier, values))
            sr.link_params.append((key, value))
    if errors:
        raise InvalidRequest(errors=errors)
    return sr


# --- value parsing ------------------------------------------------------------------------------

def token(value: str) -> tuple[str | None, str]:
    """``system|code`` → (system, code); ``|code`` → ("", code); ``code`` → (None, code)."""
    if "|" in value:
        system, code = value.split("|", 1)
        return system, code
    return None, value


def token_codes(values: list[str], system: str | None) -> list[str]:
    """The codes asked for in ``system`` (or without a system)."""
    out = []
    for v in values:
        sys, code = token(v)
        if sys is None or (system is not None and sys == system):
            out.append(code)
    return out


def reference_ids(values: list[str], types: Iterable[str]) -> list[uuid.UUID]:
    """``Type/id``, an absolute URL ending in ``Type/id``, or a bare ``id``. Other types, and
    ids that are not UUIDs, match nothing."""
    allowed = set(types)
    out = []
    for v in values:
        parts = v.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] not in allowed:
            continue
        uid = as_uuid(parts[-1])
        if uid is not None:
            out.append(uid)
    return out


_PREFIXES = {"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def _bad_date(name: str) -> InvalidRequest:
    return InvalidRequest(errors={name: [str(_("Give a date as YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+08:00, "
                                                 "optionally after a prefix (eq, ne, gt, lt, ge, le)."))]})


def date_bounds(name: str, value: str, *, dates: bool) -> tuple[str, Any, Any]:
    """(prefix, start, end) of the period the value names, end exclusive. Dates without a zone
    are in the server's time zone."""
    prefix = value[:2] if value[:2] in _PREFIXES else "eq"
    rest = value[2:] if value[:2] in _PREFIXES else value
    m = _DATE.match(rest.replace(" ", "+"))
    if not m:
        raise _bad_date(name)
    year, month, day, hour, minute, second, zone = m.groups()
    try:
        y = int(year)
        if month is None:
            start_d, end_d = dt.date(y, 1, 1), dt.date(y + 1, 1, 1)
        elif day is None:
            mo = int(month)
            start_d = dt.date(y, mo, 1)
            end_d = start_d + dt.timedelta(days=calendar.monthrange(y, mo)[1])
        else:
            start_d = dt.date(y, int(month), int(day))
            end_d = start_d + dt.timedelta(days=1)
        if hour is not None and not dates:
            tz = timezone.get_current_timezone() if zone is None else (
                dt.UTC if zone == "Z" else dt.datetime.strptime(zone.replace(":", ""), "%z").tzinfo)
            start = dt.datetime(y, int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=tz)
            return prefix, start, start + (dt.timedelta(seconds=1) if second else dt.timedelta(minutes=1))
    except (ValueError, OverflowError) as exc:
        raise _bad_date(name) from exc
    if dates:
        return prefix, start_d, end_d
    tz = timezone.get_current_timezone()
    return (prefix, dt.datetime.combine(start_d, dt.time.min, tzinfo=tz),
            dt.datetime.combine(end_d, dt.time.min, tzinfo=tz))


def date_q(name: str, field_name: str, value: str, *, dates: bool) -> Q:
    prefix, start, end = date_bounds(name, value, dates=dates)
    within = Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
    return {
        "eq": within, "ap": within, "ne": ~within,
        "gt": Q(**{f"{field_name}__gte": end}), "sa": Q(**{f"{field_name}__gte": end}),
        "lt": Q(**{f"{field_name}__lt": start}), "eb": Q(**{f"{field_name}__lt": start}),
        "ge": Q(**{f"{field_name}__gte": start}), "le": Q(**{f"{field_name}__lt": end}),
    }[prefix]


def any_of(qs: QuerySet[Any], queries: list[Q]) -> QuerySet[Any]:
    if not queries:
        return qs.none()
    combined = queries[0]
    for q in queries[1:]:
        combined |= q
    return qs.filter(combined)


# --- parameter factories -------------------------------------------------------------------------

def id_param(doc: Any = None, field_name: str = "pk") -> Param:
    def apply(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
        ids = [u for u in (as_uuid(v) for v in values) if u is not None]
        return qs.filter(**{f"{field_name}__in": ids}) if ids else qs.none()

    return Param("_id", "token", doc or _("The resource id."), apply)


def string_param(name: str, fields: list[str], doc: Any, *, default: str = "istartswith") -> Param:
    lookups = {"": default, "contains": "icontains", "exact": "exact"}

    def apply(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
        lookup = lookups[modifier]
        return any_of(qs, [Q(**{f"{f}__{lookup}": v}) for v in values for f in fields])

    return Param(name, "string", doc, apply, frozenset({"contains", "exact"}))


def token_param(name: str, field_name: str, doc: Any, *, system: str | None = None,
                transform: Callable[[str], Any] | None = None) -> Param:
    def apply(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
        found = token_codes(values, system)
        if transform:
            found = [t for t in (transform(c) for c in found) if t is not None]
        return qs.filter(**{f"{field_name}__in": found}) if found else qs.none()

    return Param(name, "token", doc, apply)


def parse_bools(name: str, values: list[str]) -> set[bool]:
    wanted = set()
    for v in values:
        code = token(v)[1].lower()
        if code not in ("true", "false"):
            raise InvalidRequest(errors={name: [str(_("Use true or false."))]})
        wanted.add(code == "true")
    return wanted


def bool_param(name: str, build: Callable[[bool], Q], doc: Any) -> Param:
    def apply(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
        return any_of(qs, [build(w) for w in parse_bools(name, values)])

    return Param(name, "token", doc, apply)


def date_param(name: str, field_name: str, doc: Any, *, dates: bool = False) -> Param:
    def apply(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
        return any_of(qs, [date_q(name, field_name, v, dates=dates) for v in values])

    return Param(name, "date", doc, apply)


def reference_param(name: str, field_name: str, types: Iterable[str], doc: Any) -> Param:
    allowed = tuple(types)

    def apply(qs: QuerySet[Any], values: list[str], modifier: str) -> QuerySet[Any]:
        ids = reference_ids(values, allowed)
        return qs.filter(**{f"{field_name}__in": ids}) if ids else qs.none()

    return Param(name, "reference", doc, apply)


# --- paging and the Bundle ----------------------------------------------------------------------

@dataclass
class SearchResult:
    resources: list[dict[str, Any]]
    total: int | None
    has_next: bool
    next_cursor: str | None = None  # keyset paging: the next link carries _cursor instead of _offset


def paginate(qs: QuerySet[Any], sr: SearchRequest, *, total_default: str = "accurate",
             whole: QuerySet[Any] | None = None) -> tuple[list[Any], int | None, bool]:
    """One page of rows (fetching one more to know whether a next page exists). The total is
    free when everything fits in the page; otherwise one COUNT unless ``_total=none``.
    ``whole`` is the full match set when ``qs`` starts after a keyset cursor."""
    counted = whole if whole is not None else qs
    return _page(qs, sr, counted.count, total_default, keyset=whole is not None)


def paginate_fetched(rows: list[Any], sr: SearchRequest) -> tuple[list[Any], int | None, bool]:
    """:func:`paginate` over a match set fetched whole (a look-up by unique keys: a handful)."""
    return _page(rows, sr, lambda: len(rows), "accurate", keyset=False)


def _page(rows: Any, sr: SearchRequest, count: Callable[[], int], total_default: str,
          *, keyset: bool) -> tuple[list[Any], int | None, bool]:
    mode = sr.total or total_default
    if sr.count == 0:
        return [], (count() if mode != "none" else None), False
    page = list(rows[sr.offset:sr.offset + sr.count + 1])
    has_next = len(page) > sr.count
    page = page[:sr.count]
    if not keyset and not has_next and (page or sr.offset == 0):
        return page, sr.offset + len(page), False
    if sr.patient_data and not page:
        return page, None, False  # past the last page: no count of patients nobody was shown
    return page, (None if mode == "none" else count()), has_next


def paginate_sources(sources: list[QuerySet[Any]], sr: SearchRequest) -> tuple[list[Any], int, bool]:
    """Page across several querysets served as one type (organisations, then consortia)."""
    counts = [qs.count() for qs in sources]
    total = sum(counts)
    rows: list[Any] = []
    offset, need = sr.offset, sr.count
    for qs, n in zip(sources, counts, strict=True):
        if need <= 0:
            break
        if offset >= n:
            offset -= n
            continue
        chunk = list(qs[offset:offset + need])
        rows.extend(chunk)
        need -= len(chunk)
        offset = 0
    return rows, total, sr.count > 0 and sr.offset + len(rows) < total


@functools.lru_cache(maxsize=8)
def _base_path(script_prefix: str) -> str:
    """The FHIR base's path under a script prefix: reversed once (reversing on every search cost
    about a tenth of an identifier search in-process), since the URLs are fixed while the server runs."""
    return reverse("fhir:metadata")[: -len("metadata")]


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(_base_path(get_script_prefix()))


def bundle(request: HttpRequest, sr: SearchRequest, result: SearchResult) -> dict[str, Any]:
    base = base_url(request)

    def link(relation: str, offset: int, cursor: str = "") -> dict[str, str]:
        query = [*sr.link_params, ("_count", str(sr.count))]
        if cursor:
            query.append(("_cursor", cursor))
        if offset:
            query.append(("_offset", str(offset)))
        return {"relation": relation, "url": f"{base}{sr.resource_type}?{urlencode(query)}"}

    links = [link("self", sr.offset, sr.cursor)]
    if result.next_cursor:
        links.append(link("next", 0, result.next_cursor))
    elif result.has_next:
        links.append(link("next", sr.offset + sr.count, sr.cursor))
    if sr.offset > 0 and sr.count > 0 and not result.next_cursor:
        links.append(link("previous", max(0, sr.offset - sr.count), sr.cursor))
    out: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid7()),
        "meta": {"lastUpdated": instant(clock.now())},
        "type": "searchset",
    }
    if result.total is not None:
        out["total"] = result.total
    out["link"] = links
    if result.resources:
        out["entry"] = [{"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": r,
                         "search": {"mode": "match"}} for r in result.resources]
    return out
