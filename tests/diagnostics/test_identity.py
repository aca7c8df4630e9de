"""Is this DICOM header of the registered patient? Names in Chinese and in pinyin (either order,
tones, the readings of surnames with several, ü spelled three ways), the resident ID compared by
its keyed hash, birth date and sex; and the header of pydicom's real files read for it."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from medunion.core.errors import ValidationFailed
from medunion.diagnostics.identity import check_patient, names_match
from medunion.files import dicom
from medunion.files.dicom import DicomPatient
from medunion.patients.identity import make_resident_id
from tests.diagnostics.conftest import dicom_testfile, identity_of, restamp

BIRTH = dt.date(1962, 3, 14)


@pytest.mark.parametrize(("header", "registered"), [
    ("陈桂芳", "陈桂芳"),
    ("陈^桂芳", "陈桂芳"),  # the ideographic group, ^-separated
    ("CHEN^GUIFANG=陈^桂芳", "陈桂芳"),  # alphabetic=ideographic: the Chinese decides
    ("CHEN^GUIFANG", "陈桂芳"),
    ("GUIFANG^CHEN", "陈桂芳"),  # given name first
    ("Chen^Guifang", "陈桂芳"),
    ("chen guifang", "陈桂芳"),
    ("CHEN^GUI FANG", "陈桂芳"),
    ("Chén^Guìfāng", "陈桂芳"),  # with tone marks
    ("CHEN^GUIFANG^^^", "陈桂芳"),  # empty trailing components
    ("ZENG^XIAOXIAN", "曾小贤"),  # 曾 is ceng in words, Zeng as a surname
    ("SHAN^TIANFANG", "单田芳"),  # 单 dan / Shan
    ("XIE^XIAODONG", "解晓东"),  # 解 jie / Xie
    ("LV^XIUYING", "吕秀英"),  # ü as pypinyin writes it
    ("LU^XIUYING", "吕秀英"),  # as most scanners do
    ("LYU^XIUYING", "吕秀英"),  # as the passport does
    ("OUYANG^NANA", "欧阳娜娜"),  # a compound surname
    ("NANA^OUYANG", "欧阳娜娜"),
    ("SMITH^JOHN", "John Smith"),  # a name registered in Latin letters
    ("JOHN^SMITH", "John Smith"),
])
def test_names_that_match(header, registered):
    assert names_match(header, registered)


@pytest.mark.parametrize(("header", "registered"), [
    ("王芳", "陈桂芳"),
    ("陈桂", "陈桂芳"),  # part of the name is not the name
    ("CHEN^GUIFANG=王^芳", "陈桂芳"),  # the Chinese group decides, and it differs
    ("WANG^FANG", "陈桂芳"),
    ("CHEN", "陈桂芳"),
    ("CHEN^GUI", "陈桂芳"),
    ("CHEN^GUIFEN", "陈桂芳"),
    ("CHENG^GUIFANG", "陈桂芳"),
    ("CompressedSamples^CT1", "陈桂芳"),  # pydicom's CT_small as shipped
    ("ZHANG^XIAOXIAN", "曾小贤"),
    ("SMITH^JANE", "John Smith"),
])
def test_names_that_do_not_match(header, registered):
    assert not names_match(header, registered)


# --- check_patient: the header against the registered patient ---------------------------------------

def _header(dw, **changes) -> DicomPatient:
    base = {"name": "CHEN^GUIFANG", "id": dw.world.patients["patient_a_id_number"], "sex": "F", "birth_date": BIRTH}
    return DicomPatient(**{**base, **changes})


def _refusal(dw, header: DicomPatient) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as err:
        check_patient(header, dw.patient)
    assert err.value.field == "file"
    return err.value


def test_the_registered_patient_passes_with_all_or_any_of_her_identity(dw):
    assert (dw.patient.birth_date, dw.patient.sex) == (BIRTH, "female")
    check_patient(_header(dw), dw.patient)
    check_patient(_header(dw, name="陈桂芳"), dw.patient)
    check_patient(_header(dw, id="", sex="", birth_date=None), dw.patient)  # the name alone
    check_patient(_header(dw, name="", sex="", birth_date=None), dw.patient)  # the resident ID alone
    check_patient(_header(dw, id="1CT1"), dw.patient)  # a scanner's own number is not comparable
    check_patient(_header(dw, sex="O"), dw.patient)  # "other" says nothing about her
    check_patient(_header(dw, id=dw.world.patients["patient_a_id_number"].lower()), dw.patient)


def test_another_resident_id_is_another_patient(dw):
    other = make_resident_id("610424", BIRTH, 23, male=False)  # same birth date, same sex
    assert other != dw.world.patients["patient_a_id_number"]
    err = _refusal(dw, _header(dw, id=other))
    assert err.details["reason"] == "wrong_patient"
    assert "its resident ID do not match" in str(err.message) and "Nothing was stored" in str(err.message)
    assert other not in str(err.message)  # the number itself is never echoed


@pytest.mark.parametrize(("changes", "named"), [
    ({"birth_date": dt.date(1962, 3, 15)}, "date of birth"),
    ({"sex": "M"}, "sex"),
    ({"name": "WANG^FANG"}, "name"),
    ({"name": "王芳"}, "name"),
    ({"name": "WANG^FANG", "birth_date": dt.date(1970, 1, 1)}, "date of birth and name"),
])
def test_each_differing_field_is_named(dw, changes, named):
    err = _refusal(dw, _header(dw, **changes))
    assert err.details["reason"] == "wrong_patient"
    assert f"its {named} do not match the registered patient" in str(err.message)


def test_an_anonymised_header_cannot_be_matched(dw):
    err = _refusal(dw, DicomPatient(name="", id="", sex="F", birth_date=None))
    assert err.details["reason"] == "no_identity" and "anonymised" in str(err.message)


# --- the same, read from pydicom's real files ---------------------------------------------------------

def _read(data: bytes) -> DicomPatient:
    return dicom.read(data).patient


def test_real_files_restamped_for_her_pass_and_as_shipped_do_not(dw):
    mine = identity_of(dw.patient, dw.world.patients["patient_a_id_number"])
    for name in ("CT_small.dcm", "MR_small.dcm", "emri_small_jpeg_2k_lossless.dcm", "US1_J2KR.dcm"):
        header = _read(restamp(name, mine))
        assert (header.name, header.birth_date, header.sex) == ("CHEN^GUIFANG", BIRTH, "F"), name
        check_patient(header, dw.patient)
    shipped = _read(Path(dicom_testfile("CT_small.dcm")).read_bytes())
    assert shipped.name == "CompressedSamples^CT1"
    assert "name" in str(_refusal(dw, shipped).message)
    # emri_small carries only a birth date (2000-01-01): that alone tells it is someone else.
    emri = _read(Path(dicom_testfile("emri_small.dcm")).read_bytes())
    assert (emri.name, emri.id, emri.birth_date) == ("", "", dt.date(2000, 1, 1))
    assert "date of birth" in str(_refusal(dw, emri).message)
    # A file saved with no patient module at all.
    from pydicom import dcmread

    ds = dcmread(io.BytesIO(restamp("CT_small.dcm", mine)))
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
        delattr(ds, keyword)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    assert _refusal(dw, _read(buf.getvalue())).details["reason"] == "no_identity"
