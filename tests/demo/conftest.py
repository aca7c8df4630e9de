"""One demo build per test module, inside a transaction rolled back when the module ends; each
test runs in its own savepoint on top of it (the ``db`` fixture), so tests cannot disturb each
other and nothing leaks into other modules. The files the demo stores (its examinations' images)
land in a private directory per module, never the working tree's var/.

The clock stands still at the build's moment for the module's life: the demo's times are relative
to it (follow-ups due today, a critical finding a few minutes old), and a module that ran across
midnight or for many minutes would otherwise see them move."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from medunion.core import clock
from medunion.demo.build import DemoReport, build_demo

SEED = 810
# MD5 keeps the tests fast; PBKDF2 is listed so the demo's quick account hashes can be verified
# (and upgraded at the first login) as they are in production.
HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "django.contrib.auth.hashers.PBKDF2PasswordHasher"]


@pytest.fixture(scope="module", autouse=True)
def file_store(tmp_path_factory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("files")
    with override_settings(MEDUNION_FILE_STORAGE={"BACKEND": "medunion.files.storage.LocalStorage",
                                                  "OPTIONS": {"root": str(root)}}):
        yield root


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, file_store) -> Iterator[DemoReport]:
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with clock.frozen(timezone.now()):
                with override_settings(PASSWORD_HASHERS=HASHERS):
                    report = build_demo(seed=SEED)
                yield report
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
