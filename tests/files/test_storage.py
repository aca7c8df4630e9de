"""The storage interface and its local filesystem backend."""

from __future__ import annotations

import pytest

from medunion.files.storage import LocalStorage, StorageError, get_storage


def test_local_round_trip(tmp_path):
    store = LocalStorage(tmp_path)
    assert not store.exists("patients/p1/f1.jpg")
    store.save("patients/p1/f1.jpg", b"bytes")
    assert store.exists("patients/p1/f1.jpg")
    with store.open("patients/p1/f1.jpg") as fh:
        assert fh.read() == b"bytes"
    assert [key for key, _ in store.iter_keys()] == ["patients/p1/f1.jpg"]
    assert sorted(p.name for p in (tmp_path / "patients" / "p1").iterdir()) == ["f1.jpg"]  # no temporary left
    store.delete("patients/p1/f1.jpg")
    store.delete("patients/p1/f1.jpg")  # absent: no error
    assert not store.exists("patients/p1/f1.jpg")
    with pytest.raises(StorageError):
        store.open("patients/p1/f1.jpg")


def test_written_once(tmp_path):
    store = LocalStorage(tmp_path)
    store.save("a/b", b"first")
    with pytest.raises(StorageError):
        store.save("a/b", b"second")
    with store.open("a/b") as fh:
        assert fh.read() == b"first"


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a/../../b", "a//b", "a/./b", "", "a\\b", "a/b\n"])
def test_keys_cannot_leave_the_root(tmp_path, key):
    with pytest.raises(StorageError):
        LocalStorage(tmp_path).save(key, b"x")


class MemoryStorage:
    """A second backend, as an S3-compatible one would be plugged in."""

    def __init__(self, bucket: str = ""):
        self.bucket, self.objects = bucket, {}

    def save(self, key, data):
        self.objects[key] = data


def test_the_backend_is_chosen_by_setting(settings, tmp_path):
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "tests.files.test_storage.MemoryStorage",
                                      "OPTIONS": {"bucket": "medunion"}}
    store = get_storage()
    assert isinstance(store, MemoryStorage) and store.bucket == "medunion"
    assert get_storage() is store
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage",
                                      "OPTIONS": {"root": str(tmp_path)}}
    assert isinstance(get_storage(), LocalStorage) and get_storage().root == tmp_path


def test_the_default_root_is_under_the_data_dir(settings, tmp_path):
    settings.MEDUNION_DATA_DIR = tmp_path
    settings.MEDUNION_FILE_STORAGE = {"BACKEND": "medunion.files.storage.LocalStorage", "OPTIONS": {}}
    assert get_storage().root == tmp_path / "files"
