"""Signed tree heads: what is signed, how, and how a verifier reads keys. Ed25519 via ``cryptography``.

Pure Python, no Django: the offline verifier uses it. A tree head states "the log *stream* had *size* events,
whose Merkle root is *root_hash* and whose last event hashes to *head_hash*, at *timestamp_ms*". The signed
bytes are a short text, one field a line, so that anyone can rebuild them by hand:

    sekisho-audit-tree-head/v1
    stream contract:12
    size 345
    root 5dc9…(64 hex)
    head 9a0b…(64 hex, or "-" for an empty log)
    timestamp_ms 1764100000123

The head hash (SHA-256 of the last event's canonical bytes, the end of the hash chain) is signed with the
root so that a verifier can walk the chain back from a trusted end and name the first event that does not
belong — the Merkle root alone says only *that* something differs.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MESSAGE_VERSION = "sekisho-audit-tree-head/v1"
_STREAM = re.compile(r"^[a-z][a-z0-9_-]*(:[0-9]+)?$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class BadKey(ValueError):
    """A key that cannot be read."""


def ms_of(moment: dt.datetime) -> int:
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


def moment_of(ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ms)


@dataclass(frozen=True)
class TreeHead:
    stream: str
    size: int
    root_hash: str
    head_hash: str
    timestamp_ms: int
    key_id: str = ""
    signature: str = ""

    def message(self) -> bytes:
        return (
            f"{MESSAGE_VERSION}\nstream {self.stream}\nsize {self.size}\nroot {self.root_hash}\n"
            f"head {self.head_hash or '-'}\ntimestamp_ms {self.timestamp_ms}\n"
        ).encode("ascii")

    @property
    def timestamp(self) -> dt.datetime:
        return moment_of(self.timestamp_ms)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat(timespec="milliseconds")
        return data

    @classmethod
    def from_dict(cls, data: Any) -> TreeHead:
        """Read a tree head from JSON, strictly: every signed field present and well formed."""
        if not isinstance(data, dict):
            raise ValueError("tree head is not a JSON object")
        try:
            head = cls(
                stream=data["stream"],
                size=data["size"],
                root_hash=data["root_hash"],
                head_hash=data["head_hash"],
                timestamp_ms=data["timestamp_ms"],
                key_id=data.get("key_id", ""),
                signature=data["signature"],
            )
        except KeyError as exc:
            raise ValueError(f"tree head lacks the field {exc.args[0]!r}") from exc
        head.check()
        return head

    def check(self) -> None:
        if not isinstance(self.stream, str) or not _STREAM.match(self.stream):
            raise ValueError(f"tree head stream {self.stream!r} is malformed")
        for name in ("size", "timestamp_ms"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"tree head {name} must be a non-negative integer")
        if not isinstance(self.root_hash, str) or not _HEX64.match(self.root_hash):
            raise ValueError("tree head root_hash must be 64 lowercase hex digits")
        empty = self.size == 0
        if not isinstance(self.head_hash, str) or not (
            (empty and self.head_hash == "") or (not empty and _HEX64.match(self.head_hash))
        ):
            raise ValueError("tree head head_hash must be 64 lowercase hex digits (empty for an empty log)")
        if not isinstance(self.signature, str) or not isinstance(self.key_id, str):
            raise ValueError("tree head signature and key_id must be strings")

    def signature_bytes(self) -> bytes:
        try:
            raw = base64.b64decode(self.signature, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("tree head signature is not base64") from exc
        if len(raw) != 64:
            raise ValueError("tree head signature is not 64 bytes")
        return raw


def sign(head: TreeHead, private_key: Ed25519PrivateKey) -> TreeHead:
    head.check()
    signature = private_key.sign(head.message())
    return replace(
        head,
        key_id=key_id(private_key.public_key()),
        signature=base64.b64encode(signature).decode("ascii"),
    )


def signature_is_valid(head: TreeHead, public_key: Ed25519PublicKey) -> bool:
    try:
        head.check()
        public_key.verify(head.signature_bytes(), head.message())
    except (InvalidSignature, ValueError):
        return False
    return True


# --- Keys ------------------------------------------------------------------------------------------------------


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """Fingerprint of a public key: SHA-256 of its 32 raw bytes, hex."""
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public_key(public_key)).decode("ascii")


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    """A PEM (PKCS#8) Ed25519 key, or a base64url 32-byte seed as the data directory's key file holds."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_private_key(text, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise BadKey("the audit signing key must be an Ed25519 key")
        return key
    try:
        seed = base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadKey("the audit signing key is neither PEM nor a base64url seed") from exc
    if len(seed) != 32:
        raise BadKey(f"the audit signing key seed has {len(seed)} bytes, Ed25519 needs 32")
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_public_key(data: bytes | str) -> Ed25519PublicKey:
    """A PEM public key, or the 32 raw bytes in base64 or hex (as the export header and the API give it)."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    text = raw.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
        if not isinstance(key, Ed25519PublicKey):
            raise BadKey("the public key is not an Ed25519 key")
        return key
    decoded: bytes | None = None
    if re.fullmatch(rb"[0-9a-fA-F]{64}", text):
        decoded = bytes.fromhex(text.decode("ascii"))
    else:
        try:
            decoded = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            decoded = None
    if decoded is None or len(decoded) != 32:
        raise BadKey("the public key is neither PEM nor 32 bytes in base64 or hex")
    return Ed25519PublicKey.from_public_bytes(decoded)
