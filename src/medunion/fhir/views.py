"""The FHIR R4 views: plain Django views over the registry (no pydantic models on the serving
path). Every view goes through http.fhir_endpoint: GET only, JSON only, authenticated (except
metadata), every error an OperationOutcome."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from medunion.access.actor import Actor

from . import handlers  # noqa: F401 - registers the resource types
from .capability import capability_statement
from .http import UnknownResourceType, fhir_endpoint
from .registry import REGISTRY, ResourceType, check_area
from .search import SearchResult, bundle, parse_search


def _type(name: str) -> ResourceType:
    rt = REGISTRY.get(name)
    if rt is None:
        raise UnknownResourceType()
    return rt


@fhir_endpoint(auth=False)
def metadata(request: HttpRequest, actor: Actor | None) -> dict[str, Any]:
    return capability_statement(request)


@fhir_endpoint()
def search(request: HttpRequest, actor: Actor, resource_type: str) -> dict[str, Any]:
    rt = _type(resource_type)
    check_area(rt, actor)
    sr = parse_search(request, rt.name, rt.params, keyset=rt.keyset, patient_data=rt.patient_data)
    result: SearchResult = rt.search(actor, sr)
    return bundle(request, sr, result)


@fhir_endpoint()
def read(request: HttpRequest, actor: Actor, resource_type: str, resource_id: str) -> dict[str, Any]:
    rt = _type(resource_type)
    check_area(rt, actor)
    return rt.read(actor, resource_id)


@fhir_endpoint(auth=False)
def unsupported(request: HttpRequest, actor: Actor | None, rest: str = "") -> dict[str, Any]:
    """Anything else under /fhir/ (history, operations, unknown paths): a 404 OperationOutcome."""
    raise UnknownResourceType()
