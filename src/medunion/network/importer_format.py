"""Reading a practitioner roster: CSV (UTF-8 with or without BOM, GB18030, UTF-16) or XLSX.

The result is a :class:`Table`: one dict of canonical column -> text per non-blank data row,
with the row number a spreadsheet shows. Everything wrong with the file as a whole (not a
spreadsheet, a required column missing, too many rows) raises ``ValidationFailed`` on the
``file`` field with a message that says what to do.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from medunion.core.errors import ValidationFailed

from .codes import Specialty, Title

MAX_ROWS = 20_000
# An XLSX is a zip: refuse one that would inflate to more than this (a "zip bomb").
MAX_XLSX_INFLATED_BYTES = 256 * 1024 * 1024
# The header may sit below a title row ("乾县乡村医生花名册"): look this far down for it.
HEADER_SEARCH_ROWS = 10


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # lazy translatable description
    required: bool
    aliases: tuple[str, ...]


COLUMNS: tuple[Column, ...] = (
    Column("name", _("Full name"), True, ("姓名", "名字", "name", "full name")),
    Column("licence_number", _("Practising licence number, 8–20 letters and digits"), True,
           ("执业证书编码", "执业证书编号", "执业证书号", "执业证号", "证书编码", "licence number",
            "license number", "licence", "license")),
    Column("organisation_code", _("Code of a member organisation of the consortium"), True,
           ("机构编码", "机构代码", "医疗机构编码", "执业机构编码", "organisation code", "organization code",
            "org code")),
    Column("title", _("Professional title: a code or its Chinese name"), True, ("职称", "title")),
    Column("specialties", _("Specialties: codes or Chinese names separated by ; or 、"), False,
           ("专业", "专科", "执业专业", "specialties", "specialty", "speciality")),
    Column("years_independent", _("Years of independent practice (0–70)"), False,
           ("执业年限", "独立执业年限", "years independent", "years")),
    Column("gender", _("Sex: 男/女 or male/female"), False, ("性别", "gender", "sex")),
    Column("phone", _("Work phone"), False, ("电话", "联系电话", "手机", "手机号", "phone", "telephone", "mobile")),
    Column("department_code", _("Department code at that organisation"), False,
           ("科室编码", "科室代码", "department code", "department")),
)
REQUIRED = tuple(c.key for c in COLUMNS if c.required)
CHINESE_NAME = {c.key: c.aliases[0] for c in COLUMNS}


def _norm(text: str) -> str:
    """Header cell or code as compared: no brackets' content, no '*', spaces, '_' or '-'; lower case."""
    text = re.sub(r"[（(【\[].*?[)）】\]]", "", text.replace("\ufeff", ""))
    return re.sub(r"[\s_\-*：:]+", "", text).lower()


_HEADER = {_norm(alias): c.key for c in COLUMNS for alias in (c.key, *c.aliases)}

# --- coded values: codes, English labels, the Chinese labels and the names in common use ------
_TITLE_ALIASES = {
    Title.VILLAGE_DOCTOR: ("乡村医生", "村医", "乡村医师"),
    Title.RESIDENT: ("医师", "住院医师", "住院医生", "医士", "中医师"),
    Title.ATTENDING: ("主治医师", "主治医生", "主治中医师"),
    Title.ASSOCIATE_CHIEF: ("副主任医师", "副主任中医师", "副高"),
    Title.CHIEF: ("主任医师", "主任中医师", "正高"),
}
_SPECIALTY_ALIASES = {
    Specialty.GENERAL_PRACTICE: ("全科医学科", "全科医学", "全科"),
    Specialty.INTERNAL_MEDICINE: ("内科",),
    Specialty.CARDIOLOGY: ("心血管内科", "心内科", "心血管科"),
    Specialty.RESPIRATORY: ("呼吸内科", "呼吸科", "呼吸与危重症医学科"),
    Specialty.GASTROENTEROLOGY: ("消化内科", "消化科"),
    Specialty.NEPHROLOGY: ("肾内科", "肾病科", "肾脏内科"),
    Specialty.ENDOCRINOLOGY: ("内分泌科", "内分泌"),
    Specialty.NEUROLOGY: ("神经内科", "神内"),
    Specialty.GENERAL_SURGERY: ("普通外科", "普外科", "外科"),
    Specialty.BREAST_SURGERY: ("乳腺外科",),
    Specialty.ORTHOPAEDICS: ("骨科",),
    Specialty.UROLOGY: ("泌尿外科",),
    Specialty.OBSTETRICS_GYNAECOLOGY: ("妇产科", "妇科", "产科"),
    Specialty.PAEDIATRICS: ("儿科",),
    Specialty.ONCOLOGY: ("肿瘤科", "肿瘤内科"),
    Specialty.OPHTHALMOLOGY: ("眼科",),
    Specialty.ENT: ("耳鼻咽喉科", "耳鼻喉科"),
    Specialty.DERMATOLOGY: ("皮肤科", "皮肤性病科"),
    Specialty.PSYCHIATRY: ("精神科", "精神卫生科"),
    Specialty.EMERGENCY: ("急诊医学科", "急诊科"),
    Specialty.REHABILITATION: ("康复医学科", "康复科"),
    Specialty.TCM: ("中医科", "中医"),
    Specialty.RADIOLOGY: ("医学影像科", "放射科", "影像科"),
    Specialty.ULTRASOUND: ("超声医学科", "超声科"),
    Specialty.PATHOLOGY: ("病理科",),
    Specialty.ELECTROCARDIOLOGY: ("心电图室", "心电诊断科", "心电图科", "心电学"),
}
_GENDER = {"男": "male", "男性": "male", "m": "male", "male": "male",
           "女": "female", "女性": "female", "f": "female", "female": "female"}
SPECIALTY_SEPARATORS = re.compile(r"[;；、,，|/]+")


def _coded(choices: Any, aliases: dict[Any, tuple[str, ...]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for value, label in choices.choices:
        table[_norm(value)] = value
        table[_norm(str(label))] = value
        with override("zh-hans"):
            table[_norm(str(label))] = value
        for alias in aliases.get(value, ()):
            table[_norm(alias)] = value
    return table


_titles: dict[str, str] | None = None
_specialties: dict[str, str] | None = None


def title_code(text: str) -> str | None:
    global _titles
    if _titles is None:
        _titles = _coded(Title, _TITLE_ALIASES)
    return _titles.get(_norm(text))


def specialty_code(text: str) -> str | None:
    global _specialties
    if _specialties is None:
        _specialties = _coded(Specialty, _SPECIALTY_ALIASES)
    key = _norm(text)
    return _specialties.get(key) or (_specialties.get(key + "科") if key else None)


def gender_code(text: str) -> str | None:
    return _GENDER.get(_norm(text))


# --- reading the file ---------------------------------------------------------------------------

@dataclass
class Table:
    rows: list[tuple[int, dict[str, str]]]
    columns: list[str]
    ignored_columns: list[str] = field(default_factory=list)
    kind: str = "csv"
    encoding: str = ""


def _refuse(message: Any, **params: Any) -> ValidationFailed:
    return ValidationFailed(message % params if params else message, field="file")


def max_rows() -> int:
    return int(getattr(settings, "MEDUNION_IMPORT_MAX_ROWS", MAX_ROWS))


def _cell(value: Any) -> str:
    """One cell as text. Excel keeps numbers as floats: 8.0 is "8", a licence number stays whole."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value).replace("\u3000", " ").strip()
    # Excel users type a leading apostrophe to keep digits as text; some exports keep it.
    return text[1:].strip() if text.startswith("'") else text


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _decode(content: bytes) -> tuple[str, str]:
    not_text = _("This is not a text (CSV) file. Save the roster as “CSV UTF-8” or as an .xlsx workbook.")
    if content.startswith(codecs.BOM_UTF8):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        if b"\x00" in content[:8192]:
            raise _refuse(not_text)
        encodings = ("utf-8", "gb18030")
    for encoding in encodings:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _CONTROL.search(text):
            raise _refuse(not_text)
        return text, encoding
    raise _refuse(_("The file's text could not be read: it is neither UTF-8 nor GB18030 text. Save the roster "
                    "as “CSV UTF-8” or as an .xlsx workbook."))


def _csv_rows(content: bytes) -> tuple[Iterator[tuple[int, list[Any]]], str]:
    text, encoding = _decode(content)
    first = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            yield from enumerate(reader, start=1)
        except csv.Error as exc:
            raise _refuse(_("The CSV file is malformed near row %(line)d: %(problem)s"),
                          line=reader.line_num, problem=str(exc)) from exc

    return rows(), encoding


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if sum(i.file_size for i in archive.infolist()) > MAX_XLSX_INFLATED_BYTES:
                raise _refuse(_("The workbook is too large once unpacked; split it into parts."))
            if "xl/workbook.xml" not in archive.namelist():
                raise _refuse(_("This zip file is not an Excel workbook (.xlsx)."))
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        raise _refuse(_("This file is not a readable Excel workbook (.xlsx). Open it in Excel or WPS and "
                        "save it again as .xlsx or as “CSV UTF-8”.")) from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        try:
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, list(row)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
            raise _refuse(_("The workbook is damaged and could not be read to the end; save it again.")) from exc
    finally:
        workbook.close()


def _kind(filename: str, content: bytes) -> str:
    name = filename.lower()
    is_zip = content.startswith(b"PK\x03\x04")
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise _refuse(_("Old Excel files (.xls) are not supported; save the workbook as .xlsx or as “CSV UTF-8”."))
    if name.endswith(".xlsx"):
        if not is_zip:
            raise _refuse(_("The file is named .xlsx but is not an Excel workbook."))
        return "xlsx"
    if name.endswith((".csv", ".txt")):
        if is_zip:
            raise _refuse(_("The file is named .csv but is an Excel workbook; name it .xlsx or save it as CSV."))
        return "csv"
    raise _refuse(_("Upload a .csv or .xlsx file."))


def _find_header(rows: Iterator[tuple[int, list[Any]]]) -> tuple[int, list[str]]:
    first: list[str] | None = None
    seen = 0
    for number, raw in rows:
        cells = [_cell(v) for v in raw]
        if not any(cells):
            continue
        first = first if first is not None else cells
        if sum(1 for c in cells if _norm(c) in _HEADER) >= 2:
            return number, cells
        seen += 1
        if seen >= HEADER_SEARCH_ROWS:
            break
    if first is None:
        raise _refuse(_("The file holds no rows; the first row must name the columns."))
    return 0, first


def _columns(header: list[str]) -> tuple[dict[int, str], list[str]]:
    positions: dict[int, str] = {}
    ignored: list[str] = []
    taken: dict[str, str] = {}
    for index, text in enumerate(header):
        key = _HEADER.get(_norm(text))
        if key is None:
            if text:
                ignored.append(text)
            continue
        if key in taken:
            raise _refuse(_("The columns “%(first)s” and “%(second)s” both mean %(key)s; keep one of them."),
                          first=taken[key], second=text, key=key)
        taken[key] = text
        positions[index] = key
    missing = [k for k in REQUIRED if k not in taken]
    if missing:
        names = "、".join(f"{k} ({CHINESE_NAME[k]})" for k in missing)
        raise ValidationFailed(
            _("The file has no column %(names)s. The first row must name the columns; see the file format.")
            % {"names": names}, field="file", missing_columns=missing)
    return positions, ignored


def read_table(filename: str, content: bytes) -> Table:
    """Parse a roster; raise ``ValidationFailed`` (field ``file``) for anything wrong with the file itself."""
    if not content:
        raise _refuse(_("The file is empty."))
    kind = _kind(filename, content)
    encoding = ""
    if kind == "xlsx":
        rows: Iterable[tuple[int, list[Any]]] = _xlsx_rows(content)
    else:
        rows, encoding = _csv_rows(content)
    iterator = iter(rows)
    _header_line, header = _find_header(iterator)
    positions, ignored = _columns(header)
    limit = max_rows()
    data: list[tuple[int, dict[str, str]]] = []
    for number, raw in iterator:
        values = {key: _cell(raw[i]) if i < len(raw) else "" for i, key in positions.items()}
        if not any(values.values()):
            continue
        if len(data) >= limit:
            raise _refuse(_("The file has more than %(max)d rows; split it into files of at most %(max)d rows."),
                          max=limit)
        data.append((number, values))
    return Table(rows=data, columns=list(positions.values()), ignored_columns=ignored, kind=kind,
                 encoding=encoding)
