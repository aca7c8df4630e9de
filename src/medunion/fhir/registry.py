"""The resource types served under /fhir: each with its read, its search and its search
parameters. The CapabilityStatement is generated from this registry, so it cannot drift."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from medunion.access.actor import Actor
from medunion.access.policy import Action, can
from medunion.core.errors import NotFound

from .search import Param, SearchRequest, SearchResult


@dataclass(frozen=True)
class ResourceType:
    name: str
    documentation: Any
    params: dict[str, Param]
    read: Callable[[Actor, str], dict[str, Any]]
    search: Callable[[Actor, SearchRequest], SearchResult]
    keyset: bool = False  # pages with _cursor (a log that grows while it is read)
    # Who may use this resource type at all; anyone else gets 404 (access.policy.require).
    areas: tuple[Action, ...] = ()
    patient_data: bool = False  # searches answer only with resources served (and audited)


REGISTRY: dict[str, ResourceType] = {}


def register(name: str, documentation: Any, params: list[Param],
             read: Callable[[Actor, str], dict[str, Any]],
             search: Callable[[Actor, SearchRequest], SearchResult], *, keyset: bool = False,
             areas: tuple[Action, ...] = (), patient_data: bool = False) -> ResourceType:
    rt = ResourceType(name, documentation, {p.name: p for p in params}, read, search, keyset, areas, patient_data)
    REGISTRY[name] = rt
    return rt


def check_area(rt: ResourceType, actor: Actor) -> None:
    if rt.areas and not any(can(actor, a) for a in rt.areas):
        raise NotFound()
