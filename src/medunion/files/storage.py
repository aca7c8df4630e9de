"""Where stored files' bytes live: a small key/bytes interface with a local filesystem backend.

The backend is chosen by ``settings.MEDUNION_FILE_STORAGE``::

    {"BACKEND": "medunion.files.storage.LocalStorage", "OPTIONS": {"root": "/srv/medunion/files"}}

An S3-compatible backend implements the same five methods. Keys are relative, slash-separated
names made of letters, digits, ``-``, ``_`` and ``.`` (``medunion.files.actions`` builds them);
a key is written once and never overwritten, so a reader never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

_KEY = re.compile(r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")
_STAGING_PREFIX = ".staging-"


class StorageError(Exception):
    """The backend could not do what was asked (a bad key, a missing or existing object)."""


class Storage(Protocol):
    def save(self, key: str, data: bytes) -> None:
        """Write ``data`` under ``key``, all or nothing; refuse to overwrite an existing key."""

    def open(self, key: str) -> BinaryIO:
        """A binary stream of the bytes under ``key`` (the caller closes it)."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove ``key``; no error when it is absent."""

    def iter_keys(self) -> Iterator[tuple[str, dt.datetime]]:
        """Every key with its last-modified time (aware, UTC), for the orphan sweep."""


def check_key(key: str) -> str:
    if not isinstance(key, str) or len(key) > 300 or not _KEY.fullmatch(key) or {".", ".."} & set(key.split("/")):
        raise StorageError(f"invalid storage key: {key!r}")
    return key


class LocalStorage:
    """Files under a root directory: written to a temporary name beside the target, flushed to
    disk, then renamed into place, so a key either holds all its bytes or does not exist."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root else Path(settings.MEDUNION_DATA_DIR) / "files"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def save(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            raise StorageError(f"storage key exists already: {key}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{_STAGING_PREFIX}{secrets.token_hex(8)}-{path.name}")
        try:
            with open(tmp, "xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise StorageError(f"no such storage key: {key}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def iter_keys(self) -> Iterator[tuple[str, dt.datetime]]:
        if not self.root.is_dir():
            return
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                path = Path(dirpath) / name
                try:
                    mtime = path.stat().st_mtime
                except FileNotFoundError:  # removed meanwhile
                    continue
                key = path.relative_to(self.root).as_posix()
                # Left-over staging files from a crash are listed too, so the sweep removes them.
                yield key, dt.datetime.fromtimestamp(mtime, tz=dt.UTC)


@functools.cache
def _build(backend: str, options: tuple[tuple[str, Any], ...]) -> Storage:
    cls = import_string(backend)
    return cls(**dict(options))  # type: ignore[no-any-return]


def get_storage() -> Storage:
    """The configured backend (one instance per configuration)."""
    conf = getattr(settings, "MEDUNION_FILE_STORAGE", None) or {}
    backend = conf.get("BACKEND") or "medunion.files.storage.LocalStorage"
    options = tuple(sorted((conf.get("OPTIONS") or {}).items()))
    return _build(backend, options)


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in {"MEDUNION_FILE_STORAGE", "MEDUNION_DATA_DIR"}:
        _build.cache_clear()
