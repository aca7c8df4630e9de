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


def _msgids(po: Path) -> set[tuple[str, str]]:
    """(context, msgid) of every entry of a .po file."""
    import json

    entries: set[tuple[str, str]] = set()
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        parts: dict[str, list[str]] = {"msgctxt": [], "msgid": []}
        current = None
        for line in block.splitlines():
            if line.startswith(("msgctxt ", "msgid ")):
                current, _sep, rest = line.partition(" ")
                parts[current].append(rest)
            elif line.startswith("msgid_plural") or line.startswith("msgstr"):
                current = None
            elif line.startswith('"') and current:
                parts[current].append(line)
        msgid = "".join(json.loads(x) for x in parts["msgid"])
        if msgid:
            entries.add(("".join(json.loads(x) for x in parts["msgctxt"]), msgid))
    return entries


def test_the_catalogue_covers_every_string_in_the_source(tmp_path, settings, monkeypatch):
    """makemessages over a copy of the source finds nothing the committed catalogue lacks."""
    _msgfmt()
    from django.core.management import call_command

    source = Path(__file__).resolve().parents[1] / "src" / "medunion"
    copy = tmp_path / "medunion"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "static"))
    settings.LOCALE_PATHS = [copy / "locale"]
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["zh_Hans"], no_obsolete=True, verbosity=0)
    extracted = _msgids(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    committed = _msgids(LOCALE / "django.po")
    assert extracted - committed == set(), "run `make messages` and translate the new strings"
