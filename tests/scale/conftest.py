"""One tiny generated data set per test module (the demo consortium and a tiny province on top),
inside a transaction rolled back when the module ends; each test runs in its own savepoint on top
of it, so nothing leaks into other modules. The demo's stored files go to a private directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import transaction
from django.test.utils import override_settings

from medunion.demo.province import GenerateReport, generate

SEED = 810
# MD5 keeps the tests fast; PBKDF2 verifies the demo's own quick account hashes.
HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "django.contrib.auth.hashers.PBKDF2PasswordHasher"]


@pytest.fixture(scope="module", autouse=True)
def file_store(tmp_path_factory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("files")
    with override_settings(MEDUNION_FILE_STORAGE={"BACKEND": "medunion.files.storage.LocalStorage",
                                                  "OPTIONS": {"root": str(root)}}):
        yield root


@pytest.fixture(scope="module")
def tiny(django_db_setup, django_db_blocker, file_store) -> Iterator[GenerateReport]:
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(PASSWORD_HASHERS=HASHERS):
                report = generate("tiny", seed=SEED)
            yield report
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def hashers() -> Iterator[None]:
    with override_settings(PASSWORD_HASHERS=HASHERS):
        yield
