"""Referral messages and interim notes are creates a phone sends again: with an
``Idempotency-Key`` the retry answers the entry written the first time (``Idempotent-Replayed:
true``, an audited read of the referral) instead of writing it twice (the crash drill,
scripts/faults/crash.py)."""

from __future__ import annotations

from medunion.audit.models import AuditEvent
from medunion.referrals.models import ReferralEntry

from .conftest import accept_body, assert_problem, refer


def _twice(client, path: str, body: dict, key: str):
    first = client.post(path, body, **{"Idempotency-Key": key})
    again = client.post(path, body, **{"Idempotency-Key": key})
    assert first.status_code == 201, first.content
    assert again.status_code == 201, again.content
    assert "Idempotent-Replayed" not in first and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    return first.json()


def test_a_retried_message_is_written_once(rw, api):
    doctor = api("village_doctor_a")
    rid = refer(api, rw)["summary"]["id"]
    reads = AuditEvent.objects.filter(action="referral.view", object_id=rid).count()
    body = {"body": "请带既往心电图。", "audience": "patient"}
    shown = _twice(doctor, f"/referrals/{rid}/messages", body, "m-1")
    assert shown["body"] == body["body"]
    assert ReferralEntry.objects.filter(referral_id=rid, body=body["body"]).count() == 1
    assert AuditEvent.objects.filter(action="referral.view", object_id=rid).count() == reads + 1
    assert_problem(doctor.post(f"/referrals/{rid}/messages", {"body": "别的"}, **{"Idempotency-Key": "m-1"}),
                   422, "idempotency_key_reused")
    assert not ReferralEntry.objects.filter(referral_id=rid, body="别的").exists()


def test_a_retried_interim_note_is_written_once(rw, api):
    cardio = api("cardiologist_tertiary")
    rid = refer(api, rw)["summary"]["id"]
    version = cardio.get(f"/referrals/{rid}").json()["summary"]["version"]
    assert cardio.post(f"/referrals/{rid}/accept", accept_body(expected_version=version)).status_code == 200
    note = _twice(cardio, f"/referrals/{rid}/notes", {"body": "造影示前降支狭窄80%。"}, "n-1")
    assert note["kind"] == "interim_note"
    assert ReferralEntry.objects.filter(referral_id=rid, kind="interim_note").count() == 1
