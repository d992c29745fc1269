"""The deployment's tree-head signing key (Ed25519), read from ``settings.SEKISHO_AUDIT_KEY_FILE``.

Settings generate the key file once (mode 0600, like the secret key) unless ``SEKISHO_AUDIT_KEY_FILE`` names a
key kept elsewhere. The file holds a PEM PKCS#8 key or a base64url 32-byte seed.
"""

from __future__ import annotations

import functools
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from . import signing


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> Ed25519PrivateKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(f"SEKISHO_AUDIT_KEY_FILE={path!r} cannot be read: {exc}") from exc
    try:
        return signing.load_private_key(data)
    except (signing.BadKey, ValueError) as exc:
        raise ImproperlyConfigured(f"SEKISHO_AUDIT_KEY_FILE={path!r}: {exc}") from exc


def signing_key() -> Ed25519PrivateKey:
    path = Path(settings.SEKISHO_AUDIT_KEY_FILE)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise ImproperlyConfigured(f"SEKISHO_AUDIT_KEY_FILE={str(path)!r} cannot be read: {exc}") from exc
    return _load(str(path), mtime)


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def key_id() -> str:
    return signing.key_id(public_key())
