"""The coordinator's diagnosis pages: turnaround figures checked against a known set of signed
examinations on a frozen clock (by hub, modality and urgency; totals; critical findings; avoided
repeats), the period and consortium filters, who may see them; the reading routes page and the
action behind it (policy, membership and tier of the hub, audit)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from medunion.access.actor import system_actor
from medunion.accounts.actions import create_account
from medunion.audit.models import AuditEvent
from medunion.core import clock
from medunion.core.errors import NotFound, ValidationFailed
from medunion.diagnostics.actions import create_examination, use_recent_report
from medunion.diagnostics.actions_reading import acknowledge_critical, claim, sign
from medunion.diagnostics.actions_routes import set_reading_route
from medunion.diagnostics.models import CriticalFinding, ReadingRoute
from medunion.diagnostics.validation import ExaminationInput, ReportInput
from medunion.diagnostics.worker import escalate_critical
from tests.diagnostics.conftest import uploaded_ct
from tests.world import PASSWORD

from .conftest import client, page

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai


def read(dw, minutes: int, *, urgency: str, site: str, critical: bool = False):
    """An examination sent now and signed ``minutes`` later (the clock moves on by that much)."""
    exam = uploaded_ct(dw, slices=1, urgency=urgency, body_site=site)
    reader = dw.actor("hub_radiologist")
    claim(acting=reader, examination_id=exam.pk)
    clock.advance(dt.timedelta(minutes=minutes))
    sign(acting=reader, examination_id=exam.pk, data=ReportInput(
        findings="所见", impression="印象", critical=critical, critical_note="危急" if critical else ""))
    return exam


def known_figures(dw) -> None:
    """Urgent CT: signed after 30, 60 and 120 minutes; emergency CT: 15 minutes (critical,
    acknowledged 12 minutes later); routine CT: still waiting; a second critical finding
    unacknowledged and escalated; one repeat avoided, one examined again anyway."""
    first = read(dw, 30, urgency="urgent", site="head")
    read(dw, 60, urgency="urgent", site="chest")
    read(dw, 120, urgency="urgent", site="abdomen")
    emergency = read(dw, 15, urgency="emergency", site="neck", critical=True)
    clock.advance(dt.timedelta(minutes=12))
    finding = CriticalFinding.objects.get(examination=emergency)
    acknowledge_critical(acting=dw.actor("township_doctor"), finding_id=finding.pk)
    read(dw, 5, urgency="urgent", site="spine", critical=True)  # the 5 minutes count too
    uploaded_ct(dw, slices=1, urgency="routine", body_site="pelvis")
    clock.advance(dt.timedelta(minutes=30))
    escalate_critical()
    use_recent_report(acting=dw.actor("county_doctor"), examination_id=first.pk)
    create_examination(acting=dw.actor("county_doctor"), data=ExaminationInput(
        patient_id=dw.patient.pk, modality="CT", body_site="head", question="复查", repeat_reason="病情变化"))


def cell(body: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', body)
    assert match, testid
    return match.group(1).strip()


def row(body: str, key: str) -> list[str]:
    match = re.search(rf'<tr data-row="{key}">(.*?)</tr>', body, re.S)
    assert match, key
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(1), re.S)]


def test_turnaround_figures_from_a_known_set_of_examinations(dw):
    with clock.frozen(START):
        known_figures(dw)
        body = page(client("coordinator").get("/network/diagnostics"))
    # (hub, modality, urgency, sent, signed, waiting, median, 90th percentile)
    assert row(body, "CT-emergency") == ["乾县影像诊断中心", "CT", "emergency", "1", "1", "0", "15 min", "15 min"]
    # Urgent: 30, 60, 120 and 5 minutes: median 45, 90th percentile 60 + (120 - 60) × 0.7 = 102.
    assert row(body, "CT-urgent") == ["乾县影像诊断中心", "CT", "urgent", "4", "4", "0", "45 min", "1 h 42 min"]
    assert row(body, "CT-routine") == ["乾县影像诊断中心", "CT", "routine", "1", "0", "1", "—", "—"]
    assert (cell(body, "total-sent"), cell(body, "total-signed"), cell(body, "total-waiting")) == ("6", "5", "1")
    # All five signed: 5, 15, 30, 60, 120 → median 30, 90th percentile 60 + 60 × 0.6 = 96.
    assert (cell(body, "total-median"), cell(body, "total-p90")) == ("30 min", "1 h 36 min")
    assert 'data-testid="total-p90" data-minutes="96.0"' in body
    assert [cell(body, f"critical-{k}") for k in ("raised", "acknowledged", "escalated", "median")] == \
        ["2", "1", "1", "12 min"]
    assert (cell(body, "repeats-avoided"), cell(body, "repeats-repeated")) == ("1", "1")
    assert "陈桂芳" not in body  # figures, no patient data


def test_the_period_and_consortium_filters(dw):
    with clock.frozen(START):
        known_figures(dw)
        coordinator = client("coordinator")
        later = page(coordinator.get("/network/diagnostics?since=2026-03-03"))
        assert cell(later, "total-sent") == "0" and "No examinations were sent" in later
        same_day = page(coordinator.get(f"/network/diagnostics?since=2026-03-02&until=2026-03-02"
                                        f"&consortium={dw.world.consortium.pk}"))
        assert cell(same_day, "total-sent") == "6"
        backwards = coordinator.get("/network/diagnostics?since=2026-03-05&until=2026-03-01")
        assert backwards.status_code == 200 and "The start date is after the end date." in backwards.content.decode()
        # Another consortium's figures are not there at all.
        assert coordinator.get(f"/network/diagnostics?consortium={dw.world.other_consortium.pk}").status_code == 404
        viewer = page(client("commission_viewer").get("/network/diagnostics"))
        assert cell(viewer, "total-sent") == "6"
    for persona in ("hub_radiologist", "township_doctor", "patient_a", "auditadmin"):
        assert client(persona).get("/network/diagnostics").status_code == 404, persona


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_the_coordinator_pages_render_in_both_languages(dw, lang):
    from django.utils import translation

    with translation.override(lang):
        title, routes = translation.gettext("Diagnostic turnaround"), translation.gettext("Reading routes")
    coordinator = client("coordinator", lang)
    figures = page(coordinator.get("/network/diagnostics"))
    assert title in figures and 'href="/network/diagnostics/routes"' in figures
    assert routes in page(coordinator.get("/network/diagnostics/routes"))
    assert 'href="/network/diagnostics"' in page(client("commission_viewer", lang).get("/"))


def test_the_routes_page_shows_and_changes_which_hub_reads(dw):
    coordinator = client("coordinator")
    body = page(coordinator.get("/network/diagnostics/routes"))
    ct = re.search(r'<li class="route-row" data-modality="CT">.*?</li>', body, re.S).group(0)
    assert "乾县影像诊断中心" in ct and "乾县人民医院" in ct  # the hub now, and a hospital that may read
    assert "东村卫生室" not in body  # a village clinic reads nothing
    county = dw.orgs["county"]
    url = f"/network/diagnostics/routes/{dw.world.consortium.pk}"
    changed = coordinator.post(url, {"modality": "ECG", "hub": str(county.pk)}, follow=True)
    assert "ECG is read at 乾县人民医院." in changed.content.decode()
    assert ReadingRoute.objects.get(consortium=dw.world.consortium, modality="ECG").hub_id == county.pk
    refused = coordinator.post(url, {"modality": "ECG", "hub": str(dw.orgs["clinic_a"].pk)}, follow=True)
    assert "must be a diagnostic hub or hospital of this consortium" in refused.content.decode()
    assert ReadingRoute.objects.get(consortium=dw.world.consortium, modality="ECG").hub_id == county.pk
    removed = coordinator.post(url, {"modality": "ECG", "hub": ""}, follow=True)
    assert "ECG: no reading hub now." in removed.content.decode()
    assert not ReadingRoute.objects.filter(consortium=dw.world.consortium, modality="ECG").exists()
    assert coordinator.post(url, {"modality": "XR", "hub": ""}).status_code == 302
    for persona in ("commission_viewer", "hub_radiologist", "auditadmin"):
        assert client(persona).get("/network/diagnostics/routes").status_code == 404, persona
        assert client(persona).post(url, {"modality": "CT", "hub": ""}).status_code == 404, persona
    assert ReadingRoute.objects.filter(consortium=dw.world.consortium, modality="CT").exists()


def test_set_reading_route_checks_the_policy_the_hub_and_audits(dw):
    system = system_actor("tests")
    coordinator = dw.actor("coordinator")
    consortium = dw.world.consortium
    tertiary = dw.orgs["tertiary"]
    route = set_reading_route(acting=coordinator, consortium_id=consortium.pk, modality="SM", hub_id=tertiary.pk)
    assert route is not None and route.hub_id == tertiary.pk
    again = set_reading_route(acting=coordinator, consortium_id=consortium.pk, modality="SM", hub_id=tertiary.pk)
    assert again.pk == route.pk  # unchanged: no second row, no second audit row
    moved = set_reading_route(acting=coordinator, consortium_id=consortium.pk, modality="SM",
                              hub_id=dw.orgs["imaging_hub"].pk)
    assert moved.pk == route.pk and moved.hub_id == dw.orgs["imaging_hub"].pk
    assert set_reading_route(acting=coordinator, consortium_id=consortium.pk, modality="SM") is None
    actions = list(AuditEvent.objects.filter(action__startswith="reading_route.").order_by("seq")
                   .values_list("action", "detail"))
    assert [a for a, _d in actions] == ["reading_route.create", "reading_route.update", "reading_route.delete"]
    assert actions[1][1] == {"modality": "SM", "hub": str(dw.orgs["imaging_hub"].pk), "previous": str(tertiary.pk)}
    with pytest.raises(ValidationFailed) as bad:
        set_reading_route(acting=coordinator, consortium_id=consortium.pk, modality="PET", hub_id=tertiary.pk)
    assert bad.value.field == "modality"
    for hub in (dw.orgs["township"].pk, dw.orgs["other"].pk, "not-a-uuid"):  # wrong tier, other consortium, junk
        with pytest.raises(ValidationFailed) as bad:
            set_reading_route(acting=coordinator, consortium_id=consortium.pk, modality="SM", hub_id=hub)
        assert bad.value.field == "hub"
    other = create_account(acting=system, username="coordinator_other", password=PASSWORD, role="coordinator",
                           display_name="外县协调员", consortium_ids=[dw.world.other_consortium.pk])
    dw.world.users["coordinator_other"] = other
    for persona in ("coordinator_other", "hub_radiologist", "commission_viewer"):
        with pytest.raises(NotFound):
            set_reading_route(acting=dw.actor(persona), consortium_id=consortium.pk, modality="CT")
    with pytest.raises(NotFound):
        set_reading_route(acting=coordinator, consortium_id="00000000-0000-0000-0000-000000000000", modality="CT")
    assert ReadingRoute.objects.filter(consortium=consortium, modality="CT").exists()
    assert AuditEvent.objects.filter(action__startswith="reading_route.").count() == 3
