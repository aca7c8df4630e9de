"""Key rotation: re-encrypt every encrypted column under the current key."""

from __future__ import annotations

from django.apps import apps
from django.db import models, transaction

from .crypto import EncryptedTextField, keyring


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    found = []
    for model in apps.get_models():
        names = [f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            found.append((model, names))
    return found


def rotate_all(progress: bool = False, batch: int = 500) -> dict[str, int]:
    current = keyring().current
    counts: dict[str, int] = {}
    for model, names in encrypted_fields():
        n = 0
        raw = model._base_manager.values_list("pk", *names)  # type: ignore[attr-defined]
        stale = []
        for row in raw.iterator(chunk_size=batch):
            stale.append(row[0])
        # Reading decrypts under any key; saving encrypts under the current one.
        for start in range(0, len(stale), batch):
            with transaction.atomic():
                objs = list(model._base_manager.filter(pk__in=stale[start:start + batch]))  # type: ignore[attr-defined]
                model._base_manager.bulk_update(objs, names)  # type: ignore[attr-defined]
                n += len(objs)
        counts[f"{model._meta.label} (key {current})"] = n
    return counts
