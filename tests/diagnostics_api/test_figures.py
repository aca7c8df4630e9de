"""Turnaround figures and reading routes: coordinators and the health commission, no patient data;
404 for everyone else."""

from __future__ import annotations

import datetime as dt
import json

from medunion.core import clock
from medunion.diagnostics.models import ReadingRoute
from tests.diagnostics.conftest import signed_ct, uploaded_ct

from .conftest import assert_problem


def test_turnaround_figures(dw, api):
    signed_ct(dw, critical=True)
    uploaded_ct(dw, body_site="chest")
    figures = api("coordinator").get("/diagnostics/figures")
    assert figures.status_code == 200, figures.content
    body = figures.json()
    assert body["consortia"] == [str(dw.world.consortium.pk)]
    [row] = body["rows"]
    assert (row["hub"], row["modality"], row["urgency"], row["sent"], row["signed"], row["waiting"]) == (
        dw.orgs["imaging_hub"].name, "CT", "urgent", 2, 1, 1)
    assert row["median_minutes"] is not None and body["total"]["sent"] == 2
    assert body["critical"] == {"raised": 1, "acknowledged": 0, "escalated": 0, "median_ack_minutes": None}
    assert body["repeats"] == {"avoided": 0, "repeated": 0}
    assert dw.patient.name not in json.dumps(body, ensure_ascii=False)
    commission = api("commission_viewer").get("/diagnostics/figures", {"consortium": str(dw.world.consortium.pk)})
    assert commission.status_code == 200 and commission.json()["total"]["sent"] == 2
    today = clock.today()
    old = api("coordinator").get("/diagnostics/figures", {"since": (today - dt.timedelta(days=400)).isoformat(),
                                                          "until": (today - dt.timedelta(days=300)).isoformat()})
    assert old.json()["rows"] == [] and old.json()["total"]["sent"] == 0
    problem = assert_problem(api("coordinator").get("/diagnostics/figures", {"since": today.isoformat(),
                                                                             "until": "2000-01-01"}), 422)
    assert "since" in problem["errors"]
    assert_problem(api("coordinator").get("/diagnostics/figures", {"since": "1700000000"}), 422)
    assert_problem(api("coordinator").get("/diagnostics/figures", {"consortium": str(dw.world.other_consortium.pk)}),
                   404)
    for persona in ("township_doctor", "hub_radiologist", "patient_a", "sysadmin", "auditadmin"):
        assert_problem(api(persona).get("/diagnostics/figures"), 404)


def test_reading_routes(dw, api):
    consortium = str(dw.world.consortium.pk)
    routes = api("coordinator").get("/reading-routes").json()
    assert {r["modality"] for r in routes} == {"CT", "DX", "MR", "US"}
    assert all(r["hub"]["id"] == str(dw.orgs["imaging_hub"].pk) for r in routes)
    assert api("township_doctor").get("/reading-routes", {"consortium": consortium}).json() == routes
    assert api("outsider").get("/reading-routes").json() == []
    assert_problem(api("outsider").get("/reading-routes", {"consortium": consortium}), 404)
    for persona in ("patient_a", "commission_viewer", "sysadmin"):
        assert_problem(api(persona).get("/reading-routes"), 404)

    body = {"consortium_id": consortium, "modality": "ECG", "hub_id": str(dw.orgs["county"].pk)}
    put = api("coordinator").put("/reading-routes", body)
    assert put.status_code == 200, put.content
    assert {r["modality"]: r["hub"]["id"] for r in put.json()}["ECG"] == str(dw.orgs["county"].pk)
    problem = assert_problem(api("coordinator").put("/reading-routes", {**body, "hub_id": str(dw.orgs["clinic_a"].pk)}),
                             422)
    assert "hub" in problem["errors"]  # a village clinic reads nothing
    assert_problem(api("coordinator").put("/reading-routes", {**body, "modality": "PET"}), 422)
    for persona in ("township_doctor", "outsider", "commission_viewer", "patient_a"):
        assert_problem(api(persona).put("/reading-routes", body), 404)
    removed = api("coordinator").put("/reading-routes", {**body, "hub_id": None})
    assert removed.status_code == 200 and "ECG" not in {r["modality"] for r in removed.json()}
    assert not ReadingRoute.objects.filter(modality="ECG").exists()
