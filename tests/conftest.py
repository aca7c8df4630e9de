from __future__ import annotations

import pytest

from tests.world import PASSWORD, World, build_world


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Argon2 is the production hasher (tested in test_accounts); tests use a fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
