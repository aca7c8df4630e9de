from __future__ import annotations

import pytest

from medunion.core import clock
from tests.world import PASSWORD, World, build_world


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Argon2 is the production hasher (tested in test_accounts); tests use a fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _audit_triggers(request):
    """Keep the audit table append-only in every test, except for the flush that ends a
    transactional test (Django must empty every table then): the triggers are lifted for that
    flush and put back when the next test starts. test_audit checks the migration itself."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool({"transactional_db", "live_server"} & set(request.fixturenames)
                         or (marker and marker.kwargs.get("transaction")))
    uses_db = transactional or marker is not None or "db" in request.fixturenames
    if not uses_db:
        yield
        return
    from django.db import connection

    from medunion.audit import triggers

    request.getfixturevalue("transactional_db" if transactional else "db")
    triggers.install(connection)
    yield
    if transactional:
        triggers.remove(connection)


@pytest.fixture(scope="session", autouse=True)
def _file_store(tmp_path_factory):
    """Stored files go to a directory of the test session, never into the developer's var/files:
    the housekeeping's orphan sweep would take those for orphans of the test database. For the
    whole session, so that worlds built once per module find their files in every test; a test
    that looks at the stored files has its own directory (tests/files: ``file_root``)."""
    from django.conf import settings
    from django.test.utils import override_settings

    conf = settings.MEDUNION_FILE_STORAGE
    if conf.get("BACKEND", "medunion.files.storage.LocalStorage") != "medunion.files.storage.LocalStorage":
        yield
        return
    root = str(tmp_path_factory.mktemp("stored-files"))
    with override_settings(MEDUNION_FILE_STORAGE={**conf, "OPTIONS": {**conf.get("OPTIONS", {}), "root": root}}):
        yield


@pytest.fixture
def world(db) -> World:
    return build_world()


@pytest.fixture
def password() -> str:
    return PASSWORD


def _persona(name: str):
    @pytest.fixture
    def fixture(world: World):
        return world.users[name]

    fixture.__name__ = name
    return fixture


village_doctor_a = _persona("village_doctor_a")
village_doctor_b = _persona("village_doctor_b")
cardiologist_tertiary = _persona("cardiologist_tertiary")
hub_radiologist = _persona("hub_radiologist")
coordinator = _persona("coordinator")
outsider = _persona("outsider")
commission_viewer = _persona("commission_viewer")
patient_a = _persona("patient_a")


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Code called directly by a test (actions, commands) speaks English, the source language, so
    assertions read the source strings; requests still choose their language as users' do."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def one_day():
    """The app's clock held at the test's start: what a test dates "today" and what it checks
    against it fall on one date even when the run crosses midnight in Shanghai."""
    with clock.frozen(clock.now()):
        yield
