import pytest

from medunion.access.loaders import access_consult
from medunion.access.policy import Action, can, consult_roles, visible_consults
from medunion.audit.models import AuditEvent
from medunion.consults import actions
from medunion.consults.models import Consult
from medunion.consults.routing import eligible_for
from medunion.consults.states import Role
from medunion.core.errors import NotFound
from medunion.network.models import Practitioner
from medunion.patients.actions import add_to_care_team
from tests.consults.conftest import add_practitioner, ask

PERSONAS = ("village_doctor_a", "village_doctor_b", "cardiologist_tertiary", "cardiologist_b",
            "county_cardiologist", "oncologist", "hub_radiologist", "outsider", "coordinator", "coordinator_b",
            "patient_a", "commission_viewer", "sysadmin", "secadmin", "auditadmin")


def _cases(cw):
    pool = ask(cw)
    team = ask(cw, target_kind="team", target_team_id=cw.team.pk)
    named = ask(cw, target_kind="practitioner", target_practitioner_id=cw.pid("county_cardiologist"))
    claimed = ask(cw)
    actions.claim_consult(acting=cw.actor("county_cardiologist"), consult_id=claimed.pk)
    declined = ask(cw, patient_id=None, vitals={})
    actions.claim_consult(acting=cw.actor("cardiologist_b"), consult_id=declined.pk)
    actions.decline_consult(acting=cw.actor("cardiologist_b"), consult_id=declined.pk, reason="忙")
    return {"pool": pool, "team": team, "named": named, "claimed": claimed, "declined": declined}


def test_visible_consults_and_can_view_agree_for_everyone(cw):
    cases = _cases(cw)
    for persona in PERSONAS:
        actor = cw.actor(persona)
        listed = set(visible_consults(actor).values_list("pk", flat=True))
        decided = {c.pk for c in Consult.objects.all() if can(actor, Action.VIEW_CONSULT, c)}
        assert listed == decided, persona
    seen = {p: {k for k, c in cases.items() if c.pk in set(visible_consults(cw.actor(p)).values_list("pk", flat=True))}
            for p in PERSONAS}
    assert seen["village_doctor_a"] == set(cases)  # asker of all
    assert seen["patient_a"] == {"pool", "team", "named", "claimed"}  # their own; the general question is not
    assert seen["cardiologist_tertiary"] == {"pool", "team", "declined"}  # pool (requested), team lead
    assert seen["cardiologist_b"] == {"pool", "team"}  # declined: gone from their view
    # Claiming put them in patient_a's care team, which sees every case about her.
    assert seen["county_cardiologist"] == {"pool", "team", "named", "claimed", "declined"}
    for persona in ("village_doctor_b", "oncologist", "hub_radiologist", "outsider", "coordinator", "coordinator_b",
                    "commission_viewer", "sysadmin", "secadmin", "auditadmin"):
        assert seen[persona] == set(), persona


def test_the_two_sides_of_eligibility_agree(cw):
    cases = _cases(cw)
    add_practitioner(cw.world, cw.users, "hub_cardiologist", "影像心", "imaging_hub", "110610424000012",
                     ["cardiology"])
    for name in ("pool", "declined"):
        c = Consult.objects.get(pk=cases[name].pk)
        by_routing = set(eligible_for(c).values_list("pk", flat=True))
        by_policy = {p.pk for p in Practitioner.objects.filter(user__isnull=False)
                     if Role.ELIGIBLE in consult_roles(cw.actor(p.user.username), Consult.objects.get(pk=c.pk))}
        assert by_routing == by_policy, name
    assert cw.pid("hub_cardiologist") in set(eligible_for(cases["pool"]).values_list("pk", flat=True))


def test_tier_decides_the_pool(cw):
    add_practitioner(cw.world, cw.users, "county_gp", "县全科", "county", "110610424000099", ["general_practice"])
    c = ask(cw, "county_gp", patient_id=None, vitals={})
    assert c.asker_tier_rank == 3
    assert set(eligible_for(c).values_list("name", flat=True)) == {"王建生", "周心怡"}  # tertiary only
    with pytest.raises(NotFound):
        actions.claim_consult(acting=cw.actor("county_cardiologist"), consult_id=c.pk)


def test_the_care_team_is_in_the_clinician_conversation(cw):
    c = ask(cw)
    b = cw.actor("village_doctor_b")
    with pytest.raises(NotFound):
        access_consult(b, c.pk)
    add_to_care_team(acting=cw.actor("village_doctor_a"), patient_id=cw.patient.pk, role="family_doctor",
                     practitioner_id=b.practitioner_id)
    b = cw.actor("village_doctor_b")
    assert access_consult(b, c.pk) == c
    assert Role.CARE_TEAM in consult_roles(b, c)


def test_access_consult_audits_one_row_and_refusals(cw):
    c = ask(cw)
    before = AuditEvent.objects.count()
    access_consult(cw.actor("cardiologist_b"), c.pk)
    row = AuditEvent.objects.order_by("-seq").first()
    assert AuditEvent.objects.count() == before + 1
    assert (row.action, row.patient_id, row.outcome) == ("consult.read", cw.patient.pk, "success")
    with pytest.raises(NotFound):
        access_consult(cw.actor("outsider"), c.pk)
    row = AuditEvent.objects.order_by("-seq").first()
    assert (row.outcome, row.patient_id) == ("denied", cw.patient.pk)
    with pytest.raises(NotFound):
        access_consult(cw.actor("outsider"), "nonsense")


def test_escalated_cases_reach_the_specialty_leads(cw):
    c = ask(cw)
    actions.claim_consult(acting=cw.actor("county_cardiologist"), consult_id=c.pk)
    lead = cw.actor("cardiologist_tertiary")
    assert not can(lead, Action.VIEW_CONSULT, Consult.objects.get(pk=c.pk))
    Consult.objects.filter(pk=c.pk).update(escalation_level=1)
    c = Consult.objects.get(pk=c.pk)
    assert Role.TEAM_LEAD in consult_roles(lead, c)
    assert c.pk in set(visible_consults(lead).values_list("pk", flat=True))
    # The lead may give the overdue case to a colleague.
    c = actions.hand_over_consult(acting=lead, consult_id=c.pk, practitioner_id=cw.pid("cardiologist_b"))
    assert c.assignee_id == cw.pid("cardiologist_b")
