"""The signed report as a PDF (诊断报告): the version in force with its addenda, for printing, for
the patient, and as FHIR ``DiagnosticReport.presentedForm``.

Drawn with ReportLab on A4 in the CJK font every MedUnion PDF uses (``core.pdf``). The output is
invariant (no creation time or random document id inside), so the same signed report always gives
the same bytes. Nothing unsigned is ever drawn.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from medunion.consults.api_schemas import age
from medunion.core.pdf import cjk_font

from .codes import BodySite, Modality
from .models import Examination, Report, ReportKind, ReportStatus

MARGIN = 18 * mm
LABEL_WIDTH = 34 * mm


def current_and_addenda(reports: Iterable[Report]) -> tuple[Report | None, list[Report]]:
    """From an examination's reports: the signed version in force and the addenda added to it."""
    signed = [r for r in reports if r.status == ReportStatus.SIGNED]
    versions = sorted((r for r in signed if r.kind != ReportKind.ADDENDUM), key=lambda r: r.version)
    current = versions[-1] if versions else None
    if current is None:
        return None, []
    addenda = sorted((r for r in signed if r.kind == ReportKind.ADDENDUM and r.version == current.version),
                     key=lambda r: (r.signed_at or r.created_at, r.pk))
    return current, addenda


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines of ``text`` that fit ``width`` (Chinese breaks anywhere; words at spaces if it can)."""
    out: list[str] = []
    for para in (text or "").splitlines() or [""]:
        line = ""
        for ch in para:
            if stringWidth(line + ch, font, size) <= width:
                line += ch
                continue
            cut = line.rfind(" ")
            if ch != " " and cut > len(line) // 2 and line[-1:].isascii():
                out.append(line[:cut])
                line = line[cut + 1:] + ch
            else:
                out.append(line)
                line = ch.lstrip()
        out.append(line)
    return out


class _Page:
    """A cursor down A4 pages: lines that wrap, a new page when one is full."""

    def __init__(self, c: canvas.Canvas, font: str, header: str) -> None:
        self.c, self.font, self.header = c, font, header
        self.width, self.height = A4
        self.page = 1
        self.y = self.height - MARGIN

    def _footer(self) -> None:
        self.c.setFont(self.font, 7)
        self.c.drawString(MARGIN, 10 * mm, self.header)
        self.c.drawRightString(self.width - MARGIN, 10 * mm, str(self.page))

    def need(self, height: float) -> None:
        if self.y - height < 18 * mm:
            self._footer()
            self.c.showPage()
            self.page += 1
            self.y = self.height - MARGIN

    def text(self, text: str, size: float = 10, indent: float = 0, gap: float = 1.45) -> None:
        for line in wrap(text, self.font, size, self.width - 2 * MARGIN - indent):
            self.need(size * gap)
            self.y -= size * gap
            self.c.setFont(self.font, size)
            self.c.drawString(MARGIN + indent, self.y, line)

    def row(self, label: str, value: str, size: float = 9.5) -> None:
        lines = wrap(value or "—", self.font, size, self.width - 2 * MARGIN - LABEL_WIDTH)
        for i, line in enumerate(lines):
            self.need(size * 1.5)
            self.y -= size * 1.5
            self.c.setFont(self.font, size)
            if i == 0:
                self.c.drawString(MARGIN, self.y, f"{label}:")
            self.c.drawString(MARGIN + LABEL_WIDTH, self.y, line)

    def rule(self) -> None:
        self.need(6)
        self.y -= 3
        self.c.setLineWidth(0.5)
        self.c.line(MARGIN, self.y, self.width - MARGIN, self.y)
        self.y -= 3

    def section(self, title: str, body: str) -> None:
        if not (body or "").strip():
            return
        self.need(28)
        self.y -= 4
        self.text(title, size=11)
        self.text(body, size=10, indent=4 * mm)

    def finish(self) -> None:
        self._footer()
        self.c.showPage()


def _signature(page: _Page, r: Report) -> None:
    page.y -= 2
    page.text(_("Signed by %(name)s (%(organisation)s) on %(when)s")
              % {"name": r.author_name, "organisation": r.author_organisation or "—", "when": _when(r.signed_at)},
              size=9)
    page.text(f"SHA-256 {r.content_sha256}", size=7)


def render_report(exam: Examination, reports: Iterable[Report], *, language: str = "zh-hans") -> bytes:
    """The PDF of the examination's signed report (the version in force and its addenda), in
    ``language``. Expects ``patient``, ``requester``, ``requesting_organisation`` and ``hub``
    loaded with the examination. Raises ``ValueError`` when nothing is signed."""
    current, addenda = current_and_addenda(reports)
    if current is None:
        raise ValueError("the examination has no signed report")
    font = cjk_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=True)
    with translation.override(language):
        modality = _label(Modality, exam.modality)
        title = _("%(modality)s examination report") % {"modality": modality}
        page = _Page(c, font, f"{exam.hub.name} / {exam.accession} / {title}")
        c.setTitle(f"{title} {exam.accession}")
        c.setAuthor(exam.hub.name)
        c.setSubject(title)
        page.text(exam.hub.name, size=16, gap=1.6)
        page.text(title, size=13, gap=1.8)
        if current.kind == ReportKind.AMENDED:
            page.text(_("Amended report, version %(version)d. Reason: %(reason)s")
                      % {"version": current.version, "reason": current.reason}, size=9.5)
        page.rule()
        patient = exam.patient
        site = _label(BodySite, exam.body_site) + (f" ({exam.body_site_text})" if exam.body_site_text else "")
        page.row(_("Patient"), f"{patient.name} / {patient.get_sex_display()} / "
                               + _("%(age)d years") % {"age": age(patient.birth_date)})
        page.row(_("Accession number"), exam.accession)
        page.row(_("Examination"), f"{modality} / {site}")
        page.row(_("Requested by"), f"{exam.requesting_organisation.name} / {exam.requester.name}")
        page.row(_("Sent for reading"), _when(exam.submitted_at))
        page.row(_("Clinical question"), exam.question)
        page.rule()
        page.section(_("Findings"), current.findings)
        page.section(_("Impression"), current.impression)
        page.section(_("Recommendation"), current.recommendation)
        codes = [f"{code['code']} {code.get('display', '')}" for code in current.codes or []]
        page.section(_("Coded diagnoses"), "\n".join(codes))
        measured = [f"{m.get('display', m['code'])}: {m['value']:g} {m.get('unit', '')} (LOINC {m['code']})"
                    for m in current.measurements or []]
        page.section(_("Measurements"), "\n".join(measured))
        if current.critical:
            page.section(_("CRITICAL FINDING"), current.critical_note)
        _signature(page, current)
        for addendum in addenda:
            page.rule()
            page.section(_("Addendum of %(when)s") % {"when": _when(addendum.signed_at)}, addendum.findings)
            if addendum.critical:
                page.section(_("CRITICAL FINDING"), addendum.critical_note)
            _signature(page, addendum)
        page.finish()
    c.save()
    return buf.getvalue()


def report_name(exam: Examination) -> str:
    return f"report-{exam.accession}.pdf"
