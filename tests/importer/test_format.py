"""Reading roster files: encodings, XLSX, header aliases, and files that are not what they claim."""

from __future__ import annotations

import io
import zipfile

import pytest

from medunion.core.errors import ValidationFailed
from medunion.network.importer_format import read_table, specialty_code, title_code

from .files import HEADER_EN, csv_bytes, xlsx_bytes

ROW = ["张卫国", "V610424000001", "V001", "乡村医生", "全科;内科", "8", "男", "13800000001"]


def _refusal(filename: str, content: bytes) -> str:
    with pytest.raises(ValidationFailed) as info:
        read_table(filename, content)
    assert info.value.field == "file"
    return str(info.value.message)


@pytest.mark.parametrize(("encoding", "bom"), [("utf-8", False), ("utf-8", True), ("gb18030", False)])
def test_csv_in_utf8_with_and_without_bom_and_in_gb18030(encoding, bom):
    table = read_table("村医.csv", csv_bytes([ROW], encoding=encoding, bom=bom))
    assert table.kind == "csv"
    assert table.rows == [(2, {"name": "张卫国", "licence_number": "V610424000001", "organisation_code": "V001",
                                "title": "乡村医生", "specialties": "全科;内科", "years_independent": "8",
                                "gender": "男", "phone": "13800000001"})]
    assert table.encoding == ("utf-8-sig" if bom else encoding)


def test_gb18030_is_not_mistaken_for_utf8():
    content = csv_bytes([ROW], encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    assert read_table("x.csv", content).rows[0][1]["name"] == "张卫国"


def test_utf16_tab_separated_text_from_excel():
    content = csv_bytes([ROW], encoding="utf-16", delimiter="\t")
    assert read_table("x.csv", content).rows[0][1]["organisation_code"] == "V001"


def test_semicolon_separated_csv_and_english_headers():
    content = csv_bytes([["Li", "V610424000009", "V002", "resident", "cardiology", "", "", ""]],
                        header=HEADER_EN, delimiter=";")
    table = read_table("x.csv", content)
    assert table.rows[0][1]["title"] == "resident" and table.rows[0][1]["licence_number"] == "V610424000009"


def test_xlsx_with_numbers_a_title_row_and_blank_rows():
    rows = [["张卫国", 110610000000001, "V001", "主任医师", "心内科、内科", 8.0, "男", 13800000001], [None] * 8,
            ["李秀兰", "V610424000002", "V002", "乡村医生", None, None, "女", None]]
    content = xlsx_bytes(rows, header=["姓名（必填）", "执业证书编码*", "机构编码", "职称", "专业", "执业年限", "性别",
                                       "联系电话", "备注"],
                         above=[["乾县乡村医生花名册"], []])
    table = read_table("roster.xlsx", content)
    assert table.kind == "xlsx"
    assert [line for line, _ in table.rows] == [4, 6]  # as the spreadsheet numbers them
    first = table.rows[0][1]
    assert first["licence_number"] == "110610000000001" and first["years_independent"] == "8"
    assert first["phone"] == "13800000001"
    assert table.ignored_columns == ["备注"]


def test_missing_required_column_is_named():
    content = csv_bytes([["张卫国", "V001", "乡村医生"]], header=["姓名", "机构编码", "职称"])
    message = _refusal("x.csv", content)
    assert "licence_number" in message and "执业证书编码" in message
    assert "organisation_code" not in message


def test_a_file_without_any_known_column_names_all_required_ones():
    message = _refusal("x.csv", b"a,b,c\n1,2,3\n")
    for column in ("name", "licence_number", "organisation_code", "title"):
        assert column in message


def test_the_same_column_twice_is_refused():
    content = csv_bytes([ROW + ["x"]], header=[*HEADER_EN, "姓名"])
    assert "keep one of them" in _refusal("x.csv", content)


@pytest.mark.parametrize(("filename", "content", "expected"), [
    ("x.xlsx", b"name,licence_number\n", "is not an Excel workbook"),
    ("x.csv", xlsx_bytes([ROW]), "is an Excel workbook"),
    ("x.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Old Excel files (.xls)"),
    ("x.csv", bytes(range(256)) * 8, "not a text (CSV) file"),
    ("x.csv", b"\x80\x81" * 50, "could not be read"),
    ("x.pdf", b"%PDF-1.4", "Upload a .csv or .xlsx file"),
    ("x.csv", b"", "The file is empty"),
])
def test_files_that_are_not_what_they_claim(filename, content, expected):
    assert expected in _refusal(filename, content)


def test_a_zip_that_is_not_a_workbook_and_a_truncated_workbook():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "hi")
    assert "not an Excel workbook" in _refusal("x.xlsx", buffer.getvalue())
    truncated = xlsx_bytes([ROW])[:300]
    assert "Excel workbook" in _refusal("x.xlsx", truncated)


def test_row_cap(settings):
    settings.MEDUNION_IMPORT_MAX_ROWS = 3
    assert len(read_table("x.csv", csv_bytes([ROW] * 3)).rows) == 3
    message = _refusal("x.csv", csv_bytes([ROW] * 4))
    assert "more than 3 rows" in message


def test_binary_bytes_far_into_a_csv_are_refused():
    rows = [[f"N{i}", f"V61042400{i:04d}", "V001", "resident"] for i in range(400)]
    content = csv_bytes(rows, header=HEADER_EN[:4]) + b"A,V6104240\x00001,V001,resident\r\n"
    assert "not a text (CSV) file" in _refusal("x.csv", content)


def test_an_unclosed_quote_is_refused_with_the_row():
    content = csv_bytes([ROW], header=HEADER_EN) + b'B,"V610424000002,V001,resident\r\n' + b"x" * 140_000
    assert "malformed near row" in _refusal("x.csv", content)


def test_titles_and_specialties_accept_codes_and_chinese_names():
    assert title_code("村医") == title_code("village_doctor") == title_code("Village Doctor") == "village_doctor"
    assert title_code("主治医师") == "attending" and title_code("副主任医师") == "associate_chief"
    assert title_code("院长") is None
    assert specialty_code("心内科") == specialty_code("心血管内科") == specialty_code("cardiology") == "cardiology"
    assert specialty_code("儿") == "paediatrics"  # "儿" + "科"
    assert specialty_code("针灸推拿") is None
