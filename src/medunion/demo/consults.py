"""The demo's teleconsultations, made through the same actions a clinician's pages call, so
the queues, case pages, inboxes, patient conversation and figures have something to show.

The village doctor (`village`) and the township GP (`township`) ask; the tertiary hospital's
cardiologist (`cardio`) answers; the imaging hub's radiologist (`radiology`) gives an MDT
opinion. Cases are backdated with the frozen clock so waiting times, due times and the
response figures look like a working month: a new pool case, one overdue urgent case, one
waiting on the asker, one answered and waiting for confirmation, and a few dozen closed ones.
Notifications go to the in-app inboxes only while the demo is built (no console sender).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.test.utils import override_settings

from medunion.access.actor import Actor, actor_for
from medunion.consults import actions as ca
from medunion.consults import actions_answers as answers
from medunion.consults.actions_messages import post_message
from medunion.consults.models import Audience, Recommendation, Urgency
from medunion.consults.validation import AnswerInput, ConsultInput, RatingInput
from medunion.core import clock
from medunion.notifications.models import Notification
from medunion.patients.models import Patient

from .state import DemoState

# (question, history, medication, vitals, assessment, plan) for the month's closed cases.
CLOSED_CASES: list[tuple[str, str, str, dict[str, Any], str, str]] = [
    ("72岁男性，活动后胸闷3个月，休息数分钟缓解，心电图ST段压低0.5mm，是否需要上转？",
     "高血压10年", "氨氯地平 5mg qd", {"systolic": 152, "diastolic": 88, "heart_rate": 76},
     "稳定型心绞痛可能性大，目前低危。", "加用阿司匹林 100mg qd、阿托伐他汀 20mg qn；两周后复查血脂和肝功能。"),
    ("65岁女性，血压控制不佳，三种降压药联用仍在160/95左右，请指导调整方案。",
     "糖尿病8年，血肌酐正常", "氨氯地平、缬沙坦、氢氯噻嗪", {"systolic": 162, "diastolic": 96},
     "难治性高血压，需排除继发因素及服药依从性问题。", "家庭血压监测两周，加用螺内酯 20mg qd，复查血钾。"),
    ("58岁男性，心悸2天，心电图提示房颤，心室率110次/分，血流动力学稳定。",
     "无脑卒中史", "无", {"heart_rate": 112, "systolic": 134, "diastolic": 82},
     "新发房颤，CHA2DS2-VASc 1分。", "美托洛尔缓释片 47.5mg qd 控制心室率；一周后复查心电图，评估抗凝。"),
    ("80岁女性，双下肢水肿1周，夜间不能平卧，既往心衰病史。",
     "慢性心力衰竭3年", "呋塞米 20mg qd", {"systolic": 128, "diastolic": 74, "spo2": 93},
     "慢性心衰急性加重，目前可在基层调整。", "呋塞米加至 40mg qd，每日称体重，三天后电话随访，加重即上转。"),
]


@contextmanager
def _inbox_only() -> Iterator[None]:
    with override_settings(MEDUNION_NOTIFY_SENDERS=[]):
        yield


def build_consults(state: DemoState) -> None:
    with _inbox_only():
        _build(state)


def _patients_of(state: DemoState, username: str, count: int) -> list[Patient]:
    doctor = state.users[username].practitioner_id
    return [p for p in state.patients if p.registered_by_id == doctor][:count]


def _build(state: DemoState) -> None:
    users = state.users
    if not all(k in users for k in ("village", "township", "cardio", "radiology", "patient")):
        return
    actors: dict[str, Actor] = {k: actor_for(users[k]) for k in ("village", "township", "cardio", "radiology",
                                                                  "patient")}
    village, cardio = actors["village"], actors["cardio"]
    now = clock.now()
    community = state.consortia["community"].pk
    mine = _patients_of(state, "village", 12)
    demo_patient = state.demo_patient
    made = 0

    def ask(who: Actor, minutes_ago: float, **fields: Any) -> Any:
        nonlocal made
        with clock.frozen(now - dt.timedelta(minutes=minutes_ago)):
            made += 1
            return ca.create_consult(acting=who, data=ConsultInput(specialty="cardiology", consortium_id=community,
                                                                   **fields))

    def later(minutes_ago: float) -> Any:
        return clock.frozen(now - dt.timedelta(minutes=minutes_ago))

    # A month of closed cases: asked, claimed within hours, answered, confirmed and rated.
    for i in range(24):
        q, history, medication, vitals, assessment, plan = CLOSED_CASES[i % len(CLOSED_CASES)]
        asker = actors["township"] if i % 3 == 0 else village
        patient = mine[i % len(mine)] if asker is village and mine else None
        start = 60 * 24 * (29 - i) + 600
        c = ask(asker, start, question=q, history=history, medication=medication, vitals=vitals,
                urgency=Urgency.URGENT if i % 4 == 0 else Urgency.ROUTINE, patient_id=patient.pk if patient else None)
        with later(start - 40 - (i % 5) * 35):
            ca.claim_consult(acting=cardio, consult_id=c.pk)
        with later(start - 160 - (i % 7) * 60):
            answers.answer_consult(acting=cardio, consult_id=c.pk, data=AnswerInput(
                assessment=assessment, recommendation=Recommendation.MANAGE_LOCALLY, plan=plan))
        with later(start - 400):
            answers.confirm_consult(acting=asker, consult_id=c.pk, rating=RatingInput(
                useful=5 if i % 5 else 4, avoided_referral=i % 6 != 0, avoided_travel=i % 6 != 0))

    if demo_patient is not None:
        # The demo patient's case: claimed, more information asked and given, a word to the
        # patient, then answered — waiting for the village doctor to confirm and rate.
        c = ask(village, 300, patient_id=demo_patient.pk, urgency=Urgency.URGENT,
                question="患者近一周反复胸闷、气短，夜间加重，能否在村卫生室继续观察？需要做哪些检查？",
                history="高血压6年，平时血压控制尚可", medication="硝苯地平控释片 30mg qd",
                vitals={"systolic": 158, "diastolic": 92, "heart_rate": 88, "spo2": 96})
        with later(280):
            ca.claim_consult(acting=cardio, consult_id=c.pk)
        with later(275):
            ca.request_info(acting=cardio, consult_id=c.pk, question="请补充一份十二导联心电图，并说明胸闷与活动的关系。")
        with later(200):
            ca.provide_info(acting=village, consult_id=c.pk,
                            body="已在乡镇卫生院做心电图：窦性心律，V4–V6 导联 T 波低平。胸闷多在爬坡时出现，休息可缓解。")
        with later(190):
            post_message(acting=cardio, consult_id=c.pk, audience=Audience.PATIENT,
                         body="您好，我是心内科医生。请按时服用降压药，每天早晚各量一次血压并记录，胸痛持续超过15分钟请立即拨打120。")
        with later(120):
            post_message(acting=actors["patient"], consult_id=c.pk, audience=Audience.PATIENT,
                         body="好的医生，我这几天都会记录血压。")
        with later(90):
            answers.answer_consult(acting=cardio, consult_id=c.pk, data=AnswerInput(
                assessment="劳力性胸闷，考虑冠心病可能，目前无急性冠脉综合征表现。",
                recommendation=Recommendation.EXAMINATIONS,
                examinations=["心脏彩超", "血脂四项", "运动平板试验（到县医院）"]))

    # Waiting on the asker: the specialist asked for a photo of the ECG.
    if len(mine) > 1:
        c = ask(village, 180, patient_id=mine[1].pk, question="患者心率慢，50次/分左右，头晕，是否需要停用美托洛尔？",
                medication="美托洛尔 25mg bid", vitals={"heart_rate": 50, "systolic": 118, "diastolic": 70})
        with later(150):
            ca.claim_consult(acting=cardio, consult_id=c.pk)
        with later(145):
            ca.request_info(acting=cardio, consult_id=c.pk, question="请拍一张心电图照片上传，并告知最近的血钾结果。")

    # An MDT: a named case to the cardiologist, who invites the imaging hub's radiologist.
    if len(mine) > 2:
        c = ask(village, 600, patient_id=mine[2].pk, target_kind="practitioner",
                target_practitioner_id=cardio.practitioner_id,
                question="胸部CT发现主动脉增宽，患者无症状，下一步如何处理？", history="高血压15年，吸烟30年")
        with later(560):
            ca.claim_consult(acting=cardio, consult_id=c.pk)
        with later(550):
            answers.invite_to_consult(acting=cardio, consult_id=c.pk,
                                      practitioner_ids=[actors["radiology"].practitioner_id],
                                      note="请影像中心协助阅读胸部CT")
        with later(400):
            answers.give_opinion(acting=actors["radiology"], consult_id=c.pk,
                                 body="升主动脉最宽处约4.6cm，未见夹层征象，建议行主动脉CTA明确范围。")

    # The pool: a fresh routine case, and an urgent one nobody has claimed in five hours — overdue.
    ask(actors["township"], 25, question="45岁男性，体检发现心电图右束支传导阻滞，无症状，是否需要进一步检查？")
    if len(mine) > 3:
        ask(village, 300, patient_id=mine[3].pk, urgency=Urgency.URGENT,
            question="68岁女性，血压190/110mmHg，头痛头晕2小时，无肢体无力，已含服卡托普利25mg，下一步如何处理？",
            vitals={"systolic": 186, "diastolic": 108, "heart_rate": 90})
    # What happened before today has been read; today's news is unread.
    Notification.objects.filter(created_at__lt=now - dt.timedelta(days=1)).update(read_at=now)
    state.counts["consultations"] = made
