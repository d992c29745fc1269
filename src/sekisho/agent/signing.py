"""The signed-request format shared by the agent and the server.

A request is signed with the device's Ed25519 key over one canonical text::

    sekisho-agent-v1
    <METHOD>
    <path with query string>
    <unix timestamp>
    <nonce>
    <key id: the device id, or "enroll:<key fingerprint>" while enrolling>
    <hex SHA-256 of the body>

and carries the parts in headers. The server checks the signature with the key it holds for the device,
refuses timestamps outside a small window and nonces it has seen before, so a captured request can be
neither altered nor replayed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SCHEME = "sekisho-agent-v1"
HEADER_DEVICE = "X-Sekisho-Device"
HEADER_TIMESTAMP = "X-Sekisho-Timestamp"
HEADER_NONCE = "X-Sekisho-Nonce"
HEADER_SIGNATURE = "X-Sekisho-Signature"
ENROLL_PREFIX = "enroll:"


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_message(method: str, path: str, timestamp: str, nonce: str, key_id: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([SCHEME, method.upper(), path, timestamp, nonce, key_id, digest]).encode("utf-8")


def public_key_text(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return b64encode(raw)


def fingerprint(public_key_b64: str) -> str:
    """SHA-256 of the raw public key, hex: how people and logs name a device key."""
    return hashlib.sha256(b64decode(public_key_b64)).hexdigest()


def load_public_key(public_key_b64: str) -> Ed25519PublicKey:
    raw = b64decode(public_key_b64)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class SignedHeaders:
    key_id: str
    timestamp: str
    nonce: str
    signature: str

    def as_dict(self) -> dict[str, str]:
        return {
            HEADER_DEVICE: self.key_id,
            HEADER_TIMESTAMP: self.timestamp,
            HEADER_NONCE: self.nonce,
            HEADER_SIGNATURE: self.signature,
        }


def sign_request(
    private_key: Ed25519PrivateKey,
    *,
    method: str,
    path: str,
    body: bytes,
    key_id: str,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> SignedHeaders:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or new_nonce()
    signature = private_key.sign(canonical_message(method, path, ts, nonce, key_id, body))
    return SignedHeaders(key_id=key_id, timestamp=ts, nonce=nonce, signature=b64encode(signature))
