"""GET /fhir/metadata: the CapabilityStatement, generated from the registry."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _

import medunion

from .registry import REGISTRY
from .search import COUNT_DEFAULT, COUNT_MAX, base_url

RELEASED = "2026-01-01"


def capability_statement(request: HttpRequest) -> dict[str, Any]:
    resources = []
    for rt in REGISTRY.values():
        resources.append({
            "type": rt.name,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{rt.name}",
            "documentation": str(rt.documentation),
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "versioning": "no-version",
            "readHistory": False,
            "updateCreate": False,
            "conditionalCreate": False,
            "conditionalRead": "not-supported",
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchParam": [{"name": p.name, "type": p.type, "documentation": str(p.doc)}
                            for p in rt.params.values()],
        })
    version = getattr(medunion, "__version__", "0.1.0")
    return {
        "resourceType": "CapabilityStatement",
        "id": "medunion",
        "name": "MedUnion",
        "title": _("MedUnion FHIR R4 interface"),
        "status": "active",
        "experimental": False,
        "date": RELEASED,
        "publisher": "MedUnion",
        "description": _("Read and search of the consortium network, patients, consents, teleconsultations, "
                         "referrals, remote diagnosis and the audit log. Read-only; JSON only."),
        "kind": "instance",
        "software": {"name": "MedUnion", "version": version},
        "implementation": {"description": _("MedUnion FHIR R4 interface"), "url": base_url(request).rstrip("/")},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": _("Paging: _count (default %(default)d, at most %(max)d) and _offset; the Bundle's "
                               "next link carries them. Unknown search parameters are refused with 400 unless "
                               "the request says Prefer: handling=lenient. Errors are OperationOutcome.")
            % {"default": COUNT_DEFAULT, "max": COUNT_MAX},
            "security": {
                "cors": False,
                "service": [{"text": "Bearer token"}],
                "description": _("Send Authorization: Bearer <token>, the token from POST /api/v1/auth/token (the "
                                 "JSON API), or use the signed-in web session. Everything is scoped by the same "
                                 "access policy as the pages and the API; what the caller may not see is a 404."),
            },
            "resource": resources,
        }],
    }
