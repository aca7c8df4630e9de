"""Real DICOM files for the tests: pydicom's own test files (``pydicom.data``), restamped with a
registered patient's identity the way a scanner's worklist writes it, with fresh UIDs where a
test needs new instances."""

from __future__ import annotations

import io
from typing import Any

PATIENT_A_LATIN = "CHEN^GUIFANG"


def dicom_testfile(name: str) -> str:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    assert path, f"pydicom test file {name} is missing"
    return str(path)


def identity_of(patient: Any, id_number: str = "") -> dict[str, str]:
    return {"PatientName": PATIENT_A_LATIN if patient.name == "陈桂芳" else patient.name,
            "PatientID": id_number, "PatientBirthDate": patient.birth_date.strftime("%Y%m%d"),
            "PatientSex": {"male": "M", "female": "F"}.get(patient.sex, "")}


def restamp(name: str, identity: dict[str, str] | None = None, *, fresh_uids: bool = False,
            **changes: Any) -> bytes:
    """A pydicom test file with ``identity`` (and any other attributes) written in; new UIDs for
    its study, series and instance when ``fresh_uids``."""
    from pydicom import dcmread
    from pydicom.uid import generate_uid

    ds = dcmread(dicom_testfile(name))
    for key, value in (identity or {}).items():
        setattr(ds, key, value)
    if fresh_uids:
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for key, value in changes.items():
        setattr(ds, key, value)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def ct_series(identity: dict[str, str], count: int, *, base: str = "CT_small.dcm") -> list[bytes]:
    """``count`` slices of one CT series built from pydicom's real CT file: one study and series,
    fresh SOP Instance UIDs, consecutive positions, each slice's pixels shifted so they differ."""
    import numpy as np
    from pydicom import dcmread
    from pydicom.uid import generate_uid

    source = dcmread(dicom_testfile(base))
    study, series = generate_uid(), generate_uid()
    pixels = source.pixel_array
    out = []
    for i in range(count):
        ds = source.copy()
        for key, value in identity.items():
            setattr(ds, key, value)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = i + 1
        ds.SliceLocation = float(i * 5)
        position = list(ds.ImagePositionPatient)
        ds.ImagePositionPatient = [position[0], position[1], float(position[2]) + i * 5]
        ds.PixelData = np.roll(pixels, i, axis=0).astype(pixels.dtype).tobytes()
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        out.append(buf.getvalue())
    return out
