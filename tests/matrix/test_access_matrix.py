"""The generated access matrix: every endpoint × persona × relationship → allowed, 403 or 404.

The table is tests/matrix/spec.py. `test_every_endpoint_is_in_the_matrix` fails when a route is
added to any surface without a row here, so nothing new ships unchecked.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from .conftest import PERSONAS, MatrixWorld, send
from .spec import ENDPOINTS, Endpoint

pytestmark = pytest.mark.django_db

STAFF_CSV = "name,licence_number,organisation_code,title\n李医生,V610424000111,V001,village_doctor\n".encode()


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        if value.startswith("@"):
            return SimpleUploadedFile(value[1:], STAFF_CSV, content_type="text/csv")
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def outcome(endpoint: Endpoint, response: Any) -> str:
    status = response.status_code
    if status == 401:
        return "login"
    if status in (301, 302) and "/login" in response.get("Location", ""):
        return "login"
    if status in (403, 404):
        return str(status)
    if status >= 500:
        return f"error {status}"
    return "ok"


def expected(endpoint: Endpoint, persona: str) -> str:
    if persona == "anonymous":
        return "ok" if endpoint.public else "login"
    if endpoint.public:
        return "ok"
    if persona in endpoint.ok or endpoint.public:
        return "ok"
    if persona in endpoint.forbidden:
        return "403"
    return "404"


def request(matrix: MatrixWorld, endpoint: Endpoint, persona: str, inspect: Any = None) -> Any:
    path = endpoint.path.format(**matrix.ids)
    client = matrix.api_client(persona) if endpoint.surface in ("api", "fhir") else matrix.page_client(persona)
    return send(client, endpoint.method, path, _fill(endpoint.body, matrix.ids), form=endpoint.form, inspect=inspect)


def _audit_rows(patient_id: str) -> Counter[str]:
    from medunion.audit.models import AuditEvent

    return Counter(AuditEvent.objects.filter(patient_id=patient_id).values_list("outcome", flat=True))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.key)
def test_access(matrix: MatrixWorld, endpoint: Endpoint) -> None:
    wrong = []
    pid = matrix.ids["patient"]
    for persona in PERSONAS:
        before = _audit_rows(pid)
        audited: Counter[str] = Counter()

        def count(response: Any, audited: Counter[str] = audited, before: Counter[str] = before) -> None:
            audited.update(_audit_rows(pid) - before)

        response = request(matrix, endpoint, persona, inspect=count if endpoint.reads_patient else None)
        got, want = outcome(endpoint, response), expected(endpoint, persona)
        if endpoint.reads_patient and want == "ok" and audited != Counter(success=1):
            wrong.append(f"{persona}: expected one audit row of the read, got {dict(audited)}")
        if endpoint.reads_patient and want != "ok" and (audited["success"] or audited["denied"] > 1):
            wrong.append(f"{persona}: a refused read must leave no successful row, got {dict(audited)}")
        if endpoint.public and got == "login":
            got = "ok"  # signing out lands on the sign-in page: that is its answer
        if got != want:
            wrong.append(f"{persona} ({PERSONAS[persona]}): expected {want}, got {got} [{response.status_code}]")
    if os.environ.get("MEDUNION_MATRIX_REPORT") and wrong:
        with open(os.environ["MEDUNION_MATRIX_REPORT"], "a", encoding="utf-8") as out:
            out.write(endpoint.key + "\n  " + "\n  ".join(wrong) + "\n")
    assert not wrong, endpoint.key + "\n" + "\n".join(wrong)


# --- completeness --------------------------------------------------------------------------

def _normalise(path: str) -> str:
    path = path.split("?")[0]
    path = re.sub(r"\{[a-z_]+\}|<[^>]+>", "{}", path)
    return re.sub(r"pt-\{\}", "{}", path)


def _covered() -> set[str]:
    return {f"{e.method.upper()} {_normalise(e.path)}" for e in ENDPOINTS}


def test_every_api_operation_is_in_the_matrix() -> None:
    from medunion.api import api

    schema = api.get_openapi_schema()
    operations = {f"{method.upper()} {_normalise(path)}" for path, item in schema["paths"].items() for method in item}
    missing = sorted(operations - _covered())
    assert not missing, f"API operations without a row in tests/matrix/spec.py: {missing}"


def test_every_page_is_in_the_matrix() -> None:
    from django.urls import get_resolver

    skip = ("api/", "admin/", "fhir/", "i18n/", "healthz", "login/code")
    routes: set[str] = set()

    def walk(patterns: Any, prefix: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if route.startswith(skip):
                continue
            if hasattr(p, "url_patterns"):
                walk(p.url_patterns, route)
            else:
                routes.add(_normalise("/" + route))

    walk(get_resolver().url_patterns, "")
    covered = {_normalise(e.path) for e in ENDPOINTS if e.surface == "page"}
    assert not sorted(routes - covered), f"pages without a row in tests/matrix/spec.py: {sorted(routes - covered)}"


def test_every_fhir_resource_type_is_in_the_matrix() -> None:
    from medunion.fhir.registry import REGISTRY

    covered = {_normalise(e.path) for e in ENDPOINTS if e.surface == "fhir"}
    for resource_type in REGISTRY:
        assert f"/fhir/{resource_type}" in covered, resource_type
        assert f"/fhir/{resource_type}/{{}}" in covered, resource_type


def test_every_admin_model_is_in_the_matrix() -> None:
    from medunion.web.admin_site import site

    covered = {_normalise(e.path) for e in ENDPOINTS if e.surface == "admin"}
    for model in site._registry:
        meta = model._meta
        assert f"/admin/{meta.app_label}/{meta.model_name}/" in covered, meta.label
