import base64
import os
import sqlite3

import pytest
from django.db import connection

from medunion.core import crypto
from medunion.core.crypto import KeyRing
from medunion.patients.models import Patient


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_round_trip_and_context_binding():
    ring = KeyRing(f"a:{_key()}")
    token = ring.encrypt("610424196203140021", "patients.patient.id_number")
    assert "6104241962" not in token
    assert ring.decrypt(token, "patients.patient.id_number") == "610424196203140021"
    with pytest.raises(ValueError):
        ring.decrypt(token, "patients.patient.phone")  # moved to another column: refused


def test_nonce_is_fresh_each_time():
    ring = KeyRing(f"a:{_key()}")
    assert ring.encrypt("x", "c") != ring.encrypt("x", "c")


def test_rotation_old_key_still_decrypts_new_key_encrypts():
    old, new = _key(), _key()
    token = KeyRing(f"old:{old}").encrypt("secret", "c")
    ring = KeyRing(f"new:{new},old:{old}")
    assert ring.decrypt(token, "c") == "secret"
    assert ring.key_id(ring.encrypt("secret", "c")) == "new"


@pytest.mark.parametrize("spec", ["", "nokey", "a:not-base64!!", f"a:{base64.b64encode(b'short').decode()}"])
def test_bad_key_specs_are_refused(spec):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        KeyRing(spec)


def test_rotate_keys_re_encrypts_every_row(world, settings):
    from medunion.core.rotation import rotate_all

    patient = world.patients["patient_a"]
    number = world.patients["patient_a_id_number"]
    new = _key()
    settings.MEDUNION_ENCRYPTION_KEYS = f"k2:{new},{settings.MEDUNION_ENCRYPTION_KEYS}"
    rotate_all()
    with connection.cursor() as cur:
        cur.execute("SELECT id_number FROM patients_patient WHERE id = %s", [patient.pk.hex if connection.vendor == "sqlite" else patient.pk])
        raw = cur.fetchone()[0]
    assert raw.startswith("k2$")
    assert Patient.objects.get(pk=patient.pk).id_number == number
    # once the old key is gone, the data still reads
    settings.MEDUNION_ENCRYPTION_KEYS = f"k2:{new}"
    assert Patient.objects.get(pk=patient.pk).id_number == number


@pytest.mark.django_db(transaction=True)
def test_resident_id_is_not_readable_in_the_raw_database_file(tmp_path):
    """The acceptance check: the ID number and phone never reach the SQLite file in clear."""
    if connection.vendor != "sqlite":
        pytest.skip("inspects the SQLite file")
    from tests.world import build_world

    world = build_world()
    number = world.patients["patient_a_id_number"]
    copy = tmp_path / "copy.sqlite3"
    with sqlite3.connect(copy) as dst:
        connection.ensure_connection()
        connection.connection.backup(dst)
    data = copy.read_bytes()
    assert number.encode() not in data
    assert number[:14].encode() not in data
    assert b"13800000001" not in data
    assert "陈桂芳".encode() in data  # the file is really the database we wrote


def test_lookup_hash_is_keyed(settings):
    a = crypto.lookup_hash("610424196203140021", "resident_id")
    settings.MEDUNION_LOOKUP_KEY = _key()
    assert crypto.lookup_hash("610424196203140021", "resident_id") != a
