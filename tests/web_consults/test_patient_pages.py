"""The patient's own consultation pages, by allowlist: their cases, where each stands, and the
patient conversation (where they may write). Never a clinician message, the question, the
clinical details, the answer, an opinion, or a clinician's file — on any page or fragment."""

from __future__ import annotations

import re

import pytest

from medunion.consults import actions as ca
from medunion.consults.models import ConsultMessage
from medunion.consults.validation import AnswerInput
from medunion.files.actions import store_upload

from .conftest import ask, jpeg, page

# Everything written for clinicians on the case below; none of it may reach the patient.
SECRETS = ("胸闷两天", "ST段压低", "高血压十年", "氨氯地平", "请补做心电图", "心电图已上传", "肿瘤科意见", "稳定型心绞痛",
           "阿司匹林", "两周后复查", "ecg.jpg", "clinician-note.jpg", "reply.jpg", "opinion.jpg", "请内部讨论",
           "Clinicians only", "thread-clinicians", "data-step")
# The systolic pressure, as a number of its own: the digits 150 occur by chance inside
# identifiers, tokens and the microseconds of a timestamp.
SYSTOLIC = re.compile(r"(?<![0-9.])150(?![0-9])")


@pytest.fixture
def full_case(cw):
    """A case with something in every place: the question and details, a request photo,
    clinician messages with files, a request for information and its reply, an MDT opinion, an
    answer amended once, and the patient conversation (with a photo the patient may see)."""
    doctor, cardio, onco = cw.actor("village_doctor_a"), cw.actor("cardiologist_tertiary"), cw.actor("oncologist")

    colours = iter([(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200)])

    def photo(actor, name):  # different bytes each: identical uploads are stored once
        return store_upload(acting=actor, patient_id=cw.patient.pk, upload=jpeg(name, next(colours)))

    c = ask(cw, question="胸闷两天，心电图ST段压低，是否需要转诊？", attachments=[photo(doctor, "ecg.jpg")])
    ca.claim_consult(acting=cardio, consult_id=c.pk)
    ca.post_message(acting=cardio, consult_id=c.pk, body="请内部讨论", attachments=[photo(cardio, "clinician-note.jpg")])
    ca.request_info(acting=cardio, consult_id=c.pk, question="请补做心电图")
    ca.provide_info(acting=doctor, consult_id=c.pk, body="心电图已上传", attachments=[photo(doctor, "reply.jpg")])
    ca.invite_to_consult(acting=cardio, consult_id=c.pk, practitioner_ids=[cw.pid("oncologist")])
    ca.give_opinion(acting=onco, consult_id=c.pk, body="肿瘤科意见：无占位", attachments=[photo(onco, "opinion.jpg")])
    ca.post_message(acting=cardio, consult_id=c.pk, body="请按时服药，有不适随时来诊。", audience="patient",
                    attachments=[photo(cardio, "for-you.jpg")])
    ca.answer_consult(acting=cardio, consult_id=c.pk, data=AnswerInput(
        assessment="稳定型心绞痛", recommendation="manage_locally", plan="阿司匹林 100mg qd"))
    ca.amend_answer(acting=cardio, consult_id=c.pk, reason="补充", data=AnswerInput(
        assessment="稳定型心绞痛", recommendation="manage_locally", plan="阿司匹林 100mg qd，两周后复查"))
    return c


def _clean(html: str) -> None:
    # Identifiers, form and CSRF tokens are random and may hold any short string by chance, so
    # they are taken out before looking.
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z0-9]{32,}", "", html)
    for secret in SECRETS:
        assert secret not in text, secret
    assert not SYSTOLIC.search(text), SYSTOLIC.search(text)


def test_the_patient_sees_their_cases_and_where_they_stand(cw, client_for, full_case):
    html = page(client_for("patient_a").get("/me/consults"))
    assert f'href="/me/consults/{full_case.pk}"' in html and "answered" in html and "cardiology" in html
    assert "刘村医" in html or cw.world.users["village_doctor_a"].display_name in html  # their doctor
    _clean(html)


def test_the_patient_case_page_holds_the_patient_conversation_only(cw, client_for, full_case):
    patient = client_for("patient_a")
    for url in (f"/me/consults/{full_case.pk}", f"/consults/{full_case.pk}", f"/consults/{full_case.pk}/live?after=0"):
        response = patient.get(url)
        assert response.status_code == 200, url
        html = page(response)
        _clean(html)
        assert "请按时服药，有不适随时来诊。" in html and "for-you.jpg" in html, url
    # The same page as the clinicians see it does show what _clean looks for.
    with pytest.raises(AssertionError):
        _clean(page(client_for("village_doctor_a").get(f"/consults/{full_case.pk}")))
    assert SYSTOLIC.search(page(client_for("village_doctor_a").get(f"/consults/{full_case.pk}")))
    # Every message id on the page is a current patient-audience one.
    shown = set(re.findall(r'id="msg-([0-9a-f-]{36})"', page(patient.get(f"/me/consults/{full_case.pk}"))))
    allowed = {str(pk) for pk in ConsultMessage.objects.filter(consult=full_case, audience="patient")
               .values_list("pk", flat=True)}
    assert shown and shown <= allowed


def test_the_patient_gets_no_clinician_file(cw, client_for, full_case):
    patient = client_for("patient_a")
    for a in full_case.attachments.select_related("file"):
        base = f"/consults/{full_case.pk}/files/{a.file_id}"
        expected = 200 if a.audience == "patient" else 404
        assert patient.get(base).status_code == expected, a.file.filename
        assert patient.get(base + "/preview").status_code == expected, a.file.filename
    assert full_case.attachments.filter(audience="patient").count() == 1


def test_the_patient_writes_in_their_conversation_only(cw, client_for):
    c = ask(cw)
    patient = client_for("patient_a")
    html = page(patient.get(f"/me/consults/{c.pk}"))
    once = re.search(r'name="once" value="([0-9a-f]+)"', html.split('id="compose-patient"')[1]).group(1)
    # Asking for the clinicians' conversation is ignored: a patient writes in theirs.
    response = patient.post(f"/consults/{c.pk}/messages", {"once": once, "body": "我今天好一些了。",
                                                            "audience": "clinicians", "photos": jpeg("me.jpg")})
    assert response.status_code == 302 and response["Location"] == f"/me/consults/{c.pk}#thread-patient"
    m = ConsultMessage.objects.get(body="我今天好一些了。")
    assert m.audience == "patient" and m.attachments.get().audience == "patient"
    html = page(client_for("village_doctor_a").get(f"/consults/{c.pk}"))
    assert "我今天好一些了。" in html.split('data-testid="thread-patient"')[1].split("</ol>")[0]
    # An empty message is an error on the form.
    html = page(patient.get(f"/me/consults/{c.pk}"))
    once = re.search(r'name="once" value="([0-9a-f]+)"', html.split('id="compose-patient"')[1]).group(1)
    response = patient.post(f"/consults/{c.pk}/messages", {"once": once, "body": " "})
    assert response.status_code == 422 and "field--error" in page(response)
    _clean(page(response))


def test_a_patient_may_not_correct_or_act_on_clinician_content(cw, client_for, full_case):
    patient = client_for("patient_a")
    note = ConsultMessage.objects.get(body="请内部讨论")
    assert patient.post(f"/consults/{full_case.pk}/messages/{note.pk}/correct",
                        {"once": "e" * 32, "body": "x"}).status_code == 404
    for step in ("claim", "answer", "confirm", "cancel", "request-info", "opinion", "invite"):
        assert patient.post(f"/consults/{full_case.pk}/{step}", {"once": "f" * 32}).status_code == 404, step
    assert patient.get(f"/consults/{full_case.pk}/mdt").status_code == 404


def test_a_closed_case_takes_no_more_messages(cw, client_for):
    c = ask(cw)
    ca.cancel_consult(acting=cw.actor("village_doctor_a"), consult_id=c.pk, reason="患者已转诊")
    html = page(client_for("patient_a").get(f"/me/consults/{c.pk}"))
    assert "This consultation is closed." in html and 'action="/consults/' not in html
    assert "患者已转诊" not in html


def test_another_patients_case_is_not_found(cw, client_for):
    c = ask(cw, patient_id=None, vitals={})  # a general question is nobody's case
    assert client_for("patient_a").get(f"/me/consults/{c.pk}").status_code == 404
    assert client_for("patient_a").get(f"/consults/{c.pk}").status_code == 404
    assert str(c.pk) not in page(client_for("patient_a").get("/me/consults"))
    for persona in ("village_doctor_a", "coordinator", "sysadmin"):
        assert client_for(persona).get("/me/consults").status_code == 404, persona
