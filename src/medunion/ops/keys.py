"""The keys are not in a backup; what a backup records so that a restore can tell whether the
keys it is given are the right ones.

- the key ids each encrypted column's values are encrypted under (``kid$…`` prefixes);
- for every key of ``MEDUNION_ENCRYPTION_KEYS`` at backup time, a known text encrypted under it
  (a restore decrypts it with the current keys: the key with that id must be the same key);
- the lookup hash (HMAC under ``MEDUNION_LOOKUP_KEY``) of a known text (a different lookup key
  would make every search by resident ID number find nothing).

None of this reveals a key or any patient's data. After a restore, one stored value of every
encrypted column is decrypted with the current keys (``sample_problems``).
"""

from __future__ import annotations

import base64
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.utils.translation import gettext as _

from medunion.core.crypto import EncryptedTextField, keyring, lookup_hash

from .common import Reader, check_name

CHECK_TEXT = "medunion backup key check"
CHECK_CONTEXT = "backup.keycheck"


def encrypted_columns() -> list[tuple[str, str, str]]:
    """(table, column, encryption context) of every encrypted column."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                found.append((model._meta.db_table, str(field.column), field._context()))
    return sorted(found)


def _encrypt_under(kid: str, key: bytes) -> str:
    nonce = os.urandom(12)
    ct = AESGCM(key).encrypt(nonce, CHECK_TEXT.encode(), f"{kid}|{CHECK_CONTEXT}".encode())
    return f"{kid}${base64.b64encode(nonce + ct).decode()}"


def describe(reader: Reader) -> dict[str, Any]:
    """The keys part of a manifest, from the snapshot ``reader`` reads."""
    tables = set(reader.tables())
    in_use = {f"{table}.{column}": sorted(reader.key_ids(table, column))
              for table, column, _context in encrypted_columns() if table in tables}
    ring = keyring()
    return {
        "included": False,
        "note": _("The encryption and lookup keys (MEDUNION_ENCRYPTION_KEYS, MEDUNION_LOOKUP_KEY) are not in "
                  "the backup: keep them apart from it; without them the encrypted columns cannot be read."),
        "in_use": in_use,
        "check": {kid: _encrypt_under(kid, key) for kid, key in ring.keys.items()},
        "lookup_check": lookup_hash(CHECK_TEXT, CHECK_CONTEXT),
    }


def problems(manifest_keys: dict[str, Any]) -> list[str]:
    """Why the current keys cannot read the backup's data (empty: they can)."""
    ring = keyring()
    found = []
    used = sorted({kid for kids in (manifest_keys.get("in_use") or {}).values() for kid in kids})
    for kid in used:
        if kid not in ring.keys:
            found.append(_("The data is encrypted under key id %(kid)s, which MEDUNION_ENCRYPTION_KEYS does not "
                           "hold.") % {"kid": kid})
    for kid, token in sorted((manifest_keys.get("check") or {}).items()):
        if kid not in ring.keys:
            continue
        try:
            ok = ring.decrypt(str(token), CHECK_CONTEXT) == CHECK_TEXT
        except (ValueError, TypeError):
            ok = False
        if not ok:
            found.append(_("The key with id %(kid)s in MEDUNION_ENCRYPTION_KEYS is not the key of that id the "
                           "backup was made with.") % {"kid": kid})
    if manifest_keys.get("lookup_check") and manifest_keys["lookup_check"] != lookup_hash(CHECK_TEXT, CHECK_CONTEXT):
        found.append(_("MEDUNION_LOOKUP_KEY is not the lookup key the backup was made with: searches by resident "
                       "ID number and phone would find nothing."))
    return found


def sample_problems(reader: Reader) -> tuple[int, list[str]]:
    """Decrypt one stored value of every encrypted column; (values decrypted, problems)."""
    tables = set(reader.tables())
    ring = keyring()
    checked, found = 0, []
    for table, column, context in encrypted_columns():
        if table not in tables:
            continue
        t, c = check_name(table), check_name(column)
        rows = reader.rows(f'SELECT "{c}" FROM "{t}" WHERE "{c}" <> \'\' LIMIT 1')  # noqa: S608 - names checked (check_name), numbers int()
        if not rows:
            continue
        try:
            ring.decrypt(str(rows[0][0]), context)
            checked += 1
        except (ValueError, TypeError):
            found.append(_("A stored value of %(column)s cannot be decrypted with the current keys.")
                         % {"column": f"{table}.{column}"})
    return checked, found
