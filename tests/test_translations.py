"""Simplified Chinese ships complete: every message translated, and the committed .mo compiled
from the committed .po (so `make run` needs no gettext tools)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import translation

LOCALE = Path(__file__).resolve().parents[1] / "src" / "medunion" / "locale" / "zh_Hans" / "LC_MESSAGES"


def _msgfmt() -> str:
    found = shutil.which("msgfmt")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("msgfmt not found; `make test` installs gettext")
        pytest.skip("msgfmt (gettext) not installed")
    return found


def test_every_message_is_translated(tmp_path):
    result = subprocess.run([_msgfmt(), "--check", "--statistics", "-o", str(tmp_path / "x.mo"),
                             str(LOCALE / "django.po")], capture_output=True, text=True, check=True)
    stats = result.stderr.strip()
    assert "translated message" in stats and "untranslated" not in stats and "fuzzy" not in stats, stats


def test_the_committed_mo_is_compiled_from_the_po(tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run([_msgfmt(), "--check-format", "-o", str(compiled), str(LOCALE / "django.po")], check=True)
    assert compiled.read_bytes() == (LOCALE / "django.mo").read_bytes(), "run `make messages` and commit the .mo"


def test_chinese_is_what_users_read():
    with translation.override("zh-hans"):
        assert translation.gettext("My patients") == "我的患者"
        assert translation.pgettext("of a thing, not a person", "Name") == "名称"
