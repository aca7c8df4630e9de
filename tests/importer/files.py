"""Roster files for the tests, written the way Excel and WPS write them."""

from __future__ import annotations

import io
from collections.abc import Sequence

import openpyxl

HEADER_ZH = ["姓名", "执业证书编码", "机构编码", "职称", "专业", "执业年限", "性别", "电话"]
HEADER_EN = ["name", "licence_number", "organisation_code", "title", "specialties", "years_independent", "gender",
             "phone"]


def csv_bytes(rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER_ZH, encoding: str = "utf-8",
              bom: bool = False, delimiter: str = ",") -> bytes:
    lines = [delimiter.join(header)] + [delimiter.join("" if v is None else str(v) for v in r) for r in rows]
    data = ("\r\n".join(lines) + "\r\n").encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def xlsx_bytes(rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER_ZH,
               above: Sequence[Sequence[object]] = ()) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in above:
        ws.append(list(r))
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def village_doctors(n: int, start: int = 1, org: str = "V001") -> list[list[object]]:
    """n valid rows of village doctors with fresh licence numbers."""
    return [[f"村医{i:05d}", f"VD{610424000000 + i}", org, "乡村医生", "全科", 5, "男" if i % 2 else "女",
             f"138{i:08d}"] for i in range(start, start + n)]
