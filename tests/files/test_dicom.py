"""Reading DICOM with pydicom and rendering previews, on pydicom's own test files."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from medunion.core.errors import ValidationFailed
from medunion.files import dicom

from .conftest import dicom_bytes


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


def test_ct_meta_has_the_identifiers_and_never_the_patients_name_or_id():
    instance = dicom.read(dicom_bytes("CT_small.dcm"))
    meta = instance.meta
    assert meta["modality"] == "CT"
    assert meta["sop_instance_uid"] == str(instance.dataset.SOPInstanceUID)
    assert meta["study_instance_uid"] == str(instance.dataset.StudyInstanceUID)
    assert meta["series_instance_uid"] == str(instance.dataset.SeriesInstanceUID)
    assert (meta["rows"], meta["columns"], meta["frames"]) == (128, 128, 1)
    assert meta["transfer_syntax"] == "1.2.840.10008.1.2.1"
    assert meta["transfer_syntax_name"] == "Explicit VR Little Endian"
    assert meta["has_pixels"] is True
    assert meta["patient_sex"] == "O"
    assert meta["study_date"] == "2004-01-19"
    # Who the images are of is readable for checks, but not stored.
    assert instance.patient.name == "CompressedSamples^CT1"
    assert instance.patient.id == "1CT1"
    stored = json.dumps(meta)
    assert "CompressedSamples" not in stored and "1CT1" not in stored
    json.loads(stored)  # JSON-serialisable as it is


def test_birth_date_and_sex_for_later_checks():
    instance = dicom.read(dicom_bytes("waveform_ecg.dcm"))
    assert instance.meta["patient_sex"] == "F"
    assert instance.meta["patient_birth_date"] == "1971-01-23"
    assert str(instance.patient.birth_date) == "1971-01-23"
    assert "642341" not in json.dumps(instance.meta)


def test_ct_preview_uses_a_soft_tissue_window_without_a_header_window():
    instance = dicom.read(dicom_bytes("CT_small.dcm"))
    assert instance.meta["window_center"] is None
    default = dicom.render_png(instance)
    assert default == dicom.render_png(instance, window=dicom.CT_WINDOWS["soft_tissue"])
    lung = dicom.render_png(instance, window=dicom.CT_WINDOWS["lung"])
    assert lung != default
    image = _png(default)
    assert image.size == (128, 128) and image.mode == "L"
    assert image.getextrema()[0] < image.getextrema()[1]


def test_mr_preview_uses_the_header_window():
    instance = dicom.read(dicom_bytes("MR_small.dcm"))
    assert (instance.meta["window_center"], instance.meta["window_width"]) == (600.0, 1600.0)
    assert dicom.render_png(instance) == dicom.render_png(instance, window=(600.0, 1600.0))


@pytest.mark.parametrize("name", [
    "JPEG2000.dcm",                       # JPEG 2000 (pylibjpeg-openjpeg)
    "MR_small_RLE.dcm",                   # RLE lossless
    "MR_small_jpeg_ls_lossless.dcm",      # JPEG-LS (GDCM)
    "JPEG-LL.dcm",                        # JPEG lossless, process 14 (GDCM; from pydicom-data)
    "SC_rgb_jpeg_dcmtk.dcm",              # JPEG baseline, colour
])
def test_compressed_transfer_syntaxes_are_decoded(name):
    instance = dicom.read(dicom_bytes(name))
    image = _png(dicom.render_png(instance))
    assert image.size[0] > 0 and image.getextrema() != ((0, 0),) * len(image.getbands())


def test_compressed_matches_uncompressed():
    plain = dicom.render_png(dicom.read(dicom_bytes("MR_small.dcm")))
    rle = dicom.render_png(dicom.read(dicom_bytes("MR_small_RLE.dcm")))
    assert plain == rle


def test_colour_palette_and_multiframe():
    palette = _png(dicom.render_png(dicom.read(dicom_bytes("examples_palette.dcm"))))
    assert palette.mode == "RGB"
    cine = dicom.read(dicom_bytes("examples_ybr_color.dcm"))
    assert cine.meta["frames"] == 30
    first, last = dicom.render_png(cine), dicom.render_png(cine, frame=29)
    assert _png(first).mode == "RGB" and first != last
    with pytest.raises(ValidationFailed) as exc:
        dicom.render_png(cine, frame=30)
    assert exc.value.field == "frame"


def test_large_frames_are_scaled_down_for_the_preview():
    instance = dicom.read(dicom_bytes("JPEG2000.dcm"))  # 1024 x 256
    assert max(_png(dicom.render_png(instance, max_side=256)).size) == 256


def test_truncated_pixel_data_is_refused():
    instance = dicom.read(dicom_bytes("MR_truncated.dcm"))
    with pytest.raises(ValidationFailed, match="damaged or incomplete") as exc:
        dicom.render_png(instance)
    assert exc.value.field == "file"


def test_a_file_cut_short_is_refused():
    data = dicom_bytes("CT_small.dcm")
    with pytest.raises(ValidationFailed, match="damaged or incomplete"):  # inside the pixel data
        dicom.render_png(dicom.read(data[:20000]))
    with pytest.raises(ValidationFailed, match="no pixel data"):  # before it
        dicom.read(data[:3000])


def test_an_image_stripped_of_its_pixels_is_refused():
    from pydicom import dcmread

    ds = dcmread(io.BytesIO(dicom_bytes("CT_small.dcm")))
    del ds.PixelData
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    with pytest.raises(ValidationFailed, match="no pixel data") as exc:
        dicom.read(buf.getvalue())
    assert exc.value.field == "file"


@pytest.mark.parametrize("name", ["reportsi.dcm", "waveform_ecg.dcm"])
def test_no_pixel_data_cannot_be_previewed(name):
    instance = dicom.read(dicom_bytes(name))
    assert instance.has_pixels is False and instance.meta["frames"] == 0
    with pytest.raises(ValidationFailed, match="no pixel data"):
        dicom.render_png(instance)


def test_not_dicom():
    with pytest.raises(ValidationFailed, match="not a DICOM file"):
        dicom.read(b"%PDF-1.4 not dicom at all" + b"\0" * 200)
    # A DICOM data set without the Part 10 preamble and DICM marker.
    with pytest.raises(ValidationFailed, match="not a DICOM file"):
        dicom.read(dicom_bytes("no_meta.dcm"))


def test_dicomdir_is_refused():
    with pytest.raises(ValidationFailed, match="DICOMDIR"):
        dicom.read(dicom_bytes("DICOMDIR"))


def test_an_undecodable_compression_is_refused_clearly():
    """12-bit JPEG Extended needs pylibjpeg-libjpeg (GPL, not installed): a clear refusal."""
    from pydicom.pixels import get_decoder

    instance = dicom.read(dicom_bytes("JPEG-lossy.dcm"))
    if "pylibjpeg" in get_decoder(instance.dataset.file_meta.TransferSyntaxUID).available_plugins:
        pytest.skip("a JPEG Extended decoder for 12-bit samples is installed")
    with pytest.raises(ValidationFailed, match="cannot decode") as exc:
        dicom.render_png(instance)
    assert "JPEG Extended" in str(exc.value.message)
