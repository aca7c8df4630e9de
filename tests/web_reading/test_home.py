"""The clinician's home: readers see what waits in the worklist and in their reading; the
requesting side sees the critical findings it must acknowledge (each shown is a recorded read);
the navigation offers the examinations to everyone and the worklist to readers only."""

from __future__ import annotations

import re

import pytest

from medunion.audit.models import AuditEvent
from medunion.diagnostics.actions_reading import acknowledge_critical, claim
from medunion.diagnostics.models import CriticalFinding
from tests.diagnostics.conftest import signed_ct, uploaded_ct

from .conftest import client, page

pytestmark = pytest.mark.django_db


def nav(body: str) -> list[str]:
    block = re.search(r'<nav class="main-nav".*?</nav>', body, re.S).group(0)
    return re.findall(r'href="([^"]+)"', block)


def test_readers_see_their_counts_and_the_worklist_in_the_navigation(dw):
    uploaded_ct(dw, slices=1)
    claim(acting=dw.actor("hub_radiologist"), examination_id=uploaded_ct(dw, slices=1, body_site="chest").pk)
    body = page(client("hub_radiologist").get("/"))
    section = re.search(r'data-testid="home-reading".*?</section>', body, re.S).group(0)
    assert "1 examination waiting to be read" in section and "1 examination in my reading" in section
    assert 'href="/reading?list=mine"' in section
    assert "/reading" in nav(body) and "/examinations" in nav(body)
    doctor = page(client("township_doctor").get("/"))
    assert 'data-testid="home-reading"' not in doctor
    assert "/reading" not in nav(doctor) and "/examinations" in nav(doctor)


def test_the_requesting_side_is_shown_critical_findings_until_acknowledged(dw):
    exam = signed_ct(dw, critical=True)
    finding = CriticalFinding.objects.get(examination=exam)
    before = AuditEvent.objects.filter(action="examination.list", object_id=str(exam.pk)).count()
    body = page(client("township_doctor").get("/"))
    section = re.search(r'data-testid="home-critical".*?</section>', body, re.S).group(0)
    assert f'href="/examinations/{exam.pk}"' in section and "陈桂芳" in section and "右侧基底节区急性脑出血" in section
    assert AuditEvent.objects.filter(action="examination.list", object_id=str(exam.pk)).count() == before + 1
    # Not the reader's to acknowledge, nor an unrelated clinician's.
    assert 'data-testid="home-critical"' not in page(client("hub_radiologist").get("/"))
    assert 'data-testid="home-critical"' not in page(client("village_doctor_b").get("/"))
    acknowledge_critical(acting=dw.actor("township_doctor"), finding_id=finding.pk)
    assert 'data-testid="home-critical"' not in page(client("township_doctor").get("/"))
