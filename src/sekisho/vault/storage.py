"""Where sealed blobs are kept: the local filesystem (default) or an S3-compatible object store.

Backends only ever see ciphertext (vault objects, age transfer packages). A blob becomes visible under its key
only when ``commit()`` is called after the last byte: the filesystem writes ``<key>.partial-<random>`` and
renames it; S3 completes a multipart upload. ``abort()`` removes what was written. A process killed mid-upload
leaves a partial file or an incomplete multipart upload — ciphertext that no row refers to — which
``sekisho vault verify --clean`` lists and removes (for S3, a bucket lifecycle rule "abort incomplete
multipart uploads after N days" is the belt to those braces).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from django.conf import settings

FILESYSTEM = "filesystem"
S3 = "s3"
BACKENDS = (FILESYSTEM, S3)
_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*)*$")
PARTIAL_MARK = ".partial-"
READ_SIZE = 1 << 20


class StorageError(Exception):
    pass


class BlobMissing(StorageError):
    pass


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key or PARTIAL_MARK in key:
        raise StorageError(f"bad blob key {key!r}")
    return key


class BlobWriter(Protocol):
    def write(self, data: bytes) -> int: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class BlobReader(Protocol):
    def read(self, n: int = -1) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Partial:
    """An upload that never committed: what a killed process leaves behind."""

    key: str
    started_at: dt.datetime
    handle: str  # the partial file's name, or the multipart upload id


class Storage(ABC):
    name: str

    @abstractmethod
    def writer(self, key: str) -> BlobWriter: ...

    @abstractmethod
    def open(self, key: str) -> BlobReader:
        """Raises BlobMissing."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def size(self, key: str) -> int: ...

    @abstractmethod
    def keys(self, prefix: str = "") -> Iterator[str]: ...

    @abstractmethod
    def modified(self, key: str) -> dt.datetime:
        """When the blob was written (to spare blobs whose version row is being created right now)."""

    @abstractmethod
    def partials(self) -> Iterator[Partial]: ...

    @abstractmethod
    def remove_partial(self, partial: Partial) -> None: ...

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except BlobMissing:
            return False
        return True


# --- filesystem -----------------------------------------------------------------------------------------------


class _FileWriter:
    def __init__(self, final: Path) -> None:
        self.final = final
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.partial = final.with_name(f"{final.name}{PARTIAL_MARK}{secrets.token_hex(8)}")
        fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh: BinaryIO | None = os.fdopen(fd, "wb", buffering=0)

    def write(self, data: bytes) -> int:
        assert self._fh is not None, "write after commit/abort"
        view = memoryview(data)
        while view:
            n = self._fh.write(view)
            view = view[n or 0 :]
        return len(data)

    def commit(self) -> None:
        assert self._fh is not None, "commit after commit/abort"
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        if self.final.exists():
            self.partial.unlink()
            raise StorageError(f"blob {self.final} already exists")
        os.replace(self.partial, self.final)
        fd = os.open(self.final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()


class FilesystemStorage(Storage):
    name = FILESYSTEM

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def writer(self, key: str) -> BlobWriter:
        return _FileWriter(self._path(key))

    def open(self, key: str) -> BlobReader:
        try:
            return self._path(key).open("rb", buffering=0)
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc

    def modified(self, key: str) -> dt.datetime:
        try:
            return dt.datetime.fromtimestamp(self._path(key).stat().st_mtime, tz=dt.UTC)
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        if not self.root.exists():
            return
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if PARTIAL_MARK in name:
                    continue
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def partials(self) -> Iterator[Partial]:
        if not self.root.exists():
            return
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if PARTIAL_MARK not in name:
                    continue
                path = Path(dirpath, name)
                with contextlib.suppress(FileNotFoundError):
                    started = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
                    key = path.relative_to(self.root).as_posix().split(PARTIAL_MARK)[0]
                    yield Partial(key=key, started_at=started, handle=name)

    def remove_partial(self, partial: Partial) -> None:
        path = self._path(partial.key).with_name(partial.handle)
        if PARTIAL_MARK not in path.name:
            raise StorageError("not a partial upload")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# --- S3-compatible --------------------------------------------------------------------------------------------

MIN_PART_SIZE = 5 << 20  # S3's smallest part but the last


class _S3Writer:
    """Multipart upload for objects larger than one part, a single PUT for the rest. Holds one part in
    memory (8 MiB by default), whatever the object's size."""

    def __init__(self, client: Any, bucket: str, key: str, part_size: int) -> None:
        self.client, self.bucket, self.key, self.part_size = client, bucket, key, part_size
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        assert not self.closed, "write after commit/abort"
        self.buffer += data
        while len(self.buffer) >= self.part_size:
            self._send_part(bytes(self.buffer[: self.part_size]))
            del self.buffer[: self.part_size]
        return len(data)

    def _send_part(self, body: bytes) -> None:
        if self.upload_id is None:
            self.upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
        number = len(self.parts) + 1
        result = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        self.parts.append({"ETag": result["ETag"], "PartNumber": number})

    def commit(self) -> None:
        assert not self.closed, "commit after commit/abort"
        try:
            if self.upload_id is None:
                self.client.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.buffer))
            else:
                if self.buffer:
                    self._send_part(bytes(self.buffer))
                self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    MultipartUpload={"Parts": self.parts},
                )
        except Exception:
            self.abort()
            raise
        self.buffer = bytearray()
        self.closed = True

    def abort(self) -> None:
        self.closed = True
        self.buffer = bytearray()
        if self.upload_id is not None:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
            self.upload_id = None


class _S3Reader:
    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, n: int = -1) -> bytes:
        return bytes(self._body.read(None if n < 0 else n))

    def close(self) -> None:
        self._body.close()


class S3Storage(Storage):
    name = S3

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        access_key: str = "",
        secret_key: str = "",
        region: str = "us-east-1",
        part_size: int = 8 << 20,
        prefix: str = "",
    ) -> None:
        import boto3
        from botocore.config import Config

        if not bucket:
            raise StorageError("SEKISHO_VAULT_S3_BUCKET is not set")
        if part_size < MIN_PART_SIZE:
            raise StorageError(f"the S3 part size must be at least {MIN_PART_SIZE} bytes")
        self.bucket, self.part_size, self.prefix = bucket, part_size, prefix
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            region_name=region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def writer(self, key: str) -> BlobWriter:
        return _S3Writer(self.client, self.bucket, self._key(key), self.part_size)

    def _missing(self, exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return code in ("NoSuchKey", "404", "NotFound")

    def open(self, key: str) -> BlobReader:
        try:
            result = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.ClientError as exc:
            if self._missing(exc):
                raise BlobMissing(key) from exc
            raise
        return _S3Reader(result["Body"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def size(self, key: str) -> int:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"])
        except self.client.exceptions.ClientError as exc:
            if self._missing(exc):
                raise BlobMissing(key) from exc
            raise

    def modified(self, key: str) -> dt.datetime:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))["LastModified"]
        except self.client.exceptions.ClientError as exc:
            if self._missing(exc):
                raise BlobMissing(key) from exc
            raise

    def keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", []):
                yield item["Key"][len(self.prefix) :]

    def partials(self) -> Iterator[Partial]:
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for upload in page.get("Uploads", []):
                yield Partial(
                    key=upload["Key"][len(self.prefix) :],
                    started_at=upload["Initiated"],
                    handle=upload["UploadId"],
                )

    def remove_partial(self, partial: Partial) -> None:
        self.client.abort_multipart_upload(
            Bucket=self.bucket, Key=self.prefix + partial.key, UploadId=partial.handle
        )


def get_storage(name: str | None = None) -> Storage:
    """The backend called *name* (default: SEKISHO_VAULT_BACKEND). Rows remember their backend, so objects
    written before a switch stay readable while both are configured."""
    name = name or settings.SEKISHO_VAULT_BACKEND
    if name == FILESYSTEM:
        return FilesystemStorage(settings.VAULT_DIR)
    if name == S3:
        return S3Storage(
            bucket=settings.SEKISHO_VAULT_S3_BUCKET,
            endpoint_url=settings.SEKISHO_VAULT_S3_ENDPOINT,
            access_key=settings.SEKISHO_VAULT_S3_ACCESS_KEY,
            secret_key=settings.SEKISHO_VAULT_S3_SECRET_KEY,
            region=settings.SEKISHO_VAULT_S3_REGION,
            part_size=settings.SEKISHO_VAULT_S3_PART_SIZE,
        )
    raise StorageError(f"unknown vault backend {name!r} (one of {', '.join(BACKENDS)})")
