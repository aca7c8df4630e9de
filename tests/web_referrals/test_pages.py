
import pytest
from django.test import Client

from medunion.accounts.models import User
from medunion.core import clock
from medunion.referrals.models import Referral
from tests.referrals.conftest import START

pytestmark = pytest.mark.django_db


def client(persona, lang="en"):
    c = Client(headers={"accept-language": lang})
    c.force_login(User.objects.get(username=persona))
    return c


def test_pages_render(rw, settings):
    settings.MEDUNION_REQUIRE_MFA = False
    with clock.frozen(START):
        c = client("village_doctor_a")
        r = c.get("/referrals/new")
        assert r.status_code == 200, r.content[:3000]
        r = c.get(f"/referrals/new?patient={rw.patient.pk}")
        assert r.status_code == 200
        body = r.content.decode()
        assert "refer-form" in body
        dest = f"{rw.orgs['tertiary'].pk}/{rw.cardiology.pk}"
        r = c.post("/referrals/new", {"once": "a" * 32, "patient": rw.patient.pk, "direction": "up", "urgency": "urgent",
                                      "destination": dest, "green_channel": "on", "green_place": "bed",
                                      "reason": "胸痛", "clinical_summary": "ST压低"})
        assert r.status_code == 302, r.content.decode()[:5000]
        ref = Referral.objects.get()
        for url in ("/referrals", f"/referrals/{ref.pk}", "/referrals/tasks", "/referrals/checkin",
                    f"/referrals/availability?destination={dest}"):
            resp = c.get(url)
            assert resp.status_code == 200, (url, resp.content.decode()[:3000])
        cz = client("cardiologist_tertiary", "zh-hans")
        resp = cz.get(f"/referrals/{ref.pk}")
        assert resp.status_code == 200
        resp = cz.post(f"/referrals/{ref.pk}/accept", {"once": "b" * 32, "version": ref.version, "admit_kind": "bed",
                                                       "appointment_at": "2026-03-02T15:00", "location": "5楼12床",
                                                       "bring": "身份证"})
        assert resp.status_code == 302, resp.content.decode()[:5000]
        ref.refresh_from_db()
        resp = cz.get(f"/referrals/{ref.pk}/slip.pdf")
        assert resp.status_code == 200 and resp.content.startswith(b"%PDF")
        resp = cz.get(f"/referrals/checkin/{ref.checkin_code}")
        assert resp.status_code == 200
        resp = cz.post(f"/referrals/checkin/{ref.checkin_code}")
        assert resp.status_code == 302
        p = client("patient_a", "zh-hans")
        assert p.get("/me/referrals").status_code == 200
        resp = p.get(f"/me/referrals/{ref.pk}")
        assert resp.status_code == 200 and "ST压低" not in resp.content.decode()
        co = client("coordinator")
        assert co.get("/network/referrals").status_code == 200
        assert co.get("/network/referrals/capacity").status_code == 200
        assert client("commission_viewer").get("/network/referrals").status_code == 200
        assert client("village_doctor_b").get("/referrals/new").status_code == 403
