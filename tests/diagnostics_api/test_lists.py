"""The lists and the examination view: what is in each, paging, one audit row per examination
shown, and a number of queries that does not grow with the rows (PostgreSQL: one more, the audit
chain's lock)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.audit.models import AuditEvent
from tests.diagnostics.conftest import signed_ct, uploaded_ct
from tests.pins import AS_WRITTEN, AUDIT

from .conftest import assert_problem, request_ct

LIST_QUERIES = 10
VIEW_QUERIES = 18
SITES = ["head", "neck", "chest", "heart", "breast", "abdomen", "liver", "pelvis", "spine", "upper_limb",
         "lower_limb", "thyroid"]


def bound(n: int) -> int:
    return n + AUDIT


def queries_of(client: Any, path: str, params: dict[str, Any] | None = None) -> tuple[Any, int]:
    client.get(path, params)  # the token's first use of the minute is recorded: not the list's cost
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params)
    assert response.status_code == 200, response.content
    return response.json(), len(ctx.captured_queries)


def test_lists_hold_what_they_say(dw, api):
    draft = request_ct(api, dw, body_site="neck")["summary"]["id"]
    waiting = str(uploaded_ct(dw, body_site="chest").pk)
    reported = str(signed_ct(dw, body_site="head").pk)
    doctor, reader = api("township_doctor"), api("hub_radiologist")
    ids = lambda body: [i["id"] for i in body["items"]]  # noqa: E731
    assert set(ids(doctor.get("/examinations", {"list": "requested"}).json())) == {draft, waiting}
    assert ids(doctor.get("/examinations", {"list": "reported"}).json()) == [reported]
    assert ids(reader.get("/examinations", {"list": "worklist"}).json()) == [waiting]
    assert ids(reader.get("/examinations", {"list": "mine"}).json()) == []
    assert ids(doctor.get("/examinations", {"list": "requested", "state": "draft"}).json()) == [draft]
    assert ids(doctor.get("/examinations", {"modality": "MR"}).json()) == []
    assert set(ids(doctor.get("/examinations").json())) == {draft, waiting, reported}
    # Recognised region-wide: the care team's county doctor sees the signed one, not the others in the all-list
    # beyond what the care team sees.
    assert reported in ids(api("county_doctor").get("/examinations").json())
    assert ids(api("village_doctor_b").get("/examinations").json()) == []
    assert api("hub_radiologist").get("/examinations/counts").json() == {"worklist": 1, "mine": 0, "critical": 0}
    assert api("township_doctor").get("/examinations/counts").json() == {"worklist": None, "mine": None,
                                                                         "critical": 0}
    assert_problem(doctor.get("/examinations", {"list": "everything"}), 422)
    assert_problem(doctor.get("/examinations", {"limit": 0}), 422)


def test_paging_and_audit(dw, api):
    made = [request_ct(api, dw, body_site=site)["summary"]["id"] for site in SITES[:5]]
    doctor = api("township_doctor")
    before = AuditEvent.objects.filter(action="examination.list").count()
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        body = doctor.get("/examinations", {"list": "requested", "limit": 2, "offset": offset}).json()
        seen += [i["id"] for i in body["items"]]
        offset = body["next_offset"]
    assert seen == list(reversed(made))
    assert AuditEvent.objects.filter(action="examination.list").count() == before + 5


def test_list_queries_do_not_grow_with_the_rows(dw, api):
    doctor, reader, patient = api("township_doctor"), api("hub_radiologist"), api("patient_a")
    for site in SITES[:2]:
        signed_ct(dw, body_site=site, critical=True)
    uploaded_ct(dw, body_site=SITES[2])
    cases = ((doctor, {"list": "requested"}), (doctor, {"list": "reported"}), (doctor, {}),
             (reader, {"list": "worklist"}), (patient, {}))
    small = {}
    for who, params in cases:
        body, small[str(params) + str(id(who))] = queries_of(who, "/examinations", params)
    crit, crit_small = queries_of(doctor, "/critical-findings")
    for site in SITES[3:7]:
        signed_ct(dw, body_site=site, critical=True)
    for site in SITES[7:10]:
        uploaded_ct(dw, body_site=site)
    for who, params in cases:
        body, n = queries_of(who, "/examinations", params)
        assert len(body["items"]) >= 4, params
        assert n == small[str(params) + str(id(who))] <= bound(LIST_QUERIES) + AS_WRITTEN, (params, n)
    body, n = queries_of(doctor, "/critical-findings")
    assert len(body["items"]) == 6 and n == crit_small <= bound(LIST_QUERIES) + AS_WRITTEN


def test_the_view_is_bounded(dw, api):
    from medunion.diagnostics.actions_reading import add_addendum

    small = signed_ct(dw, critical=True)
    doctor = api("township_doctor")
    _body, before = queries_of(doctor, f"/examinations/{small.pk}")
    big = signed_ct(dw, body_site="chest", critical=True, slices=8)
    for i in range(3):
        add_addendum(acting=dw.actor("hub_radiologist"), examination_id=big.pk, text=f"补充{i}")
    body, after = queries_of(doctor, f"/examinations/{big.pk}")
    assert len(body["clinical"]["series"][0]["instances"]) == 8 and len(body["reports"]) == 4
    assert after == before <= bound(VIEW_QUERIES) + AS_WRITTEN, (before, after)  # the load: core.planner
