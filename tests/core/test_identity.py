import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from medunion.core.errors import ValidationFailed
from medunion.patients.identity import make_resident_id, parse_resident_id

births = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31))


@given(births, st.integers(0, 999), st.booleans())
def test_generated_numbers_validate_and_round_trip(birth, seq, male):
    number = make_resident_id("610424", birth, seq, male)
    parsed = parse_resident_id(number)
    assert ric.calc_check_digit(number) == number[-1]
    assert parsed.birth_date == birth
    assert parsed.sex == ("male" if male else "female")


@given(births, st.integers(0, 999), st.booleans(), st.sampled_from("0123456789X"))
def test_any_other_check_digit_is_refused(birth, seq, male, digit):
    number = make_resident_id("610424", birth, seq, male)
    if digit == number[-1]:
        return
    with pytest.raises(ValidationFailed) as err:
        parse_resident_id(number[:-1] + digit)
    assert "check digit" in str(err.value.message)


@pytest.mark.parametrize("value, words", [
    ("61042419620314002", "18 characters"),
    ("61042419621314002X", "birth date"),
    ("99042419620314002X", "region"),
    ("6104241962031400AX", "17 digits"),
])
def test_clear_reasons(value, words):
    if words == "birth date" or words == "region":
        # give the number a correct check digit so the date or region is what fails
        value = value[:-1] + ric.calc_check_digit(value)
    with pytest.raises(ValidationFailed) as err:
        parse_resident_id(value)
    assert words in str(err.value.message)


def test_born_before_the_county_was_coded_is_still_valid():
    # 610424 (乾县) exists since 1983; people born earlier hold such numbers too.
    number = make_resident_id("610424", dt.date(1950, 5, 1), 3, True)
    assert parse_resident_id(number).birth_date == dt.date(1950, 5, 1)


def test_lowercase_x_is_accepted():
    for seq in range(200):
        number = make_resident_id("610424", dt.date(1980, 1, 1), seq, True)
        if number.endswith("X"):
            assert parse_resident_id(number.lower()).number == number
            return
    pytest.fail("no number with X in 200 tries")
