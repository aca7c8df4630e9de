"""Column encryption (AES-256-GCM) and keyed lookup hashes.

``MEDUNION_ENCRYPTION_KEYS`` is a comma-separated list of ``kid:base64key`` entries; the
first encrypts, every one decrypts, so keys rotate by putting a new key first and running
``medunion rotate-keys``. Ciphertext is stored as ``kid$base64(nonce || ciphertext)``.
The key id is bound into the GCM associated data together with the column name, so a
value copied into another column does not decrypt.

Lookups (find a patient by ID number) use HMAC-SHA256 under ``MEDUNION_LOOKUP_KEY``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class KeyRing:
    def __init__(self, spec: str):
        self.keys: dict[str, bytes] = {}
        self.current: str = ""
        for entry in (e.strip() for e in spec.split(",")):
            if not entry:
                continue
            kid, sep, b64 = entry.partition(":")
            if not sep or not kid or "$" in kid:
                raise ImproperlyConfigured("MEDUNION_ENCRYPTION_KEYS entries look like kid:base64key")
            try:
                key = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ImproperlyConfigured(f"encryption key {kid!r} is not base64") from exc
            if len(key) != 32:
                raise ImproperlyConfigured(f"encryption key {kid!r} must be 32 bytes")
            self.keys[kid] = key
            self.current = self.current or kid
        if not self.current:
            raise ImproperlyConfigured("MEDUNION_ENCRYPTION_KEYS holds no key")

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        aad = f"{self.current}|{context}".encode()
        ct = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext.encode(), aad)
        return f"{self.current}${base64.b64encode(nonce + ct).decode()}"

    def decrypt(self, token: str, context: str) -> str:
        kid, sep, body = token.partition("$")
        if not sep or kid not in self.keys:
            raise ValueError("ciphertext under an unknown key")
        raw = base64.b64decode(body)
        try:
            pt = AESGCM(self.keys[kid]).decrypt(raw[:12], raw[12:], f"{kid}|{context}".encode())
        except InvalidTag as exc:
            raise ValueError("ciphertext does not authenticate") from exc
        return pt.decode()

    def key_id(self, token: str) -> str:
        return token.partition("$")[0]


@functools.cache
def _ring(spec: str) -> KeyRing:
    return KeyRing(spec)


def keyring() -> KeyRing:
    return _ring(settings.MEDUNION_ENCRYPTION_KEYS)


def lookup_hash(value: str, purpose: str) -> str:
    """A keyed, deterministic hash for equality lookups of a sensitive value."""
    key = base64.b64decode(settings.MEDUNION_LOOKUP_KEY)
    return hmac.new(key, f"{purpose}|{value}".encode(), hashlib.sha256).hexdigest()


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; ``None`` and ``""`` are stored as they are."""

    def __init__(self, *args: Any, context: str | None = None, **kwargs: Any):
        self.context = context
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.context is not None:
            kwargs["context"] = self.context
        return name, path, args, kwargs

    def _context(self) -> str:
        return self.context or f"{self.model._meta.label_lower}.{self.attname}"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value in (None, ""):
            return value
        return keyring().decrypt(value, self._context())

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return keyring().encrypt(str(value), self._context())
