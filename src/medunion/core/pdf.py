"""What every PDF MedUnion draws (ReportLab) shares: the font for Chinese text.

ReportLab's built-in CID font STSong-Light is supplied by the PDF reader itself, so no font file
ships with MedUnion. It has no glyph for some punctuation (the middle dot): separate with " / ".
"""

from __future__ import annotations

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

CJK_FONT = "STSong-Light"


def cjk_font() -> str:
    """Register the CJK font with ReportLab (once) and return its name."""
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT
