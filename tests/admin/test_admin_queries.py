"""List pages cost a fixed number of queries, however many rows they show."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.access.actions import break_glass
from medunion.access.actor import system_actor
from medunion.accounts.actions import create_account, issue_token
from medunion.network import actions as net
from tests.admin.helpers import admin_url
from tests.world import PASSWORD

LISTS = {
    "coordinator": ["network.organisation", "network.practitioner", "network.team", "network.consortium",
                    "network.region", "network.training", "network.examresult", "network.licence",
                    "audit.auditevent", "access.breakglassgrant"],
    "secadmin": ["accounts.user", "accounts.apitoken"],
}
MAX_QUERIES = 13


def _grow(world, n: int, start: int) -> None:
    """More of everything the lists show."""
    system = system_actor("tests")
    from django.test import RequestFactory

    for i in range(start, start + n):
        org = net.create_organisation(acting=system, consortium_id=world.consortium.pk, code=f"G{i:03d}",
                                      name=f"增长卫生室{i}", tier="village_clinic", region_code="610424100201")
        p = net.create_practitioner(acting=system, name=f"医生{i}", title="resident",
                                    licence_number=f"1106104240{i:05d}", organisation_id=org.pk,
                                    specialties=["general_practice", "tcm"])
        net.create_team(acting=system, consortium_id=world.consortium.pk, name=f"团队{i}", kind="specialty",
                        organisation_id=org.pk)
        net.record_training(acting=system, practitioner_id=p.pk, consortium_id=world.consortium.pk,
                            completed_on="2026-01-01")
        net.record_exam(acting=system, practitioner_id=p.pk, consortium_id=world.consortium.pk,
                        taken_on="2026-01-02", score=80)
        net.record_licence(acting=system, practitioner_id=p.pk, number=f"LIC{i:08d}", valid_from="2025-01-01")
        user = create_account(acting=system, username=f"doctor{i}", password=PASSWORD, role="practitioner",
                              practitioner_id=p.pk)
        issue_token(RequestFactory().post("/"), username=user.username, password=PASSWORD)
        break_glass(acting=world.actor("village_doctor_b"), patient_id=world.patients["patient_a"].pk,
                    reason="Emergency at the clinic, patient unconscious")


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize("persona", sorted(LISTS))
def test_list_pages_do_not_grow_with_their_rows(world, client_for, persona):
    c = client_for(persona)
    _grow(world, 2, 0)
    small = {model: _count(c, admin_url(model)) for model in LISTS[persona]}
    _grow(world, 6, 10)
    large = {model: _count(c, admin_url(model)) for model in LISTS[persona]}
    assert large == small
    assert max(large.values()) <= MAX_QUERIES, large
