"""The fragment the open case page polls: nothing new is a cheap 204; new messages are appended
to their conversation, and the header, the answer and the steps follow the state."""

from __future__ import annotations

import datetime as dt
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.audit.models import AuditEvent
from medunion.consults import actions as ca
from medunion.consults.models import ConsultParticipant
from medunion.consults.validation import AnswerInput
from medunion.core import clock
from medunion.web.live import RENEW_SECONDS
from tests.pins import AS_WRITTEN, AUDIT

from .conftest import ask, page


def poller(html: str) -> tuple[str, str]:
    m = re.search(r'id="case-live" hx-get="([^"]+)" hx-trigger="every \d+s"', html)
    assert m, "the page polls"
    return re.search(r"after=(\d+)", m.group(1)).group(1), re.search(r"v=(\d+)", m.group(1)).group(1)


def test_nothing_new_is_a_cheap_204(cw, client_for):
    c = ask(cw)
    doctor = client_for("village_doctor_a")
    after, version = poller(page(doctor.get(f"/consults/{c.pk}")))
    before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as polled:
        response = doctor.get(f"/consults/{c.pk}/live", {"after": after, "v": version})
    assert response.status_code == 204
    assert AuditEvent.objects.count() == before  # no patient data shown, nothing audited
    assert len(polled) <= 12  # the session and the actor, then the case


def test_a_claim_and_a_request_appear_on_the_askers_page(cw, client_for):
    c = ask(cw)
    doctor = client_for("village_doctor_a")
    after, version = poller(page(doctor.get(f"/consults/{c.pk}")))
    cardio = cw.actor("cardiologist_tertiary")
    ca.claim_consult(acting=cardio, consult_id=c.pk)
    ca.request_info(acting=cardio, consult_id=c.pk, question="请补做心电图并上传。")
    response = doctor.get(f"/consults/{c.pk}/live", {"after": after, "v": version})
    assert response.status_code == 200
    html = page(response)
    assert html.lstrip().startswith('<div id="case-live"')
    new_after, new_version = poller(html)
    assert int(new_after) > int(after) and int(new_version) > int(version)
    assert '<ol hx-swap-oob="beforeend:#thread-clinicians">' in html and "请补做心电图并上传。" in html
    assert 'id="case-head" class="case-head" hx-swap-oob="true" data-state="on_hold"' in html
    assert 'id="case-actions"' in html and 'data-step="provide_info"' in html  # the steps follow the state
    assert 'id="inbox-link" hx-swap-oob="true"' in html
    assert AuditEvent.objects.filter(action="consult.read", detail__live=True).count() == 1
    # Then nothing new again.
    assert doctor.get(f"/consults/{c.pk}/live", {"after": new_after, "v": new_version}).status_code == 204


def test_an_answer_appears_without_the_steps_being_redrawn_for_a_message(cw, client_for):
    c = ask(cw)
    cardio_actor = cw.actor("cardiologist_tertiary")
    ca.claim_consult(acting=cardio_actor, consult_id=c.pk)
    doctor = client_for("village_doctor_a")
    after, version = poller(page(doctor.get(f"/consults/{c.pk}")))
    ca.post_message(acting=cardio_actor, consult_id=c.pk, body="我看一下。")
    html = page(doctor.get(f"/consults/{c.pk}/live", {"after": after, "v": version}))
    assert "我看一下。" in html and 'id="case-actions"' not in html  # a half-typed form is not wiped
    after, version = poller(html)
    ca.answer_consult(acting=cardio_actor, consult_id=c.pk, data=AnswerInput(
        assessment="稳定型心绞痛", recommendation="manage_locally", plan="阿司匹林 100mg qd"))
    html = page(doctor.get(f"/consults/{c.pk}/live", {"after": after, "v": version}))
    assert 'id="case-answer"' in html and "阿司匹林 100mg qd" in html and 'data-step="confirm"' in html


def test_the_patient_fragment_carries_the_patient_conversation_only(cw, client_for):
    c = ask(cw)
    patient = client_for("patient_a")
    after, version = poller(page(patient.get(f"/me/consults/{c.pk}")))
    cardio = cw.actor("cardiologist_tertiary")
    ca.claim_consult(acting=cardio, consult_id=c.pk)
    secret = ca.post_message(acting=cardio, consult_id=c.pk, body="ST段压低，考虑心肌缺血。")
    response = patient.get(f"/consults/{c.pk}/live", {"after": after, "v": version})
    html = page(response) if response.status_code == 200 else ""
    assert "ST段压低" not in html and str(secret.pk) not in html
    assert 'data-step' not in html and "thread-clinicians" not in html
    after, version = poller(html) if html else (after, version)
    to_patient = ca.post_message(acting=cardio, consult_id=c.pk, body="请按时服药。", audience="patient")
    html = page(patient.get(f"/consults/{c.pk}/live", {"after": after, "v": version}))
    assert '<ol hx-swap-oob="beforeend:#thread-patient">' in html and "请按时服药。" in html
    assert "ST段压低" not in html and "胸闷两天" not in html
    after, version = poller(html)
    ca.correct_message(acting=cardio, message_id=to_patient.pk, body="请每日按时服药。")
    html = page(patient.get(f"/consults/{c.pk}/live", {"after": after, "v": version}))
    assert f'<li id="msg-{to_patient.pk}" hx-swap-oob="delete">' in html and "请每日按时服药。" in html


def test_the_live_fragment_is_not_for_those_who_may_not_see_the_case(cw, client_for):
    c = ask(cw)
    for persona in ("village_doctor_b", "outsider", "coordinator", "commission_viewer", "sysadmin"):
        assert client_for(persona).get(f"/consults/{c.pk}/live?after=0").status_code == 404, persona
    assert client_for("village_doctor_a").get(f"/consults/{c.pk}/live?after=abc&v=x").status_code == 200


def test_nothing_new_costs_one_query_after_the_sign_in_and_writes_nothing(cw, client_for):
    """The page's session was shown the case: the poll reads the session, the user and the case's
    counters, and writes nothing (not even the session: a poll does not renew the idle time)."""
    from django.contrib.sessions.models import Session

    c = ask(cw)
    doctor = client_for("village_doctor_a")
    after, version = poller(page(doctor.get(f"/consults/{c.pk}")))
    session = Session.objects.get()
    with CaptureQueriesContext(connection) as polled:
        response = doctor.get(f"/consults/{c.pk}/live", {"after": after, "v": version})
    assert response.status_code == 204 and not response.content
    assert len(polled) == 3, [q["sql"][:120] for q in polled.captured_queries]
    assert not any(q["sql"].startswith(("UPDATE", "INSERT", "BEGIN")) for q in polled.captured_queries)
    assert "sessionid" not in response.cookies
    assert Session.objects.get().expire_date == session.expire_date
    # The page itself is the user's activity: it renews the session (at most once a minute).
    with clock.frozen(clock.now() + dt.timedelta(seconds=RENEW_SECONDS + 1)):
        doctor.get(f"/consults/{c.pk}")
    assert Session.objects.get().expire_date > session.expire_date


def test_a_poll_of_a_case_the_session_was_not_shown_takes_the_full_way(cw, client_for):
    """Without the page view's grant the poll builds the actor and checks the policy: still 204
    for a case the caller may see, 404 for one they may not, whatever cursor they send."""
    c = ask(cw)
    doctor = client_for("village_doctor_a")
    with CaptureQueriesContext(connection) as polled:
        assert doctor.get(f"/consults/{c.pk}/live", {"after": 99, "v": c.version}).status_code == 204
    assert len(polled) > 3
    other = client_for("village_doctor_b")
    other.get(f"/consults/{ask(cw, 'village_doctor_b', patient_id=None).pk}")  # a grant for another case is no grant for this one
    assert other.get(f"/consults/{c.pk}/live", {"after": 99, "v": c.version}).status_code == 404


def test_news_for_someone_who_lost_the_case_is_a_404(cw, client_for):
    """A grant only says "nothing changed": when something did, the policy decides again. (A
    general question, so the invitation does not also put the oncologist in a care team.)"""
    c = ask(cw, patient_id=None)
    cardio_actor = cw.actor("cardiologist_tertiary")
    ca.claim_consult(acting=cardio_actor, consult_id=c.pk)
    oncologist = client_for("oncologist")
    ca.invite_to_consult(acting=cardio_actor, consult_id=c.pk, practitioner_ids=[cw.pid("oncologist")])
    after, version = poller(page(oncologist.get(f"/consults/{c.pk}")))
    assert oncologist.get(f"/consults/{c.pk}/live", {"after": after, "v": version}).status_code == 204
    ConsultParticipant.objects.filter(consult=c, practitioner_id=cw.pid("oncologist")).update(left_at=c.created_at)
    assert oncologist.get(f"/consults/{c.pk}/live", {"after": after, "v": version}).status_code == 204  # nothing new
    ca.post_message(acting=cardio_actor, consult_id=c.pk, body="心电图已看过。")
    response = oncologist.get(f"/consults/{c.pk}/live", {"after": after, "v": version})
    assert response.status_code == 404 and "心电图已看过" not in page(response)


def test_a_poll_after_the_sign_in_ended_takes_the_page_to_the_sign_in(cw, client_for):
    c = ask(cw)
    doctor = client_for("village_doctor_a")
    after, version = poller(page(doctor.get(f"/consults/{c.pk}")))
    doctor.logout()
    url = f"/consults/{c.pk}/live?after={after}&v={version}"
    response = doctor.get(url, headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver/consults/{c.pk}"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/login?next=/consults/{c.pk}" or response["HX-Redirect"].endswith(
        f"next=%2Fconsults%2F{c.pk}")
    response = doctor.get(url)  # not from the page: the usual redirect
    assert response.status_code == 302 and "/login" in response["Location"]


def test_the_page_polls_often_enough_for_a_message_to_show_within_three_seconds(cw, client_for):
    from medunion.web import live

    c = ask(cw)
    html = page(client_for("village_doctor_a").get(f"/consults/{c.pk}"))
    assert f'hx-trigger="every {live.POLL_SECONDS}s"' in html and live.POLL_SECONDS < 3


def test_a_plain_message_brings_only_itself_and_is_audited(cw, client_for):
    """Only messages new: the fragment appends them (and the inbox count) without rebuilding the
    case page; it shows patient data, so it leaves one audit row. An invitation also redraws
    the people."""
    c = ask(cw)
    cardio = cw.actor("cardiologist_tertiary")
    ca.claim_consult(acting=cardio, consult_id=c.pk)
    doctor = client_for("village_doctor_a")
    after, version = poller(page(doctor.get(f"/consults/{c.pk}")))
    ca.post_message(acting=cardio, consult_id=c.pk, body="血压多少？")
    before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as polled:
        html = page(doctor.get(f"/consults/{c.pk}/live", {"after": after, "v": version}))
    assert "血压多少？" in html and 'id="inbox-link"' in html
    assert 'id="case-head"' not in html and 'id="case-people"' not in html
    assert AuditEvent.objects.count() == before + 1
    # 23: the message's notice is asked for, then marked read (notifications.actions.mark_all_read).
    assert len(polled) <= 23 + AUDIT + AS_WRITTEN, [q["sql"][:100] for q in polled.captured_queries]
    after, version = poller(html)
    ca.invite_to_consult(acting=cardio, consult_id=c.pk, practitioner_ids=[cw.pid("oncologist")])
    html = page(doctor.get(f"/consults/{c.pk}/live", {"after": after, "v": version}))
    assert 'id="case-people"' in html and "郑肿瘤" in html
