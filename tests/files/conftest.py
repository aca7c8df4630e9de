"""Stored files land in a private directory per test; test files are real: pydicom's own DICOM
test data (and pydicom-data's), photos drawn with Pillow, a PDF written by Pillow."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pydicom.data import get_testdata_file


@pytest.fixture(autouse=True)
def file_root(settings, tmp_path) -> Path:
    root = tmp_path / "files"
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage",
                                      "OPTIONS": {"root": str(root)}}
    return root


def stored_keys(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def dicom_bytes(name: str) -> bytes:
    path = get_testdata_file(name, download=False)
    assert path, f"{name} is not installed (pydicom / pydicom-data)"
    return Path(path).read_bytes()


def photo_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), colour: str = "red", **options) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).rectangle((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill="blue")
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def pdf_bytes(pages: int = 1) -> bytes:
    from PIL import Image

    images = [Image.new("RGB", (200, 280), c) for c in ("white", "grey", "black")[:pages]]
    buf = io.BytesIO()
    images[0].save(buf, format="PDF", save_all=True, append_images=images[1:])
    return buf.getvalue()


def upload(name: str, data: bytes, content_type: str = "") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def doctor(world):
    return world.actor("village_doctor_a")


@pytest.fixture
def patient(world):
    return world.patients["patient_a"]
