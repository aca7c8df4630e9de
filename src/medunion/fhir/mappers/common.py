"""Small builders shared by the mappers. Mappers build plain dicts (fast); the tests validate
what they build against the fhir.resources R4B models."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

from medunion.core.statements import Statement
from medunion.network.models import Region

from .. import codes

_CJK = re.compile(r"^[\u3400-\u9fff\uf900-\ufaff·]+$")
# The common two-character (compound) surnames.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 端木 独孤 南宫 西门 百里 呼延 "
    "赫连 澹台 公冶 宗政 濮阳 太史 申屠 钟离 闻人 万俟 仲孙 单于 拓跋 司空 左丘 东郭 第五".split())


def ref(resource_type: str, pk: Any, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"reference": f"{resource_type}/{pk}"}
    if display:
        out["display"] = display
    return out


def instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def meta(updated: dt.datetime | None) -> dict[str, Any]:
    return {"lastUpdated": instant(updated)} if updated else {}


def coding(system: str, code: str, display: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"system": system, "code": code}
    if display:
        out["display"] = str(display)
    return out


def concept(system: str, code: str, display: Any = None, text: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text or display:
        out["text"] = str(text or display)
    return out


def human_name(name: str) -> dict[str, Any]:
    """A Chinese name: text, and family/given split (the first character is the family name,
    or the first two for a compound surname). Names in Latin letters split on spaces."""
    name = (name or "").strip()
    out: dict[str, Any] = {"use": "official", "text": name}
    if _CJK.match(name) and 2 <= len(name) <= 4 and "·" not in name:
        family_len = 2 if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES else 1
        out["family"], out["given"] = name[:family_len], [name[family_len:]]
    elif " " in name:
        *given, family = name.split()
        out["family"], out["given"] = family, given
    return out


def phone_telecom(phone: str, use: str) -> dict[str, Any]:
    digits = re.sub(r"\D", "", phone)
    if use != "work" and re.fullmatch(r"(?:86)?1[3-9]\d{9}", digits):
        use = "mobile"
    return {"system": "phone", "value": phone, "use": use}


# --- regions: the address chain from the 12-digit division code ---------------------------------

_LEVEL_DIGITS = (2, 4, 6, 9, 12)


def _ancestor_codes(code: str) -> list[str]:
    out = []
    for digits in _LEVEL_DIGITS:
        candidate = code[:digits].ljust(12, "0")
        if candidate not in out:
            out.append(candidate)
        if candidate == code:
            break
    if code not in out:
        out.append(code)
    return out


class Division(NamedTuple):
    """What an address shows of a region."""

    code: str
    name: str
    level: int


_REGIONS = Statement(lambda codes: Region.objects.filter(code__in=codes).values_list("code", "name", "level"))


def region_chains(region_codes: Iterable[str | None]) -> dict[str, list[Division]]:
    """For each division code, its regions from the province down: one query for all of them."""
    wanted = {c for c in region_codes if c}
    if not wanted:
        return {}
    needed = {a for c in wanted for a in _ancestor_codes(c)}
    known = {code: Division(code, name, level) for code, name, level in _REGIONS.all(sorted(needed))}
    return {c: sorted((known[a] for a in _ancestor_codes(c) if a in known), key=lambda r: r.level)
            for c in wanted}


def address(chain: list[Division], street: str = "", *, use: str | None = None) -> dict[str, Any] | None:
    """Province → state, city → city, county → district, township and village → lines."""
    if not chain and not street:
        return None
    out: dict[str, Any] = {}
    if use:
        out["use"] = use
    out["text"] = "".join(r.name for r in chain) + street
    lines = [r.name for r in chain if r.level >= 4]
    if street:
        lines.append(street)
    if lines:
        out["line"] = lines
    for region in chain:
        key = {1: "state", 2: "city", 3: "district"}.get(region.level)
        if key:
            out[key] = region.name
    if chain:
        out["country"] = "CN"
        out["extension"] = [{"url": codes.EXT_DIVISION_CODE, "valueCode": chain[-1].code}]
    return out


def as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None
