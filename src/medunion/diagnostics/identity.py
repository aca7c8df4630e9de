"""Is this DICOM instance of the registered patient? (A scan of the wrong patient read at the hub
and filed in someone else's record is the error this stops.)

The header's patient is compared with the registered patient on what both carry:

- Patient ID (0010,0020): when it is a resident ID, it must be the patient's (compared by its
  keyed hash; the number itself is never stored or logged);
- date of birth and sex, when the header has them;
- the name: written in Chinese it must be the patient's; in Latin letters (``ZHANG^SAN``, as
  most scanners write it) it must be the patient's name in pinyin, tones and order of the
  ``^``-separated parts aside, in any reading of a character that has several (surnames such as
  曾 Zeng or 单 Shan) and with ü written v, u or yu.

A header that carries no identity at all (anonymised) cannot be matched and is refused too.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.utils.text import get_text_list
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from medunion.core.errors import ValidationFailed
from medunion.files.dicom import DicomPatient

_CJK = re.compile(r"[\u3400-\u9fff]")
_SEX = {"male": "M", "female": "F"}


def _latin(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text.lower() if ch.isalnum() and ch.isascii())


_MAX_READINGS = 64  # spellings compared per name (a handful in practice)


def _spellings(syllable: str) -> set[str]:
    """ü as pypinyin writes it (``lv``) and as scanners and passports do (``lu``, ``lyu``)."""
    return {syllable, syllable.replace("v", "u"), syllable.replace("v", "yu")} if "v" in syllable else {syllable}


def _pinyin_forms(name: str) -> set[str]:
    """The name in pinyin, surname first or last: its usual reading, and the other readings of
    characters with several (曾 ceng/zeng, 单 dan/shan, 解 jie/xie — surnames read otherwise
    than the word), each ü spelled v, u or yu."""
    from itertools import islice, product

    from pypinyin import Style, lazy_pinyin, pinyin

    usual = lazy_pinyin(name, style=Style.NORMAL, errors="ignore")
    if not usual:
        return set()
    readings = pinyin(name, style=Style.NORMAL, heteronym=True, errors="ignore")
    if len(readings) != len(usual):
        readings = [[s] for s in usual]
    options = [sorted(set().union(*(_spellings(r) for r in [u, *others])))
               for u, others in zip(usual, readings, strict=True)]
    forms: set[str] = set()
    for combo in [tuple(usual), *islice(product(*options), _MAX_READINGS)]:
        # A one-character surname, or a compound one (欧阳, 司马) when the name is long enough.
        for cut in (1, 2) if len(combo) > 2 else (1,):
            surname, given = "".join(combo[:cut]), "".join(combo[cut:])
            for s, g in product(_spellings(surname), _spellings(given)):
                forms |= {_latin(s + g), _latin(g + s)}
    return forms


def names_match(header_name: str, registered: str) -> bool:
    parts = [p for p in re.split(r"[\^=]", header_name) if p.strip()]
    if _CJK.search(header_name):
        cjk = "".join(ch for ch in header_name if _CJK.match(ch))
        return cjk == "".join(ch for ch in registered if _CJK.match(ch))
    latin = _latin("".join(parts))
    if not _CJK.search(registered):
        return latin == _latin(registered) or _latin("".join(reversed(parts))) == _latin(registered)
    return latin in _pinyin_forms(registered)


def check_patient(header: DicomPatient, patient: Any) -> None:
    """Raise ``ValidationFailed`` (field ``file``, code ``wrong_patient``) unless the header's
    patient is the registered ``patient`` (a ``patients.Patient``)."""
    from medunion.patients.actions import id_hash
    from medunion.patients.identity import parse_resident_id

    if not (header.name or header.id or header.birth_date):
        raise ValidationFailed(_("The DICOM file carries no patient identity (it was anonymised), so it cannot be "
                                 "matched to this patient. Export it from the scanner with the patient's details."),
                               field="file", reason="no_identity")
    differs: list[Any] = []
    if header.id:
        try:
            resident = parse_resident_id(header.id)
        except Exception:  # not a resident ID: a scanner's own number, not comparable
            resident = None
        if resident is not None and patient.id_number_hash and id_hash(resident.number) != patient.id_number_hash:
            differs.append(_("resident ID"))
    if header.birth_date and patient.birth_date and header.birth_date != patient.birth_date:
        differs.append(_("date of birth"))
    sex = _SEX.get(patient.sex or "")
    if header.sex in ("M", "F") and sex and header.sex != sex:
        differs.append(_("sex"))
    if header.name and not names_match(header.name, patient.name):
        differs.append(pgettext_lazy("person", "name"))
    if differs:
        raise ValidationFailed(
            _("This image is of another patient: its %(fields)s do not match the registered patient. Nothing was "
              "stored; check that you chose the right patient and the right files.")
            % {"fields": get_text_list([str(d) for d in differs], _("and"))},
            field="file", reason="wrong_patient")
