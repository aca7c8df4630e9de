"""The printable referral slip (转诊单): a one-page PDF the patient carries, with where to go,
when, what to bring, and a QR code the receiving desk scans to check the patient in.

Drawn with ReportLab; Chinese text uses ReportLab's built-in CID font (STSong-Light), which PDF
readers supply themselves, so no font file ships with MedUnion. The QR code (segno) holds the
check-in address; the same code is printed beneath it for typing in when there is no scanner.
"""

from __future__ import annotations

import io
from typing import Any

import segno
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.graphics import renderPDF
from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from medunion.core.pdf import CJK_FONT, cjk_font

from .models import Referral

FONT = CJK_FONT
CHECKIN_PATH = "/referrals/checkin/{code}"


def checkin_payload(base_url: str, code: str) -> str:
    """What the QR code holds: the desk's check-in address for this slip."""
    return base_url.rstrip("/") + CHECKIN_PATH.format(code=code)


def pretty_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}" if len(code) == 10 else code


def _qr_drawing(payload: str, size: float) -> Drawing:
    qr = segno.make(payload, error="m")
    matrix = list(qr.matrix_iter(border=2))
    n = len(matrix)
    cell = size / n
    d = Drawing(size, size)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                d.add(Rect(x * cell, size - (y + 1) * cell, cell, cell, fillColor="black", strokeColor=None))
    return d


def _lines(text: str, width: int) -> list[str]:
    out: list[str] = []
    for para in (text or "").splitlines() or [""]:
        while len(para) > width:
            out.append(para[:width])
            para = para[width:]
        out.append(para)
    return out


def render_slip(referral: Referral, *, base_url: str, language: str = "zh-hans") -> bytes:
    """The slip of an accepted referral, in ``language``."""
    cjk_font()
    buf = io.BytesIO()
    width, height = A5
    c = canvas.Canvas(buf, pagesize=A5)
    code = referral.checkin_code
    with translation.override(language):
        c.setTitle(_("Referral slip"))
        y = height - 16 * mm
        c.setFont(FONT, 15)
        c.drawString(12 * mm, y, _("Referral slip"))
        c.setFont(FONT, 9)
        y -= 6 * mm
        # (" / ": the CID font has no middle dot)
        c.drawString(12 * mm, y, f"{referral.consortium.name} / {referral.get_direction_display()}"
                     + (f" / {_('green channel')}" if referral.green_channel else ""))
        patient = referral.patient
        rows = [
            (_("Patient"), patient.name),
            (pgettext("referral", "From"), f"{referral.sender_organisation.name} / {referral.sender.name}"),
            (pgettext("referral", "To"), referral.target_organisation.name + (f" / {referral.target_department.name}"
                                                           if referral.target_department else "")),
            (_("Accepted by"), referral.receiver.name if referral.receiver else ""),
            (_("When"), timezone.localtime(referral.appointment_at).strftime("%Y-%m-%d %H:%M")
             if referral.appointment_at else ""),
            (_("Where to go"), referral.location),
            (_("Address"), referral.target_organisation.address),
        ]
        y -= 4 * mm
        for label, value in rows:
            y -= 6 * mm
            c.setFont(FONT, 9)
            c.drawString(12 * mm, y, f"{label}:")
            c.setFont(FONT, 10)
            c.drawString(38 * mm, y, str(value or "—")[:60])
        y -= 8 * mm
        c.setFont(FONT, 9)
        c.drawString(12 * mm, y, f"{_('What to bring')}:")
        c.setFont(FONT, 10)
        for line in _lines(referral.bring or "—", 40)[:6]:
            y -= 5 * mm
            c.drawString(16 * mm, y, line)
        size = 42 * mm
        if code:
            renderPDF.draw(_qr_drawing(checkin_payload(base_url, code), size), c, width - size - 10 * mm, 12 * mm)
            c.setFont(FONT, 9)
            c.drawString(12 * mm, 30 * mm, _("At the desk, scan the code or type:"))
            c.setFont("Courier-Bold", 14)
            c.drawString(12 * mm, 23 * mm, pretty_code(code))
            c.setFont(FONT, 7)
            c.drawString(12 * mm, 17 * mm, checkin_payload(base_url, code)[:70])
        c.showPage()
        c.save()
    return buf.getvalue()


def slip_name(referral: Any) -> str:
    return f"referral-{str(referral.pk)[:8]}.pdf"
