"""The OpenAPI document names each schema once: two schemas of the same class name in different
modules would be merged into one component, and one endpoint would be documented (and checked by
schemathesis) with the other's shape."""

from __future__ import annotations

from ninja import Schema


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


def test_every_api_schema_name_is_used_once() -> None:
    import medunion.api  # noqa: F401 - registers every router, importing their schemas

    where: dict[str, set[str]] = {}
    for cls in _subclasses(Schema):
        if cls.__module__.startswith("medunion."):
            where.setdefault(cls.__name__, set()).add(cls.__module__)
    clashes = {name: sorted(mods) for name, mods in where.items() if len(mods) > 1}
    assert clashes == {}
