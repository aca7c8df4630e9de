"""What the remote-diagnosis pages share: a signed report's coded parts in words."""

from __future__ import annotations

from typing import Any

from medunion.diagnostics.codes import IMPRESSION_CODES, MEASUREMENTS


def annotate_report(report: Any) -> Any:
    """The report with its coded impressions and measurements labelled in the reader's language
    (``code_rows``: (code, label); ``measure_rows``: (label, value, unit)); None stays None."""
    if report is None:
        return None
    codes = []
    for c in report.codes or []:
        code = str(c.get("code", "")) if isinstance(c, dict) else str(c)
        known = IMPRESSION_CODES.get(code)
        codes.append((code, str(known.label) if known else (c.get("display", "") if isinstance(c, dict) else "")))
    measures = []
    for m in report.measurements or []:
        if not isinstance(m, dict):
            continue
        known_m = MEASUREMENTS.get(str(m.get("code", "")))
        value = m.get("value")
        shown = f"{value:g}" if isinstance(value, int | float) else str(value or "")
        measures.append((str(known_m.label) if known_m else str(m.get("display", "")), shown, m.get("unit", "")))
    report.code_rows = codes
    report.measure_rows = measures
    return report

