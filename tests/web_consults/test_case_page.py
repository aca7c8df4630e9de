"""The case page: who may open it, what it shows (the question, files, the answer and its earlier
versions, the two conversations), the steps offered by role and state, the 409 of a stale form,
corrections, and a fixed number of queries whatever the number of messages."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from medunion.consults import actions as ca
from medunion.consults.models import Consult, ConsultMessage
from medunion.consults.validation import AnswerInput, RatingInput
from medunion.files.actions import store_upload
from medunion.notifications.actions import mark_all_read
from medunion.notifications.models import Notification
from tests.pins import AS_WRITTEN, AUDIT

from .conftest import ask, jpeg, page


def steps(html: str) -> set[str]:
    return set(re.findall(r'data-step="([a-z_]+)"', html))


def hidden(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to ``action`` (its once token and version)."""
    form = html[html.index(f'action="{action}"'):]
    form = form[:form.index("</form>")]
    return dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', form)) | dict(
        re.findall(r'name="([a-z_]+)" value="([^"]*)" type="hidden"', form))


def post_step(client, consult, step: str, **data):
    url = f"/consults/{consult.pk}/{step}"
    return client.post(url, {**hidden(page(client.get(f"/consults/{consult.pk}")), url), **data})


def answered(cw, **overrides):
    c = ask(cw, **overrides)
    cardio = cw.actor("cardiologist_tertiary")
    ca.claim_consult(acting=cardio, consult_id=c.pk)
    ca.answer_consult(acting=cardio, consult_id=c.pk, data=AnswerInput(
        assessment="稳定型心绞痛可能性大", recommendation="manage_locally", plan="阿司匹林 100mg qd，两周后复查"))
    return c


def test_who_may_open_a_case(cw, client_for):
    c = ask(cw)
    for persona in ("village_doctor_a", "cardiologist_tertiary", "cardiologist_b", "county_cardiologist"):
        assert client_for(persona).get(f"/consults/{c.pk}").status_code == 200, persona
    # Not in the pool's specialty or tier, another consortium, not a clinician: as if it did not exist.
    for persona in ("village_doctor_b", "oncologist", "outsider", "coordinator", "commission_viewer", "sysadmin",
                    "secadmin", "auditadmin"):
        assert client_for(persona).get(f"/consults/{c.pk}").status_code == 404, persona
    assert client_for("village_doctor_a").get("/consults/018f0000-0000-7000-8000-000000000000").status_code == 404
    ca.claim_consult(acting=cw.actor("cardiologist_b"), consult_id=c.pk)
    # Taken: the rest of the pool no longer sees it.
    assert client_for("cardiologist_tertiary").get(f"/consults/{c.pk}").status_code == 404
    assert client_for("cardiologist_b").get(f"/consults/{c.pk}").status_code == 200


def test_the_case_shows_the_question_details_files_and_both_conversations(cw, client_for):
    doctor = cw.actor("village_doctor_a")
    photo = store_upload(acting=doctor, patient_id=cw.patient.pk, upload=jpeg("ecg.jpg"))
    c = ask(cw, attachments=[photo])
    cardio = cw.actor("cardiologist_tertiary")
    ca.claim_consult(acting=cardio, consult_id=c.pk)
    ca.post_message(acting=cardio, consult_id=c.pk, body="请补做十二导联心电图。")
    ca.post_message(acting=cardio, consult_id=c.pk, body="请按时服药。", audience="patient")
    html = page(client_for("village_doctor_a").get(f"/consults/{c.pk}"))
    assert "胸闷两天" in html and "高血压十年" in html and "氨氯地平" in html
    # The vital signs, each in its own cell: "150" and "88" alone occur by chance in identifiers,
    # tokens and the microseconds of timestamps.
    vitals = html.split('class="facts vitals-list"')[1].split("</dl>")[0]
    assert sorted(re.findall(r'<dd class="num">([^<]*)</dd>', vitals)) == ["150", "88", "95"]
    assert f"/consults/{c.pk}/files/{photo.pk}/preview" in html and f"/consults/{c.pk}/files/{photo.pk}\"" in html
    clinicians = html.split('data-testid="thread-clinicians"')[1].split("</ol>")[0]
    patient = html.split('data-testid="thread-patient"')[1].split("</ol>")[0]
    assert "请补做十二导联心电图。" in clinicians and "请按时服药。" not in clinicians
    assert "请按时服药。" in patient and "请补做十二导联心电图。" not in patient
    assert "Clinicians only" in html and "Never shown to the patient." in html and "With the patient" in html
    # Who wrote it: the snapshot of name, title, specialty and organisation.
    assert re.search(r"<strong>王建生</strong> · \w+[^·]* · cardiology · 西安交通大学第一附属医院", clinicians)
    assert 'data-testid="assignee">王建生' in html
    assert 'data-state="in_progress"' in html


def test_a_general_question_has_no_patient_conversation(cw, client_for):
    c = ask(cw, patient_id=None, vitals={})
    html = page(client_for("village_doctor_a").get(f"/consults/{c.pk}"))
    assert "general question" in html and 'data-testid="thread-clinicians"' in html
    assert 'data-testid="thread-patient"' not in html


def test_the_steps_offered_follow_the_role_and_the_state(cw, client_for):
    c = ask(cw)
    doctor, cardio = client_for("village_doctor_a"), client_for("cardiologist_tertiary")
    assert steps(page(cardio.get(f"/consults/{c.pk}"))) == {"claim"}
    assert steps(page(doctor.get(f"/consults/{c.pk}"))) == {"cancel"}
    assert post_step(cardio, c, "claim").status_code == 302
    assert steps(page(cardio.get(f"/consults/{c.pk}"))) == {"request_info", "answer", "decline", "hand_over", "invite"}
    assert steps(page(doctor.get(f"/consults/{c.pk}"))) == {"cancel"}
    response = post_step(cardio, c, "request-info", body="空腹血糖多少？")
    assert response.status_code == 302 and response["Location"] == f"/consults/{c.pk}"
    html = page(doctor.get(f"/consults/{c.pk}"))
    assert steps(html) == {"provide_info", "cancel"} and "空腹血糖多少？" in html
    assert '<details class="step step--provide_info" open' in html  # what the asker is waited on for
    assert post_step(doctor, c, "provide-info", body="6.1 mmol/L", photos=jpeg("glucose.jpg")).status_code == 302
    response = post_step(cardio, c, "answer", assessment="稳定型心绞痛", recommendation="manage_locally",
                         plan="阿司匹林 100mg qd", examinations="心电图\n 心脏超声 \n")
    assert response.status_code == 302, page(response)
    c.refresh_from_db()
    assert c.state == "answered" and c.answers.get().examinations == ["心电图", "心脏超声"]
    assert steps(page(cardio.get(f"/consults/{c.pk}"))) == {"amend_answer"}
    html = page(doctor.get(f"/consults/{c.pk}"))
    assert steps(html) == {"confirm", "follow_up"} and 'data-testid="recommendation">manage locally' in html.lower()
    response = post_step(doctor, c, "confirm", useful="4", avoided_referral="on", comment="很有帮助")
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.state == "completed" and (c.rating.useful, c.rating.avoided_referral, c.rating.avoided_travel) == (
        4, True, False)
    html = page(doctor.get(f"/consults/{c.pk}"))
    assert steps(html) == set() and "Rated 4 of 5 by the asker." in html and "很有帮助" in html
    assert "compose-clinicians" not in html  # closed: nobody writes any more


def test_a_step_the_role_does_not_allow_is_refused(cw, client_for):
    c = ask(cw)
    doctor = client_for("village_doctor_a")
    url = f"/consults/{c.pk}/claim"
    assert doctor.post(url, {"once": "a" * 32, "version": "1"}).status_code == 403
    assert client_for("village_doctor_b").post(url, {"once": "b" * 32}).status_code == 404
    assert client_for("patient_a").post(url, {"once": "c" * 32}).status_code == 404
    assert client_for("cardiologist_tertiary").get(url).status_code == 405
    assert Consult.objects.get().state == "requested"


def test_a_stale_claim_says_who_took_the_case(cw, client_for):
    c = ask(cw)
    first, second = client_for("cardiologist_tertiary"), client_for("cardiologist_b")
    url = f"/consults/{c.pk}/claim"
    mine = hidden(page(first.get(f"/consults/{c.pk}")), url)
    theirs = hidden(page(second.get(f"/consults/{c.pk}")), url)
    assert second.post(url, theirs).status_code == 302
    response = first.post(url, mine)
    assert response.status_code == 409
    assert re.search(r'data-testid="conflict">This case was taken by 周心怡 at \d\d:\d\d', page(response))
    assert "Back to the pool" in page(response)
    c.refresh_from_db()
    assert c.assignee_id == cw.pid("cardiologist_b")


def test_a_stale_form_on_a_case_one_still_sees_shows_the_case_with_what_happened(cw, client_for):
    c = ask(cw)
    ca.claim_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk)
    doctor = client_for("village_doctor_a")
    url = f"/consults/{c.pk}/cancel"
    form = hidden(page(doctor.get(f"/consults/{c.pk}")), url)
    ca.request_info(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk, question="血糖？")
    response = doctor.post(url, {**form, "reason": "不需要了"})
    assert response.status_code == 409
    html = page(response)
    assert 'data-testid="conflict">This case is waiting for information from the asker.' in html
    assert 'data-testid="question"' in html  # the case again, as it is now
    assert Consult.objects.get().state == "on_hold"


def test_a_double_tap_on_a_step_does_it_once(cw, client_for):
    c = ask(cw)
    ca.claim_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk)
    cardio = client_for("cardiologist_tertiary")
    url = f"/consults/{c.pk}/messages"
    form = {**hidden(page(cardio.get(f"/consults/{c.pk}")), url), "body": "收到", "audience": "clinicians"}
    assert cardio.post(url, form).status_code == cardio.post(url, form).status_code == 302
    assert ConsultMessage.objects.filter(body="收到").count() == 1


def test_form_errors_are_shown_on_the_step(cw, client_for):
    c = ask(cw)
    ca.claim_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk)
    cardio = client_for("cardiologist_tertiary")
    response = post_step(cardio, c, "answer", assessment="", recommendation="manage_locally", plan="")
    assert response.status_code == 422
    html = page(response)
    assert '<details class="step step--answer" open' in html and "field--error" in html
    assert html.count('class="errorlist') == 2  # the messages themselves, under the two empty fields
    response = post_step(cardio, c, "decline", reason="")
    assert response.status_code == 422 and '<details class="step step--decline" open' in page(response)
    assert Consult.objects.get().state == "in_progress"


def test_corrections_keep_the_old_version_for_clinicians(cw, client_for):
    c = ask(cw)
    cardio_actor = cw.actor("cardiologist_tertiary")
    ca.claim_consult(acting=cardio_actor, consult_id=c.pk)
    note = ca.post_message(acting=cardio_actor, consult_id=c.pk, body="请补做十二导联心电图。")
    to_patient = ca.post_message(acting=cardio_actor, consult_id=c.pk, body="每日服药一次。", audience="patient")
    cardio = client_for("cardiologist_tertiary")
    html = page(cardio.get(f"/consults/{c.pk}"))
    assert f'action="/consults/{c.pk}/messages/{note.pk}/correct"' in html
    # Only the author is offered the correction, and only the author may make it.
    doctor = client_for("village_doctor_a")
    assert f"/messages/{note.pk}/correct" not in page(doctor.get(f"/consults/{c.pk}"))
    assert doctor.post(f"/consults/{c.pk}/messages/{note.pk}/correct",
                       {"once": "d" * 32, "body": "篡改"}).status_code == 403
    for message, text in ((note, "请补做十八导联心电图。"), (to_patient, "每日服药两次。")):
        form = hidden(page(cardio.get(f"/consults/{c.pk}")), f"/consults/{c.pk}/messages/{message.pk}/correct")
        assert cardio.post(f"/consults/{c.pk}/messages/{message.pk}/correct", {**form, "body": text}).status_code \
            == 302
    html = page(doctor.get(f"/consults/{c.pk}"))
    for old, new in (("请补做十二导联心电图。", "请补做十八导联心电图。"), ("每日服药一次。", "每日服药两次。")):
        assert old in html and new in html
    assert html.count("msg--superseded") == 2 and html.count("corrected: see the newer version") == 2
    # The patient sees the current version only.
    html = page(client_for("patient_a").get(f"/me/consults/{c.pk}"))
    assert "每日服药两次。" in html and "每日服药一次。" not in html
    # Correcting an old version again is a conflict, said on the page.
    newer = ConsultMessage.objects.get(body="请补做十八导联心电图。")
    form = hidden(page(cardio.get(f"/consults/{c.pk}")), f"/consults/{c.pk}/messages/{newer.pk}/correct")
    response = cardio.post(f"/consults/{c.pk}/messages/{note.pk}/correct", {**form, "body": "again"})
    assert response.status_code == 409 and "This message has been corrected already" in page(response)


def test_an_amended_answer_keeps_its_earlier_version_visible(cw, client_for):
    c = answered(cw)
    cardio = client_for("cardiologist_tertiary")
    response = post_step(cardio, c, "amend", assessment="急性冠脉综合征不能除外", recommendation="referral",
                         referral_specialty="cardiology", referral_notes="尽快转上级医院", reason="复看心电图")
    assert response.status_code == 302, page(response)
    html = page(client_for("village_doctor_a").get(f"/consults/{c.pk}"))
    answer = html.split('data-testid="answer"')[1].split("</section>")[0]
    assert answer.index("急性冠脉综合征不能除外") < answer.index("1 earlier version") < answer.index("稳定型心绞痛可能性大")
    assert "Amended: 复看心电图" in answer and "尽快转上级医院" in answer


def test_the_case_page_costs_the_same_for_few_and_many_messages(cw, client_for):
    c = ask(cw)
    cardio_actor, doctor_actor = cw.actor("cardiologist_tertiary"), cw.actor("village_doctor_a")
    ca.claim_consult(acting=cardio_actor, consult_id=c.pk)
    ca.post_message(acting=cardio_actor, consult_id=c.pk, body="第一条")
    doctor = client_for("village_doctor_a")
    doctor.get(f"/consults/{c.pk}")
    with CaptureQueriesContext(connection) as few:
        assert doctor.get(f"/consults/{c.pk}").status_code == 200
    for i in range(15):
        m = ca.post_message(acting=doctor_actor, consult_id=c.pk, body=f"消息{i}",
                            attachments=[store_upload(acting=doctor_actor, patient_id=cw.patient.pk,
                                                      upload=jpeg(f"p{i}.jpg"))] if i % 3 == 0 else ())
        ca.post_message(acting=cardio_actor, consult_id=c.pk, body=f"回复{i}", audience="patient")
        if i % 5 == 0:
            ca.correct_message(acting=doctor_actor, message_id=m.pk, body=f"更正{i}")
    mark_all_read(acting=doctor_actor, consult_id=c.pk)  # the replies' notices: read, as in `few`
    with CaptureQueriesContext(connection) as many:
        html = page(doctor.get(f"/consults/{c.pk}"))
    assert "消息14" in html and "回复14" in html and "更正10" in html
    assert len(many) == len(few), [q["sql"][:150] for q in many.captured_queries]
    assert len(many) <= 40
    # A view writes once, its audit row: with no notice unread, none is marked read (on SQLite an
    # UPDATE takes the write lock even when it changes nothing).
    for view in (few, many):
        assert [q["sql"].split()[0] for q in view.captured_queries].count("UPDATE") == 0


def test_opening_the_case_reads_its_notices(cw, client_for):
    c = ask(cw)
    cardio_actor = cw.actor("cardiologist_tertiary")
    ca.claim_consult(acting=cardio_actor, consult_id=c.pk)
    ca.post_message(acting=cardio_actor, consult_id=c.pk, body="请补充心电图")
    doctor = cw.actor("village_doctor_a")
    assert Notification.objects.filter(user_id=doctor.user_id, consult_id=c.pk, read_at__isnull=True).exists()
    assert client_for("village_doctor_a").get(f"/consults/{c.pk}").status_code == 200
    assert not Notification.objects.filter(user_id=doctor.user_id, consult_id=c.pk, read_at__isnull=True).exists()


def test_attachments_are_served_to_those_who_see_their_message(cw, client_for):
    doctor_actor = cw.actor("village_doctor_a")
    photo = store_upload(acting=doctor_actor, patient_id=cw.patient.pk, upload=jpeg("ecg.jpg"))
    c = ask(cw, attachments=[photo])
    base = f"/consults/{c.pk}/files/{photo.pk}"
    doctor, cardio = client_for("village_doctor_a"), client_for("cardiologist_tertiary")
    response = doctor.get(base)
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert cardio.get(base + "/preview").status_code == 200  # an eligible specialist of the pool
    for persona in ("village_doctor_b", "outsider", "patient_a", "coordinator"):
        assert client_for(persona).get(base).status_code == 404, persona
    # A file of another case is not served through this one.
    other = ask(cw)
    assert doctor.get(f"/consults/{other.pk}/files/{photo.pk}").status_code == 404


def test_the_mdt_view_invitations_opinions_and_the_consensus(cw, client_for):
    c = ask(cw)
    ca.claim_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk)
    cardio = client_for("cardiologist_tertiary")
    html = page(cardio.get(f"/consults/{c.pk}/mdt"))
    assert "Nobody is invited yet." in html and "郑肿瘤" not in html  # the list is loaded when the step is opened
    assert f'hx-get="/consults/{c.pk}/invitable"' in html
    choices = page(cardio.get(f"/consults/{c.pk}/invitable"))
    assert '<optgroup label="oncology">' in choices and "郑肿瘤" in choices  # offered, grouped by specialty
    form = hidden(html, f"/consults/{c.pk}/invite")
    response = cardio.post(f"/consults/{c.pk}/invite", {**form, "practitioners": [str(cw.pid("oncologist"))],
                                                        "note": "请肿瘤科会诊"})
    assert response.status_code == 302 and response["Location"].endswith("#mdt")
    oncologist = client_for("oncologist")
    html = page(oncologist.get(f"/consults/{c.pk}/mdt"))  # an invitee now sees the case
    assert "opinion" in steps(html)
    form = hidden(html, f"/consults/{c.pk}/opinion")
    assert oncologist.post(f"/consults/{c.pk}/opinion", {**form, "body": "无肿瘤证据"}).status_code == 302
    html = page(cardio.get(f"/consults/{c.pk}/mdt"))
    assert "无肿瘤证据" in html.split('data-testid="opinions"')[1] and "opinion given" in html
    assert "Record the consensus" in html
    form = hidden(html, f"/consults/{c.pk}/answer")
    response = cardio.post(f"/consults/{c.pk}/answer", {**form, "consensus": "on", "assessment": "MDT：稳定型心绞痛",
                                                        "recommendation": "manage_locally", "plan": "随访"})
    assert response.status_code == 302, page(response)
    html = page(client_for("village_doctor_a").get(f"/consults/{c.pk}"))
    assert "MDT consensus" in html and "MDT：稳定型心绞痛" in html
    assert client_for("village_doctor_b").get(f"/consults/{c.pk}/mdt").status_code == 404
    assert client_for("patient_a").get(f"/consults/{c.pk}/mdt").status_code == 404


def test_hand_over_and_decline(cw, client_for):
    c = ask(cw)
    ca.claim_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk)
    cardio = client_for("cardiologist_tertiary")
    html = page(cardio.get(f"/consults/{c.pk}"))
    assert "周心怡" in html.split('data-step="hand_over"')[1].split("</details>")[0]  # an eligible colleague
    response = post_step(cardio, c, "hand-over", practitioner=str(cw.pid("cardiologist_b")), reason="我在手术")
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.assignee_id == cw.pid("cardiologist_b")
    b = client_for("cardiologist_b")
    assert post_step(b, c, "decline", reason="超出我的专业范围").status_code == 302
    c.refresh_from_db()
    assert c.state == "requested" and c.assignee_id is None


def test_a_follow_up_and_a_cancellation(cw, client_for):
    c = answered(cw)
    doctor = client_for("village_doctor_a")
    assert post_step(doctor, c, "follow-up", body="两周后需要复查什么？").status_code == 302
    c.refresh_from_db()
    assert c.state == "in_progress"
    other = ask(cw)
    assert post_step(doctor, other, "cancel", reason="患者已转诊").status_code == 302
    other.refresh_from_db()
    assert other.state == "cancelled"
    # Rating is done through the confirm step only: a rating for a case still in progress is refused.
    ca.answer_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk, data=AnswerInput(
        assessment="复查心电图", recommendation="manage_locally", plan="两周后复查"))
    ca.confirm_consult(acting=cw.actor("village_doctor_a"), consult_id=c.pk, rating=RatingInput(useful=5))
    assert "Rated 5 of 5" in page(doctor.get(f"/consults/{c.pk}"))


def test_the_mdt_colleagues_are_found_by_name_or_specialty_and_stay_chosen(cw, client_for):
    """The invitation's list is a fragment of its own (the slowest part of the case page before):
    a search by name or by specialty, the chosen kept at the top across searches; only for those
    who may invite, and never the asker, the assignee or someone invited already."""
    c = ask(cw)
    ca.claim_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk)
    cardio = client_for("cardiologist_tertiary")
    url = f"/consults/{c.pk}/invitable"
    everyone = page(cardio.get(url))
    assert "郑肿瘤" in everyone and "吴心" not in everyone.split("<select")[1].split("cardiology")[0]
    assert cw.world.users["cardiologist_tertiary"].display_name not in everyone
    assert "郑肿瘤" in page(cardio.get(url, {"q": "oncology"})) and "郑肿瘤" in page(cardio.get(url, {"q": "郑"}))
    # the department in the other language, or by what clinicians call it (not the name: 郑肿瘤)
    assert "郑肿瘤" in page(cardio.get(url, {"q": "肿瘤科"})) and "郑肿瘤" in page(cardio.get(url, {"q": "cancer"}))
    assert "郑肿瘤" not in page(cardio.get(url, {"q": "放射科"}))
    assert 'data-testid="invite-none"' in page(cardio.get(url, {"q": "nobody-like-this"}))
    oncologist = str(cw.pid("oncologist"))
    kept = page(cardio.get(url, {"q": "nobody-like-this", "practitioners": [oncologist, "junk"]}))
    assert f'<option value="{oncologist}" selected>' in kept and '<optgroup label="Chosen">' in kept
    with CaptureQueriesContext(connection) as q:
        cardio.get(url, {"q": "心"})
    assert len(q) <= 20 + AUDIT + AS_WRITTEN, [x["sql"][:120] for x in q.captured_queries]
    ca.invite_to_consult(acting=cw.actor("cardiologist_tertiary"), consult_id=c.pk, practitioner_ids=[oncologist])
    assert "郑肿瘤" not in page(cardio.get(url))  # invited already
    assert client_for("village_doctor_a").get(url).status_code == 403  # the asker sees the case, may not invite
    for persona in ("village_doctor_b", "outsider", "patient_a", "coordinator"):
        assert client_for(persona).get(url).status_code == 404, persona
