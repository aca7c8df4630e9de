"""The stored files in a backup: the bytes of every ``files.StoredFile`` of the snapshot (uploads,
previews, the local DICOM archive), copied through the storage interface into ``files/`` with an
index of their checksums.

Stored bytes are written before the row that refers to them commits and are never changed, so
every file a snapshot's rows name is there to copy after the snapshot was taken. A restore writes
them back before the database: if it stops, the files written so far are referred to by no row,
and the orphan sweep (``files.actions.sweep_orphans``) removes them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from medunion.files.storage import Storage, StorageError, check_key

from .common import BackupError, Reader, counter

DIRECTORY = "files"
_CHUNK = 1 << 20


def referenced(reader: Reader) -> list[dict[str, Any]]:
    """The files the snapshot's rows refer to: key, expected SHA-256 (None for previews), size."""
    if "files_storedfile" not in reader.tables():
        return []
    out: list[dict[str, Any]] = []
    for key, preview, sha, size in reader.rows(
            "SELECT storage_key, preview_key, sha256, size FROM files_storedfile ORDER BY storage_key"):
        out.append({"key": key, "sha256": sha, "size": int(size)})
        if preview:
            out.append({"key": preview, "sha256": None, "size": None})
    return out


def _target(root: Path, key: str) -> Path:
    return root.joinpath(*check_key(key).split("/"))


def copy_out(storage: Storage, wanted: list[dict[str, Any]], dest: Path, *, progress: bool,
             allow_missing: bool) -> tuple[list[dict[str, Any]], list[str]]:
    """Copy ``wanted`` from the storage into ``dest``/files; (the index, the keys missing)."""
    root = dest / DIRECTORY
    index, missing = [], []
    with counter(enabled=progress, desc=_("copying stored files"), total=len(wanted), unit="file") as done:
        for entry in wanted:
            path = _target(root, entry["key"])
            path.parent.mkdir(parents=True, exist_ok=True)
            digest, size = hashlib.sha256(), 0
            try:
                with storage.open(entry["key"]) as src, open(path, "xb") as out:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                done.update(1)
            except StorageError:
                path.unlink(missing_ok=True)
                missing.append(entry["key"])
                continue
            sha = digest.hexdigest()
            if entry["sha256"] and sha != entry["sha256"]:
                raise BackupError(_("The stored file %(key)s does not match its recorded checksum: the file store "
                                    "is damaged; no backup was written.") % {"key": entry["key"]})
            index.append({"key": entry["key"], "sha256": sha, "size": size})
    if missing and not allow_missing:
        raise BackupError(_("%(n)d stored file(s) the database refers to are missing from the file store (first: "
                            "%(key)s); no backup was written. To back up without them, use --allow-missing-files.")
                          % {"n": len(missing), "key": missing[0]})
    return index, missing


def restore_into(storage: Storage, index: list[dict[str, Any]], src: Path, *, progress: bool) -> tuple[int, int]:
    """Write the backup's files into the storage, each checked against the index; files already
    there with the same bytes are kept. (written, already there)"""
    root = src / DIRECTORY
    written = kept = 0
    total = sum(int(f["size"]) for f in index)
    with counter(enabled=progress, desc=_("restoring stored files"), total=total, unit="B", unit_scale=True) as done:
        for entry in index:
            key = entry["key"]
            try:
                data = _target(root, key).read_bytes()
            except (StorageError, OSError) as exc:
                raise BackupError(_("The backup's file %(key)s cannot be read (%(error)s): the backup is incomplete.")
                                  % {"key": key, "error": exc}) from exc
            sha = hashlib.sha256(data).hexdigest()
            if sha != entry["sha256"]:
                raise BackupError(_("The backup's file %(key)s does not match its checksum: the backup is damaged.")
                                  % {"key": key})
            if storage.exists(key):
                with storage.open(key) as fh:
                    there = hashlib.sha256(fh.read()).hexdigest()
                if there != sha:
                    raise BackupError(_("The file store holds a different file under %(key)s; the restore stops "
                                        "before the database is touched.") % {"key": key})
                kept += 1
            else:
                storage.save(key, data)
                written += 1
            done.update(len(data))
    return written, kept
