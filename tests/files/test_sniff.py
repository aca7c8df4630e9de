"""What the bytes are, whatever the name says."""

from __future__ import annotations

import pytest

from medunion.core.errors import ValidationFailed
from medunion.files import sniff

from .conftest import dicom_bytes, pdf_bytes, photo_bytes

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\0" * 48 + b"This program cannot be run in DOS mode."
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
HEIC_HEAD = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 64
AVIF_HEAD = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\0" * 64


@pytest.mark.parametrize(("data", "expected"), [
    (photo_bytes("JPEG"), "jpeg"),
    (photo_bytes("PNG"), "png"),
    (photo_bytes("WEBP"), "webp"),
    (pdf_bytes(), "pdf"),
    (dicom_bytes("CT_small.dcm"), "dicom"),
    (HEIC_HEAD, "heic"),
    (AVIF_HEAD, None),
    (EXE, None),
    (HTML, None),
    (b"", None),
    (b"\0" * 200, None),
])
def test_sniff_reads_the_content_not_the_name(data, expected):
    found = sniff.sniff(data[:sniff.HEAD_BYTES])
    assert (found.name if found else None) == expected


@pytest.mark.parametrize(("name", "content_type", "data"), [
    ("report.jpg", "image/jpeg", pdf_bytes()),           # a PDF named as a photo
    ("page.png", "image/png", HTML),                     # an HTML page named as an image
    ("scan.pdf", "application/pdf", EXE),                # a program named as a PDF
    ("scan.dcm", "application/dicom", photo_bytes()),    # a photo named as DICOM
    ("photo.html", "text/html", photo_bytes()),          # a real photo labelled as a web page
    ("photo", "text/html", photo_bytes()),               # … by its type only
    ("photo.svg", "", photo_bytes()),
    ("setup.exe", "application/octet-stream", EXE),
])
def test_disguised_files_are_refused(name, content_type, data):
    with pytest.raises(ValidationFailed) as exc:
        sniff.check_declared(name, content_type, sniff.sniff(data[:sniff.HEAD_BYTES]))
    assert exc.value.field == "file"
    assert "labelled as" in str(exc.value.message)


def test_a_disguised_file_is_named_for_what_it_is():
    with pytest.raises(ValidationFailed) as exc:
        sniff.check_declared("report.jpg", "image/jpeg", sniff.PDF)
    assert str(exc.value.message) == ("This file is labelled as a JPEG photo, but its content is a PDF document; "
                                      "rename it or send the original file.")


@pytest.mark.parametrize(("name", "content_type", "fmt"), [
    ("photo.jpg", "image/jpeg", sniff.JPEG),
    ("IMG_0001.JPEG", "", sniff.JPEG),
    ("photo.jpg", "image/jpeg", sniff.PNG),             # a PNG saved as .jpg: still a photo
    ("微信图片_20260101.jfif", "application/octet-stream", sniff.JPEG),
    ("ECG.pdf", "application/pdf", sniff.PDF),
    ("IM000001", "", sniff.DICOM),                      # DICOM from a disc: no extension
    ("1.2.840.113619.2.55.3.12", "", sniff.DICOM),       # named by its UID
    ("CT.dcm", "application/octet-stream", sniff.DICOM),
])
def test_honest_files_pass(name, content_type, fmt):
    sniff.check_declared(name, content_type, fmt)


@pytest.mark.parametrize(("name", "fmt", "expected"), [
    ("../../etc/passwd.jpg", sniff.JPEG, "passwd.jpg"),
    ("C:\\Users\\医生\\心电图.pdf", sniff.PDF, "心电图.pdf"),
    ("photo.jpg", sniff.PNG, "photo.png"),
    ("photo", sniff.JPEG, "photo.jpg"),
    ("line\nbreak\t.png", sniff.PNG, "linebreak.png"),
    ("", sniff.JPEG, "file.jpg"),
    ("1.2.840.113619.2.55", sniff.DICOM, "1.2.840.113619.2.55"),
    ("x" * 400 + ".pdf", sniff.PDF, "x" * 251 + ".pdf"),
])
def test_clean_filename(name, fmt, expected):
    assert sniff.clean_filename(name, fmt) == expected


def test_images_are_decoded_in_full():
    info = sniff.inspect_image(photo_bytes("PNG", (30, 20)), sniff.PNG)
    assert info.meta == {"format": "png", "width": 30, "height": 20}
    assert info.preview is None  # small and upright: shown as it is
    data = photo_bytes("JPEG", (800, 600))
    with pytest.raises(ValidationFailed, match="damaged or incomplete"):
        sniff.inspect_image(data[: len(data) // 2], sniff.JPEG)


def test_large_and_rotated_photos_get_a_preview_without_exif():
    from PIL import Image

    big = sniff.inspect_image(photo_bytes("JPEG", (4000, 3000)), sniff.JPEG)
    assert big.meta["width"] == 4000 and big.meta["preview_content_type"] == "image/jpeg"
    preview = Image.open(__import__("io").BytesIO(big.preview))
    assert preview.size == (1600, 1200)

    exif = Image.Exif()
    exif[0x0112] = 6  # taken with the phone on its side
    exif[0x8825] = {1: "N", 2: (34.0, 30.0, 0.0)}  # and where
    rotated = sniff.inspect_image(photo_bytes("JPEG", (60, 40), exif=exif), sniff.JPEG)
    shown = Image.open(__import__("io").BytesIO(rotated.preview))
    assert shown.size == (40, 60)
    assert not shown.getexif()


def test_heic_without_a_reader_is_refused_clearly():
    from PIL import Image

    if "HEIF" in Image.registered_extensions().values():
        pytest.skip("a HEIF reader is installed")
    with pytest.raises(ValidationFailed, match="Most Compatible"):
        sniff.inspect_image(HEIC_HEAD, sniff.HEIC)


def test_pdfs_are_parsed():
    assert sniff.inspect_pdf(pdf_bytes(pages=3))["pages"] == 3
    with pytest.raises(ValidationFailed, match="PDF could not be read"):
        sniff.inspect_pdf(b"%PDF-1.7\n" + b"garbage " * 50)
    data = pdf_bytes(pages=3)
    with pytest.raises(ValidationFailed, match="PDF could not be read"):
        sniff.inspect_pdf(data[: len(data) * 9 // 10])  # cut short


def test_password_protected_pdf_is_refused():
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes())))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(ValidationFailed, match="password"):
        sniff.inspect_pdf(buf.getvalue())
