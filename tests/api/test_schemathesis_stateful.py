"""Stateful conformance of /api/v1: sequences of calls that follow the document's OpenAPI links
(src/medunion/core/openapi_links.py) — a patient registered, a consultation asked about them,
claimed and answered by the specialist, a message corrected; a referral accepted; an examination
reported — with every check, including the stateful ones (a resource just created is found, a
deleted one is gone).

Each step is called by the persona whose work it is (tests/api/schemathesis_owners.py). Every
scenario runs in a savepoint that is rolled back at its end, so one scenario's deactivated account
or revoked token does not leak into the next. Bounded and repeatable (derandomized, no example
database) so that it adds seconds, not minutes, to the suite.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, ClassVar

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS

from medunion.api import api
from tests.api.conftest import issue_token
from tests.api.test_schemathesis import KNOWN_GAPS, InTestTransaction, persona_for

# The case work (the administrative areas are covered call by call in test_schemathesis.py and, in
# sequences, by the HTTP drill scripts/faults/schemathesis_http.py), so the few scenarios the suite
# can afford go to consultations, referrals and examinations.
CASE_WORK = r"^/api/v1/(consults|referrals|examinations|critical-findings|patients|files|notifications)"
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(api.get_openapi_schema()))).include(
    path_regex=CASE_WORK)
schema.app = InTestTransaction()
schema.config.checks.update(included_check_names=["all"])
schema.config.checks.positive_data_acceptance.expected_statuses = ["2xx", "401", "403", "404", "409", "422",
                                                                   "429"]
schema.config.generation.update(database="none")
# The document's own links only: schemathesis's inference pairs ids by name and shape, and for this
# API it mostly pairs the wrong ones (a referral's id from its attachments' ids).
schema.config.phases.stateful.inference.algorithms = []


class Workflow(schema.as_state_machine()):  # type: ignore[misc]
    tokens: ClassVar[dict[str, str]] = {}
    patient_id: ClassVar[str] = ""
    answered: ClassVar[Counter[tuple[str, int]]] = Counter()

    def setup(self) -> None:
        self._savepoint = transaction.savepoint()

    def teardown(self) -> None:
        transaction.savepoint_rollback(self._savepoint)

    def after_call(self, response: Any, case: Any) -> None:
        super().after_call(response, case)
        Workflow.answered[(case.operation.label, response.status_code)] += 1

    def step(self, input: Any) -> Any:
        case = input.case
        if input.transition is None and case.meta is not None and case.meta.generation.mode.is_positive:
            # A first step about a patient is mostly about one in the clinician's care.
            if "patient_id" in (case.path_parameters or {}):
                case.path_parameters["patient_id"] = self.patient_id
            if isinstance(case.body, dict) and "patient_id" in case.body:
                case.body["patient_id"] = self.patient_id
        return super().step(input)

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        persona = persona_for(case.operation.method, case.operation.path)
        token = self.tokens[persona] if case.operation.label != "DELETE /api/v1/auth/token" \
            else issue_token("village_doctor_a")  # it revokes the token it is given
        return {"headers": {"Authorization": f"Bearer {token}"}}

    def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
        gap = KNOWN_GAPS.get(case.operation.label)
        excluded = [CHECKS.get_one(gap[0])] if gap else None
        case.validate_response(response, additional_checks=additional_checks, excluded_checks=excluded,
                               headers=kwargs.get("headers"), transport_kwargs=kwargs or None,
                               recorder=self.recorder)


def test_the_document_links_creates_to_what_takes_their_ids():
    links = {name for item in schema.raw_schema["paths"].values() for op in item.values()
             for answer in op["responses"].values() for name in answer.get("links", {})}
    assert {"medunion_consults_api_claim", "medunion_consults_api_correct", "medunion_referrals_api_accept",
            "medunion_diagnostics_api_sign", "medunion_consults_api_create",
            "medunion_network_api_revoke_licence"} <= links


def seed_cases(world: Any) -> None:
    """A case of each kind waiting for the other side, so the lists hand their ids on: a
    consultation in the pool, an upward referral to the tertiary cardiology department, a CT sent
    for reading and a signed CT with a critical finding."""
    from medunion.network.models import Department, PracticeSite
    from tests.consults.conftest import ConsultWorld, ask
    from tests.diagnostics.conftest import build_diagnosis_world, signed_ct, uploaded_ct
    from tests.referrals.conftest import ReferralWorld, grant, refer_up

    ask(ConsultWorld(world=world, team=None))
    cardiology = Department.objects.get(organisation=world.orgs["tertiary"], code="CARD")
    rw = ReferralWorld(world=world, cardiology=cardiology, internal=None)
    PracticeSite.objects.filter(practitioner_id=rw.pid("cardiologist_tertiary")).update(department=cardiology)
    grant(world, rw.pid("village_doctor_a"))
    refer_up(rw)
    dw = build_diagnosis_world(world)
    uploaded_ct(dw, persona="village_doctor_a")
    signed_ct(dw, critical=True, persona="village_doctor_a")


@pytest.fixture
def file_root(settings, tmp_path) -> Any:
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage",
                                      "OPTIONS": {"root": str(tmp_path / "files")}}


def test_the_api_conforms_to_its_schema_across_calls(world, file_root):
    seed_cases(world)
    Workflow.tokens = {persona: issue_token(persona) for persona in
                       {persona_for(op.method, op.path) for op in (r.ok() for r in schema.get_all_operations())}}
    Workflow.patient_id = str(world.patients["patient_a"].pk)
    Workflow.answered.clear()
    # Derandomized, yet the draws still move with the code: Hypothesis also draws strings from the
    # constants of the project's own modules that are loaded (so from which tests ran before, too).
    # At 30 scenarios the links followed were 3, then 2 after a module gained a few literals; 60
    # gave 5 alone and 6 in the full suite.
    Workflow.run(settings=settings(max_examples=60, stateful_step_count=8, deadline=None, database=None,
                                   derandomize=True, suppress_health_check=list(HealthCheck)))
    # The links carried ids: operations on an object named in the path succeeded.
    followed = {label for (label, status), _n in Workflow.answered.items() if "{" in label and status < 300}
    assert len(followed) >= 3, sorted(Workflow.answered.items())
