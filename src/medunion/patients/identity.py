"""The 18-character resident ID number (居民身份证号码, GB 11643-1999).

Validation and the birth date come from ``python-stdnum`` (``stdnum.cn.ric``); the sex is
the parity of the 17th character (odd: male).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from stdnum import exceptions as stdnum_errors
from stdnum import numdb
from stdnum.cn import ric

from medunion.core import clock
from medunion.core.errors import ValidationFailed


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: dt.date
    sex: str

    @property
    def last4(self) -> str:
        return self.number[-4:]


def parse_resident_id(value: str) -> ResidentId:
    raw = (value or "").strip().replace(" ", "")
    if len(raw) != 18:
        raise ValidationFailed(_("A resident ID number has 18 characters."), field="id_number")
    number = ric.compact(raw).upper()
    if not number[:-1].isdigit() or not (number[-1].isdigit() or number[-1] == "X"):
        raise ValidationFailed(_("A resident ID number has 17 digits followed by a digit or X."), field="id_number")
    if number[-1] != ric.calc_check_digit(number):
        raise ValidationFailed(_("The check digit of this ID number is wrong; please check the number."),
                               field="id_number")
    try:
        birth = ric.get_birth_date(number)
    except stdnum_errors.ValidationError as exc:
        raise ValidationFailed(_("The birth date in this ID number is not a real date."),
                               field="id_number") from exc
    if birth > clock.today() or birth.year < 1880:
        raise ValidationFailed(_("The birth date in this ID number is not a real date."), field="id_number")
    if not region_known(number[:6]):
        raise ValidationFailed(_("The region code in this ID number does not exist."), field="id_number")
    sex = "male" if int(number[16]) % 2 == 1 else "female"
    return ResidentId(number=number, birth_date=birth, sex=sex)


def region_known(code6: str) -> bool:
    """Whether the first six digits name a division that has ever existed.

    ``ric.get_birth_place`` also requires the division to have existed in the birth year, but
    numbers are issued with the division code of the place of registration at issuance, so
    people born before a county was (re)coded hold perfectly valid numbers; that check would
    turn them away.
    """
    results = numdb.get("cn/loc").info(code6)
    return any("county" in props for _part, props in results)


def make_resident_id(region6: str, birth: dt.date, sequence: int, male: bool) -> str:
    """Build a valid ID number (the demo's and tests' synthetic patients)."""
    seq = sequence % 1000
    if (seq % 2 == 1) != male:
        seq = (seq + 1) % 1000
        if (seq % 2 == 1) != male:
            seq = (seq + 1) % 1000
    body = f"{region6}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")
