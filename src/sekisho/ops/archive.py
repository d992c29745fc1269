"""The backup archive: one tar file, every member sealed on its own with the backup's data key.

Layout (a plain ustar/pax tar, so ``tar tvf`` lists it)::

    backup.json            plaintext: format, backup id, creation time, app version. No secret in it.
    db/<app>.<model>.jsonl.gz    one sealed member per table, in dependency order (``dump.py``)
    blobs/000001 …         one sealed member per vault blob (already ciphertext of the vault; sealed again, so
                           the archive shows neither names nor contents). The manifest maps each to its key.
    manifest.json          sealed, last: format, app version, migration state, row counts, and for every
                           member its size and SHA-256 (plaintext and as stored)

A sealed member is AES-256-GCM in segments of 1 MiB (every segment but the last exactly 1 MiB, the last
shorter, possibly empty, so the last is known by its length)::

    segment i = AES-256-GCM(data key, nonce, plaintext_i, aad) ‖ 16-byte tag
    nonce     = uint32(member index) ‖ uint64(i, top bit set on the last segment)
    aad       = "sekisho-backup/1" 0x00 ‖ backup id (16) ‖ uint32(member index) ‖ member name

so a flipped byte fails its segment's tag and names the member; a member moved, renamed, truncated or taken
from another backup fails too. The data key is fresh for every backup and is only in the key file
(``keyfile.py``), which also records the SHA-256 of the whole archive: bytes outside any member (tar headers,
padding) cannot change unnoticed either. Everything streams: memory does not grow with a table or a blob.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import ArchiveDamaged, WrongKey

FORMAT = "sekisho-backup"
VERSION = 1
HEADER_MEMBER = "backup.json"
MANIFEST_MEMBER = "manifest.json"
SEGMENT = 1 << 20
TAG = 16
_FINAL = 1 << 63
_AAD_PREFIX = b"sekisho-backup/1\x00"
_HEADER_LIMIT = 64 << 10
COPY_SIZE = 1 << 20


def sealed_size(size: int) -> int:
    """The stored size of a member of *size* plaintext bytes."""
    full, rest = divmod(size, SEGMENT)
    return full * (SEGMENT + TAG) + rest + TAG


class Sealer:
    """Seals and opens the members of one backup."""

    def __init__(self, data_key: bytes, backup_id: uuid.UUID) -> None:
        self._aead = AESGCM(data_key)
        self.backup_id = backup_id

    def _aad(self, index: int, name: str) -> bytes:
        return _AAD_PREFIX + self.backup_id.bytes + struct.pack(">I", index) + name.encode("utf-8")

    @staticmethod
    def _nonce(index: int, segment: int, final: bool) -> bytes:
        return struct.pack(">IQ", index, segment | (_FINAL if final else 0))

    def seal(self, index: int, name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        aad = self._aad(index, name)
        buffer = bytearray()
        segment = 0
        for chunk in chunks:
            buffer += chunk
            while len(buffer) >= SEGMENT:
                yield self._aead.encrypt(self._nonce(index, segment, False), bytes(buffer[:SEGMENT]), aad)
                del buffer[:SEGMENT]
                segment += 1
        yield self._aead.encrypt(self._nonce(index, segment, True), bytes(buffer), aad)

    def open(self, index: int, name: str, read: Callable[[int], bytes], size: int) -> Iterator[bytes]:
        """Plaintext segment by segment, each only after its tag verified. Raises ``_SegmentFailed``."""
        aad = self._aad(index, name)
        remaining = size
        segment = 0
        while True:
            want = min(SEGMENT + TAG, remaining)
            if want < TAG:
                raise _SegmentFailed(segment, "途中で切れています (truncated)")
            data = _read_exact(read, want)
            remaining -= want
            final = want < SEGMENT + TAG
            if not final and remaining == 0:
                raise _SegmentFailed(segment + 1, "最後のセグメントがありません (truncated)")
            try:
                plain = self._aead.decrypt(self._nonce(index, segment, final), data, aad)
            except InvalidTag:
                raise _SegmentFailed(segment, "認証に失敗しました (authentication failed)") from None
            yield plain
            if final:
                return
            segment += 1


class _SegmentFailed(Exception):
    def __init__(self, segment: int, why: str) -> None:
        super().__init__(f"セグメント {segment}: {why}" if segment >= 0 else why)


def _read_exact(read: Callable[[int], bytes], n: int) -> bytes:
    parts = []
    while n > 0:
        data = read(n)
        if not data:
            break
        parts.append(data)
        n -= len(data)
    return b"".join(parts)


# --- writing ----------------------------------------------------------------------------------------------------


class _HashingSink:
    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.fh.write(data)
        self.size += len(data)
        return len(data)


class _ChunkReader:
    """A file-like ``read`` over an iterator of bytes (tarfile.addfile copies exactly the member's size)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if n < 0:
            n = len(self._buffer)
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out


@dataclass
class _Digest:
    size: int = 0
    sha: Any = field(default_factory=hashlib.sha256)

    def through(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.size += len(chunk)
            self.sha.update(chunk)
            yield chunk


class ArchiveWriter:
    """Writes the archive sequentially to *fh*; ``entries`` collects each member's sizes and hashes."""

    def __init__(self, fh: BinaryIO, *, backup_id: uuid.UUID, data_key: bytes, mtime: float, spool_dir: Path):
        self._sink = _HashingSink(fh)
        # Closed by close(), which writes the manifest first.
        self._tar = tarfile.open(fileobj=self._sink, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]  # noqa: SIM115
        self._sealer = Sealer(data_key, backup_id)
        self._mtime = mtime
        self._spool_dir = spool_dir
        self._index = 0
        self.entries: list[dict[str, Any]] = []

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = int(self._mtime)
        info.mode = 0o600
        info.uname = info.gname = "sekisho"
        return info

    def _add(self, info: tarfile.TarInfo, fileobj: Any) -> None:
        self._tar.addfile(info, fileobj)
        self._tar.members.clear()  # tarfile keeps every header it wrote; a million blobs would be a lot of them

    def add_plain(self, name: str, data: bytes) -> None:
        self._add(self._info(name, len(data)), io.BytesIO(data))
        self._index += 1

    def add_sealed(self, name: str, size: int, chunks: Iterable[bytes], **meta: Any) -> dict[str, Any]:
        """A member whose plaintext size is known in advance (a blob): streamed straight into the tar."""
        index = self._index
        plain, stored = _Digest(), _Digest()
        sealed = stored.through(self._sealer.seal(index, name, plain.through(chunks)))
        self._add(self._info(name, sealed_size(size)), _ChunkReader(sealed))
        if plain.size != size:
            raise OSError(f"{name}: expected {size} bytes, read {plain.size}")
        return self._entry(index, name, plain, stored, meta)

    def add_spooled(self, name: str, chunks: Iterable[bytes], **meta: Any) -> dict[str, Any]:
        """A member of unknown size (a table): sealed into an unnamed temporary file first (ciphertext only),
        then copied in."""
        index = self._index
        plain, stored = _Digest(), _Digest()
        with tempfile.TemporaryFile(dir=self._spool_dir, prefix=".sekisho-backup-") as spool:
            for segment in stored.through(self._sealer.seal(index, name, plain.through(chunks))):
                spool.write(segment)
            spool.seek(0)
            self._add(self._info(name, stored.size), spool)
        return self._entry(index, name, plain, stored, meta)

    def _entry(
        self, index: int, name: str, plain: _Digest, stored: _Digest, meta: dict[str, Any]
    ) -> dict[str, Any]:
        self._index += 1
        entry = {
            "index": index,
            "name": name,
            "size": plain.size,
            "sha256": plain.sha.hexdigest(),
            "stored_size": stored.size,
            "stored_sha256": stored.sha.hexdigest(),
            **meta,
        }
        self.entries.append(entry)
        return entry

    def close(self, manifest: dict[str, Any]) -> tuple[str, int]:
        """Seal the manifest as the last member and end the tar. Returns the archive's SHA-256 and size."""
        data = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
        index = self._index
        sealed = b"".join(self._sealer.seal(index, MANIFEST_MEMBER, [data]))
        self._add(self._info(MANIFEST_MEMBER, len(sealed)), io.BytesIO(sealed))
        self._tar.close()
        return self._sink.sha.hexdigest(), self._sink.size


# --- reading ----------------------------------------------------------------------------------------------------


class _HashingSource:
    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.sha = hashlib.sha256()
        self.offset = 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.sha.update(data)
        self.offset += len(data)
        return data

    def drain(self) -> None:
        while self.read(COPY_SIZE):
            pass


@dataclass
class Member:
    """One member as it is read: its index and tar name, and its plaintext as a stream."""

    index: int
    name: str
    stored_size: int
    _reader: ArchiveReader
    _fh: IO[bytes]
    plain_size: int = 0
    plain_sha: Any = field(default_factory=hashlib.sha256)
    stored_sha: Any = field(default_factory=hashlib.sha256)

    def plaintext(self) -> Iterator[bytes]:
        """The member's plaintext, verified segment by segment; raises ``MemberDamaged``."""

        def read(n: int) -> bytes:
            try:
                data = self._fh.read(n)
            except (tarfile.TarError, EOFError) as exc:  # the file ends inside the member
                raise _SegmentFailed(-1, f"途中で切れています (truncated: {exc})") from exc
            self.stored_sha.update(data)
            return data

        try:
            for chunk in self._reader.sealer.open(self.index, self.name, read, self.stored_size):
                self.plain_size += len(chunk)
                self.plain_sha.update(chunk)
                yield chunk
        except _SegmentFailed as exc:
            raise MemberDamaged(self.name, str(exc)) from None


class MemberDamaged(Exception):
    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name = name
        self.detail = detail


class StructureDamaged(Exception):
    """The tar structure itself is broken (a header that fails its checksum, a member cut short)."""


def _open_tar(source: _HashingSource) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=source, mode="r|")  # type: ignore[call-overload]
    except tarfile.TarError as exc:
        raise StructureDamaged(f"tar として読めません ({exc})") from exc


class ArchiveReader:
    """Reads an archive front to back; ``header`` is the plaintext ``backup.json``; ``sha256`` the whole
    file's hash once ``members()`` is exhausted."""

    def __init__(self, path: Path, *, data_key: bytes, backup_id: uuid.UUID) -> None:
        self.path = path
        self.sealer = Sealer(data_key, backup_id)
        self.header: dict[str, Any] = {}
        self.sha256 = ""
        self.last_name = ""

    def members(self) -> Iterator[Member]:
        with self.path.open("rb", buffering=0) as raw:
            source = _HashingSource(raw)
            with _open_tar(source) as tar:
                index = 0
                while True:
                    try:
                        info = tar.next()
                    except (tarfile.TarError, EOFError) as exc:
                        where = f"「{self.last_name}」の後" if self.last_name else "先頭"
                        raise StructureDamaged(f"{where}の tar 構造が壊れています ({exc})") from exc
                    if info is None:
                        break
                    fh = tar.extractfile(info) if info.isfile() else None
                    if fh is None:
                        raise StructureDamaged(f"{info.name}: 通常のファイルではありません")
                    if index == 0:
                        self._read_header(info, fh)
                    else:
                        yield Member(index, info.name, info.size, self, fh)
                    self.last_name = info.name
                    tar.members.clear()  # type: ignore[attr-defined]  # tarfile keeps every header it read
                    index += 1
            source.drain()
            self.sha256 = source.sha.hexdigest()

    def _read_header(self, info: tarfile.TarInfo, fh: IO[bytes]) -> None:
        if info.name != HEADER_MEMBER or info.size > _HEADER_LIMIT:
            raise StructureDamaged(f"Sekisho のバックアップではありません（先頭が {info.name}）")
        try:
            header = json.loads(fh.read(info.size).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise StructureDamaged(f"{HEADER_MEMBER}: 読めません ({exc})") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise StructureDamaged(f"{HEADER_MEMBER}: Sekisho のバックアップではありません")
        self.header = header


def verify_archive(
    path: Path,
    *,
    data_key: bytes,
    backup_id: uuid.UUID,
    archive_sha256: str,
    on_member: Callable[[int], None],
) -> dict[str, Any]:
    """Read every member, check every segment and every hash against the manifest and the whole file against
    the key file. Returns the manifest; raises ``ArchiveDamaged`` naming what failed, or ``WrongKey``."""
    reader = ArchiveReader(path, data_key=data_key, backup_id=backup_id)
    failures: list[tuple[str, str]] = []  # (tar name, detail)
    seen: dict[str, _Seen] = {}  # what was read of each member (not the member: it holds a read buffer)
    manifest: dict[str, Any] | None = None
    opened_any = False
    try:
        for member in reader.members():
            try:
                if member.name == MANIFEST_MEMBER:
                    manifest = json.loads(b"".join(member.plaintext()).decode("utf-8"))
                else:
                    for chunk in member.plaintext():
                        on_member(len(chunk))
                opened_any = True
            except MemberDamaged as exc:
                if not opened_any and reader.header.get("backup_id") != str(backup_id):
                    raise WrongKey(
                        f"鍵ファイルは別のバックアップ（{backup_id}）のものです。このアーカイブは "
                        f"{reader.header.get('backup_id')} です。"
                        " (The key file belongs to another backup.)"
                    ) from None
                failures.append((exc.name, exc.detail))
            except ValueError as exc:
                failures.append((member.name, f"読めません ({exc})"))
            seen[member.name] = _Seen(
                member.index,
                member.stored_size,
                member.stored_sha.hexdigest(),
                member.plain_size,
                member.plain_sha.hexdigest(),
            )
    except StructureDamaged as exc:
        failures.append(("", str(exc)))
    if reader.header.get("backup_id") != str(backup_id) and not failures:
        failures.append((HEADER_MEMBER, "バックアップIDが鍵ファイルと一致しません"))
    if manifest is None and not failures:
        where = f"「{reader.last_name}」の後" if reader.last_name else "先頭"
        failures.append(
            (
                MANIFEST_MEMBER,
                f"ありません: {where}でアーカイブが途切れています（次のメンバーの tar ヘッダーが壊れているか、"
                "切り詰められています）",
            )
        )
    problems, names = _compare(manifest, seen, failures)
    if reader.sha256 and reader.sha256 != archive_sha256 and not problems:
        problems.append(
            "アーカイブ全体の SHA-256 が鍵ファイルの記録と一致しません（メンバーの外: tar のヘッダーか"
            f"埋め草、または {HEADER_MEMBER}）"
        )
        names.append(HEADER_MEMBER)
    if problems:
        raise ArchiveDamaged(problems, names)
    assert manifest is not None
    return manifest


@dataclass(frozen=True)
class _Seen:
    index: int
    stored_size: int
    stored_sha256: str
    size: int
    sha256: str


def _label(entry: dict[str, Any] | None, name: str) -> str:
    if entry and entry.get("kind") == "blob":
        return f"{name}（保管庫 {entry['backend']}:{entry['key']}）"
    return name


def _compare(
    manifest: dict[str, Any] | None, seen: dict[str, _Seen], failures: list[tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """Problems in words, and the member names they concern (logical names where the manifest tells)."""
    entries = {e["name"]: e for e in (manifest or {}).get("members", [])}
    problems: list[str] = []
    names: list[str] = []
    for name, detail in failures:
        label = _label(entries.get(name), name) if name else ""
        problems.append(f"{label}: {detail}" if label else detail)
        names.append(label or name)
    if manifest is None:
        return problems, names
    failed = {n for n, _ in failures}
    for name, entry in entries.items():
        member = seen.get(name)
        if member is None:
            problems.append(f"{_label(entry, name)}: アーカイブにありません (missing)")
            names.append(_label(entry, name))
        elif name not in failed and (
            (member.index, member.stored_size, member.stored_sha256, member.size, member.sha256)
            != (entry["index"], entry["stored_size"], entry["stored_sha256"], entry["size"], entry["sha256"])
        ):
            problems.append(f"{_label(entry, name)}: SHA-256 が目録と一致しません")
            names.append(_label(entry, name))
    for name in seen:
        if name not in entries and name != MANIFEST_MEMBER:
            problems.append(f"{name}: 目録にないメンバーです (unexpected)")
            names.append(name)
    return problems, names
