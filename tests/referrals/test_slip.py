"""The printable slip: a one-page PDF whose text holds the check-in code and address, and whose
QR code holds ``slip.checkin_payload``; the desk checks the patient in with that code."""

from __future__ import annotations

import io
import re

import pytest
import segno
from pypdf import PdfReader

from medunion.core.errors import Conflict, NotFound
from medunion.referrals import slip
from medunion.referrals.actions import checkin_hash
from medunion.referrals.machine import reload
from medunion.referrals.models import Referral
from tests.referrals.conftest import accept, check_in, refer_up

BASE = "https://medunion.example.cn/"


def _pdf(referral: Referral, language: str = "en") -> tuple[str, str]:
    data = slip.render_slip(reload(referral.pk), base_url=BASE, language=language)
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    return page.extract_text(), page.get_contents().get_data().decode("latin-1")


def test_the_slip_is_a_pdf_with_the_code_and_the_checkin_address(rw, monkeypatch):
    r = accept(rw, refer_up(rw, green_channel=True, green_place="bed"))
    code = r.checkin_code
    assert re.fullmatch(r"[A-HJ-KM-NP-Z2-9]{10}", code) and r.checkin_hash == checkin_hash(code)
    payload = slip.checkin_payload(BASE, code)
    assert payload == f"https://medunion.example.cn/referrals/checkin/{code}"
    made: list[str] = []
    real = segno.make

    def spy(content, *args, **kwargs):
        made.append(content)
        return real(content, *args, **kwargs)

    monkeypatch.setattr(slip.segno, "make", spy)
    text, stream = _pdf(r)
    assert made == [payload]  # the QR code holds the check-in address
    assert slip.pretty_code(code) in text and payload in text
    assert "Referral slip" in text
    # The QR code drawn is that payload's: one filled square per dark module.
    dark = sum(sum(row) for row in real(payload, error="m").matrix_iter(border=2))
    assert len(re.findall(r" re\b", stream)) == dark


def test_the_chinese_slip_renders(rw):
    r = accept(rw, refer_up(rw))
    text, _stream = _pdf(r, language="zh-hans")
    assert slip.pretty_code(r.checkin_code) in text and slip.checkin_payload(BASE, r.checkin_code) in text


def test_the_desk_checks_in_by_the_code_as_printed_or_typed(rw):
    r = accept(rw, refer_up(rw, green_channel=True, green_place="slot"))
    typed = slip.pretty_code(r.checkin_code).lower().replace("-", " - ")
    with pytest.raises(NotFound):  # someone not of the receiving hospital
        check_in(rw, r, persona="county_doctor", code=typed)
    r = check_in(rw, r, persona="tertiary_unlicensed", code=typed)
    assert r.state == "arrived" and not r.green_held
    with pytest.raises(Conflict):  # the slip is used
        check_in(rw, r, persona="tertiary_colleague", code=r.checkin_code)


def test_no_code_before_acceptance(rw):
    r = refer_up(rw)
    assert r.checkin_code == "" and r.checkin_hash == ""
    text, _stream = _pdf(r)
    assert "/referrals/checkin/" not in text
