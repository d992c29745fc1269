"""Streaming envelope encryption of vault objects (R2.6.2イ, R2.7ウ; DESIGN principle 3).

Every stored object gets a fresh 256-bit data key. The data key is wrapped by the contract's key (held by the
key service, ``keystore.py``), and the object is sealed with AES-256-GCM in fixed-size segments, so a file of
any size streams through in constant memory and every segment is authenticated before any of its plaintext is
released.

On-disk format, version 1 (all integers big-endian)::

    offset  size  field
    0       7     magic  b"SKVAULT"
    7       1     format version = 0x01
    8       4     segment size S: plaintext bytes in every segment but the last
    12      16    object id (UUID; the VaultObject row names the same id)
    28      16    contract key id (UUID; which contract key wrapped the data key)
    44      8     nonce prefix, random per object
    52      2     L, length of the wrapped data key
    54      L     wrapped data key, opaque to this format. The local key service writes
                  12-byte nonce ‖ AES-256-GCM(contract key, data key, aad = "sekisho-vault-dek/1" 0x00 ‖
                  bytes 0..52 ‖ context) (L = 60); the length field itself is covered by the segments' AAD
    54+L    ...   segments 0, 1, …, n-1

    segment i = AES-256-GCM(data key, nonce_i, plaintext_i, aad = SHA-256(header ‖ context))
              = ciphertext_i ‖ 16-byte tag
    nonce_i   = nonce prefix (8) ‖ uint32(i | 0x80000000 if i is the last segment else i)

Every segment but the last holds exactly S plaintext bytes; the last holds 0 ≤ n < S bytes (an empty last
segment when the plaintext is a multiple of S, so the reader knows a segment is the last by its length alone).
At most 2^31 segments: 2 PiB at the default S of 1 MiB.

*context* binds the object to its place: ``sekisho-vault/1 contract=<id> asset=<id> object=<uuid>``. It is
not stored; the reader rebuilds it from the database row, so a blob copied over another asset's blob, or a
wrapped key pasted into another header, fails authentication.

What each attack meets:

- flipped byte anywhere: the header is in every segment's AAD and the key wrap's AAD; segments have tags;
- truncation: a stream must end with a segment flagged final and shorter than S; a cut at a segment boundary
  leaves no final segment, a cut inside one breaks its tag;
- reordering or dropping a segment: the counter is in the nonce;
- splicing segments of another object: other data key and other AAD;
- appended bytes: anything after the final segment is refused;
- wrong or destroyed contract key: the data key cannot be unwrapped, so nothing decrypts at all.

Decryption releases plaintext one segment at a time, each only after its own tag *and the next segment's*
verified (one segment is held back), and raises ``DamagedObject`` before releasing anything of a bad segment.
Verify-then-stream is impossible for a file larger than memory, so a download may stop early: the HTTP
response is aborted and the client sees a body shorter than its Content-Length. That is safe because every
byte it did get was authenticated, and because of the hold-back a client that got every byte got an object
whose final segment verified — a complete response is a verified object.
"""

from __future__ import annotations

import hashlib
import queue
import secrets
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"SKVAULT"
FORMAT_VERSION = 1
DEFAULT_SEGMENT_SIZE = 1 << 20
MIN_SEGMENT_SIZE = 16
MAX_SEGMENT_SIZE = 64 << 20
TAG_SIZE = 16
KEY_SIZE = 32
FINAL_FLAG = 0x8000_0000
MAX_SEGMENTS = 0x7FFF_FFFF
_FIXED = struct.Struct(">7sBI16s16s8sH")  # the 54 bytes before the wrapped key
FIXED_SIZE = _FIXED.size
MAX_WRAPPED_SIZE = 4096
# Plaintext is handed out (and read from sources without readinto) in pieces of this size.
PIECE = 256 << 10

Reader = Callable[[int], bytes]
ReadInto = Callable[[memoryview], "int | None"]
Writer = Callable[[memoryview], Any]
# Plaintext buffers in flight while SHA-256 runs on its own thread: the hash queue's bound plus two.
_HASH_QUEUE = 4
_RING = _HASH_QUEUE + 2


class VaultCryptoError(Exception):
    """Base of what can go wrong opening a vault object."""


class DamagedObject(VaultCryptoError):
    """The object fails authentication or its format: damaged, truncated, reordered, or not this object."""


class KeyUnavailable(VaultCryptoError):
    """The contract key is gone: destroyed (crypto-shredding) or missing from the key store."""

    def __init__(self, message: str, *, destroyed: bool) -> None:
        super().__init__(message)
        self.destroyed = destroyed


class KeyWrapper(Protocol):
    """The part of the key service the format needs (see ``keystore.KeyService``)."""

    def current_key_id(self, contract_id: int) -> uuid.UUID: ...

    def wrap(self, contract_id: int, key_id: uuid.UUID, data_key: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, contract_id: int, key_id: uuid.UUID, wrapped: bytes, aad: bytes) -> bytes: ...


def object_context(contract_id: int, asset_id: int, object_id: uuid.UUID) -> bytes:
    return f"sekisho-vault/1 contract={contract_id} asset={asset_id} object={object_id}".encode("ascii")


@dataclass(frozen=True)
class Header:
    segment_size: int
    object_id: uuid.UUID
    key_id: uuid.UUID
    nonce_prefix: bytes
    wrapped_key: bytes

    def fixed_bytes(self) -> bytes:
        return _FIXED.pack(
            MAGIC,
            FORMAT_VERSION,
            self.segment_size,
            self.object_id.bytes,
            self.key_id.bytes,
            self.nonce_prefix,
            len(self.wrapped_key),
        )

    def to_bytes(self) -> bytes:
        return self.fixed_bytes() + self.wrapped_key

    @property
    def size(self) -> int:
        return FIXED_SIZE + len(self.wrapped_key)


def wrap_aad(fixed: bytes, context: bytes) -> bytes:
    # Everything before the wrapped key's length: the length is only known once the key service wrapped it.
    return b"sekisho-vault-dek/1\x00" + fixed[: FIXED_SIZE - 2] + context


def segment_aad(header: bytes, context: bytes) -> bytes:
    return hashlib.sha256(header + b"\x00" + context).digest()


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    if index > MAX_SEGMENTS:
        raise VaultCryptoError("object too large for the segment counter")
    return prefix + struct.pack(">I", index | (FINAL_FLAG if final else 0))


def read_exact(read: Reader, n: int) -> bytes:
    """Up to *n* bytes: fewer only at the end of the stream (sockets and pipes return short reads)."""
    first = read(n)
    if len(first) == n or not first:
        return first
    parts = [first]
    have = len(first)
    while have < n:
        chunk = read(n - have)
        if not chunk:
            break
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts)


def filler(read: Reader, readinto: ReadInto | None = None) -> Callable[[memoryview], int]:
    """A function that fills a buffer from the stream: fewer bytes only at the end. With *readinto* (files,
    sockets) the bytes land in the caller's buffer directly: fresh 1 MiB allocations per segment cost more
    than the encryption itself (page faults)."""

    def fill(view: memoryview) -> int:
        have, want = 0, len(view)
        while have < want:
            if readinto is not None:
                n = readinto(view[have:]) or 0
            else:
                chunk = read(min(want - have, PIECE))
                n = len(chunk)
                view[have : have + n] = chunk
            if not n:
                break
            have += n
        return have

    return fill


def ciphertext_size(plaintext_size: int, header_size: int, segment_size: int) -> int:
    segments = plaintext_size // segment_size + 1
    return header_size + plaintext_size + segments * TAG_SIZE


# --- sealing --------------------------------------------------------------------------------------------------


class _BackgroundSha256:
    """SHA-256 on a second core: hashlib releases the GIL on large updates, so hashing overlaps with
    encryption and writing instead of adding to them (hashing is the slowest step of a put)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._queue: queue.Queue[memoryview | None] = queue.Queue(maxsize=_HASH_QUEUE)
        self._thread = threading.Thread(target=self._run, name="vault-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hash.update(chunk)

    def update(self, chunk: memoryview) -> None:
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        self.close()
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


@dataclass(frozen=True)
class Sealed:
    size: int
    sha256: str
    stored_size: int
    key_id: uuid.UUID
    segment_size: int


def encrypt_stream(
    read: Reader,
    write: Writer,
    *,
    keys: KeyWrapper,
    contract_id: int,
    object_id: uuid.UUID,
    context: bytes,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    readinto: ReadInto | None = None,
) -> Sealed:
    """Read plaintext with *read* (or *readinto*) until the end, write the sealed object with *write*, which
    must be done with the buffer it is given when it returns (it is reused).

    Memory stays at a few segments whatever the size: a ring of plaintext buffers (SHA-256 runs on another
    thread over them) and one ciphertext buffer."""
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(f"segment size must be between {MIN_SEGMENT_SIZE} and {MAX_SEGMENT_SIZE}")
    key_id = keys.current_key_id(contract_id)
    data_key = AESGCM.generate_key(bit_length=256)
    unwrapped = Header(segment_size, object_id, key_id, secrets.token_bytes(8), b"")
    fixed = unwrapped.fixed_bytes()
    wrapped = keys.wrap(contract_id, key_id, data_key, wrap_aad(fixed, context))
    if not 0 < len(wrapped) <= MAX_WRAPPED_SIZE:
        raise VaultCryptoError("the key service returned an unusable wrapped key")
    header = Header(segment_size, object_id, key_id, unwrapped.nonce_prefix, wrapped)
    header_bytes = header.to_bytes()
    aad = segment_aad(header_bytes, context)
    aead = AESGCM(data_key)
    write(memoryview(header_bytes))
    stored = len(header_bytes)
    size = 0
    index = 0
    fill = filler(read, readinto)
    ring = [memoryview(bytearray(segment_size)) for _ in range(_RING)]
    out = memoryview(bytearray(segment_size + TAG_SIZE))
    digest = _BackgroundSha256()
    try:
        while True:
            # Slot index % _RING is free again: at most _HASH_QUEUE + 1 earlier slots are still being hashed.
            buffer = ring[index % _RING]
            n = fill(buffer)
            final = n < segment_size
            chunk = buffer[:n]
            digest.update(chunk)
            sealed = out[: n + TAG_SIZE]
            aead.encrypt_into(_nonce(header.nonce_prefix, index, final), chunk, aad, sealed)
            write(sealed)
            size += n
            stored += len(sealed)
            index += 1
            if final:
                break
        return Sealed(size, digest.hexdigest(), stored, key_id, segment_size)
    finally:
        digest.close()


# --- opening --------------------------------------------------------------------------------------------------


def read_header(read: Reader) -> Header:
    fixed = read_exact(read, FIXED_SIZE)
    if len(fixed) < FIXED_SIZE:
        raise DamagedObject("truncated header")
    magic, version, segment_size, object_id, key_id, prefix, wrapped_len = _FIXED.unpack(fixed)
    if magic != MAGIC:
        raise DamagedObject("not a vault object")
    if version != FORMAT_VERSION:
        raise DamagedObject(f"unknown vault format version {version}")
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE or not 0 < wrapped_len <= MAX_WRAPPED_SIZE:
        raise DamagedObject("implausible header")
    wrapped = read_exact(read, wrapped_len)
    if len(wrapped) < wrapped_len:
        raise DamagedObject("truncated header")
    return Header(segment_size, uuid.UUID(bytes=object_id), uuid.UUID(bytes=key_id), prefix, wrapped)


class Opened:
    """An object whose header checked out and whose data key was unwrapped; ``segments()`` streams it."""

    def __init__(
        self, read: Reader, header: Header, data_key: bytes, context: bytes, readinto: ReadInto | None = None
    ) -> None:
        self._read = read
        self._fill = filler(read, readinto)
        self.header = header
        self._aead = AESGCM(data_key)
        self._aad = segment_aad(header.to_bytes(), context)

    def segments(self) -> Iterator[bytes]:
        """The plaintext, in pieces of at most PIECE bytes. A segment is released only once its own tag *and
        the next segment's* verified, so the last bytes come out only after the final segment proved the object
        whole: a reader that got every byte got a verified object. Raises DamagedObject at the first bad
        segment, before anything of it is released."""
        pending: memoryview | None = None
        for plain in self._verified_segments():
            if pending is not None:
                yield from _pieces(pending)
            pending = plain
        if pending is not None:
            yield from _pieces(pending)

    def _verified_segments(self) -> Iterator[memoryview]:
        """Each segment's plaintext, decrypted into one of two buffers that take turns: the one yielded last
        is left alone while the next segment is decrypted into the other. No allocation per segment."""
        seg = self.header.segment_size
        full = seg + TAG_SIZE
        buffer = memoryview(bytearray(full))
        plains = (memoryview(bytearray(seg)), memoryview(bytearray(seg)))
        index = 0
        while True:
            sealed = buffer[: self._fill(buffer)]
            final = len(sealed) < full
            if final and len(sealed) < TAG_SIZE:
                raise DamagedObject(f"truncated: the final segment is missing (after segment {index - 1})")
            plain = plains[index % 2][: len(sealed) - TAG_SIZE]
            try:
                # On failure the buffer may hold unauthenticated bytes; they are never yielded.
                self._aead.decrypt_into(
                    _nonce(self.header.nonce_prefix, index, final), sealed, self._aad, plain
                )
            except InvalidTag as exc:
                raise DamagedObject(f"segment {index} fails authentication") from exc
            if final:
                if self._read(1):
                    raise DamagedObject("data after the final segment")
                yield plain
                return
            yield plain
            index += 1


def _pieces(view: memoryview) -> Iterator[bytes]:
    # Copies of at most PIECE bytes: small enough for malloc's heap (no fresh mmap and page faults per
    # segment), large enough that the per-piece overhead does not show.
    for start in range(0, len(view), PIECE):
        yield bytes(view[start : start + PIECE])


def open_stream(
    read: Reader,
    *,
    keys: KeyWrapper,
    contract_id: int,
    object_id: uuid.UUID,
    context: bytes,
    readinto: ReadInto | None = None,
) -> Opened:
    """Check the header and unwrap the data key. Raises KeyUnavailable when the contract key is gone and
    DamagedObject when the header is not this object's."""
    header = read_header(read)
    if header.object_id != object_id:
        raise DamagedObject("the blob belongs to another object")
    data_key = keys.unwrap(
        contract_id, header.key_id, header.wrapped_key, wrap_aad(header.fixed_bytes(), context)
    )
    if len(data_key) != KEY_SIZE:
        raise DamagedObject("unwrapped data key has the wrong size")
    return Opened(read, header, data_key, context, readinto)


def decrypt_stream(
    read: Reader, *, keys: KeyWrapper, contract_id: int, object_id: uuid.UUID, context: bytes
) -> Iterator[bytes]:
    yield from open_stream(
        read, keys=keys, contract_id=contract_id, object_id=object_id, context=context
    ).segments()
