"""Files attached to a report (R3), sealed exactly as the vault seals content (R2.6.2イ, R2.7ウ).

A vault object is a version of a ledger asset, put from an approved device; a report's attachment is neither,
so it is not a ``VaultObject``. It is sealed with the vault's own envelope encryption (``vault.crypto``: a fresh
data key, AES-256-GCM segments, the data key wrapped by the contract key of the vault's key service) into the
vault's storage backend under ``oversight/``. Crypto-shredding the contract therefore makes attachments
unreadable too, and ``sekisho vault verify --clean`` (which only removes blobs under ``objects/`` and
``packages/``) never takes them for orphans.

Plaintext never touches the disk: uploads are kept in memory by ``InMemoryAttachmentUpload`` (Django would
spool a file over 2.5 MB to a temporary file), at most the limit plus one byte per file, and at most
``max_count() + 1`` files, so an oversized or excessive upload is refused by name without filling memory.
"""

from __future__ import annotations

import functools
import io
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from sekisho.core.errors import Invalid, SekishoError
from sekisho.vault import crypto
from sekisho.vault.keystore import get_key_service
from sekisho.vault.services import VaultDamaged, clean_filename, key_destroyed_error
from sekisho.vault.storage import BlobMissing, get_storage

from .models import CLAUSE, ReportAttachment

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_COUNT = 10


def max_bytes() -> int:
    return int(getattr(settings, "SEKISHO_REPORT_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_count() -> int:
    return int(getattr(settings, "SEKISHO_REPORT_ATTACHMENT_MAX_COUNT", DEFAULT_MAX_COUNT))


class AttachmentTooLarge(SekishoError):
    """HTTP 413: the file is larger than a report's attachment may be."""

    status = 413
    default_code = "too_large"


class Upload(Protocol):
    """What an uploaded file offers (Django's ``UploadedFile`` does)."""

    name: str | None
    size: int | None
    content_type: str | None

    def read(self, size: int = -1) -> bytes: ...


def check_uploads(files: Sequence[Upload]) -> None:
    """Refuse, before anything is sealed, too many files (422), an empty one (422) or one too large (413)."""
    if len(files) > max_count():
        raise Invalid(
            _("添付できるファイルは{count}個までです。").format(count=max_count()),
            code="too_many_attachments",
            clause=CLAUSE,
        )
    limit = max_bytes()
    for upload in files:
        name = clean_filename(upload.name or "")
        if upload.size is None or upload.size > limit:
            raise AttachmentTooLarge(
                _("添付ファイル「{name}」が大きすぎます（上限 {mb} MB）。").format(
                    name=name, mb=round(limit / (1024 * 1024), 1)
                ),
                clause=CLAUSE,
            )
        if upload.size == 0:
            raise Invalid(_("添付ファイル「{name}」が空です。").format(name=name), code="empty_attachment")


def _context(contract_id: int, uid: uuid.UUID) -> bytes:
    # Never equal to a vault object's context (sekisho-vault/1 …): a blob cannot pass for the other kind.
    return f"sekisho-oversight/1 contract={contract_id} attachment={uid}".encode("ascii")


@dataclass
class SealedAttachment:
    """A sealed blob in storage, not yet named by any row (``discard`` it if the answer is not recorded)."""

    uid: uuid.UUID
    contract_id: int
    filename: str
    content_type: str
    backend: str
    storage_key: str
    sealed: crypto.Sealed

    def row(self, answer: Any) -> ReportAttachment:
        return ReportAttachment(
            uid=self.uid,
            contract_id=self.contract_id,
            answer=answer,
            filename=self.filename,
            content_type=self.content_type,
            size=self.sealed.size,
            sha256=self.sealed.sha256,
            backend=self.backend,
            storage_key=self.storage_key,
            stored_size=self.sealed.stored_size,
            segment_size=self.sealed.segment_size,
            key_id=self.sealed.key_id,
        )


class _Limited:
    """Reads an upload and refuses more bytes than the limit (a size header may lie)."""

    def __init__(self, upload: Upload, limit: int) -> None:
        self.upload, self.limit, self.count = upload, limit, 0

    def read(self, n: int) -> bytes:
        chunk = self.upload.read(n)
        self.count += len(chunk)
        if self.count > self.limit:
            raise AttachmentTooLarge(_("添付ファイルが大きすぎます。"), clause=CLAUSE)
        return chunk


def seal(contract_id: int, upload: Upload) -> SealedAttachment:
    """Seal one upload into storage. Raises Conflict (key_destroyed) after the contract was crypto-shredded."""
    uid = uuid.uuid4()
    storage = get_storage()
    key = f"oversight/c{contract_id}/{uid}.skv"
    writer = storage.writer(key)
    try:
        sealed = crypto.encrypt_stream(
            _Limited(upload, max_bytes()).read,
            writer.write,
            keys=get_key_service(),
            contract_id=contract_id,
            object_id=uid,
            context=_context(contract_id, uid),
            segment_size=settings.SEKISHO_VAULT_SEGMENT_SIZE,
        )
        writer.commit()
    except crypto.KeyUnavailable as exc:
        writer.abort()
        if exc.destroyed:
            raise key_destroyed_error() from exc
        raise
    except BaseException:
        writer.abort()
        raise
    return SealedAttachment(
        uid=uid,
        contract_id=contract_id,
        filename=clean_filename(upload.name or ""),
        content_type=(upload.content_type or "application/octet-stream")[:100],
        backend=storage.name,
        storage_key=key,
        sealed=sealed,
    )


def discard(sealed: SealedAttachment) -> None:
    get_storage(sealed.backend).delete(sealed.storage_key)


def open_attachment(attachment: ReportAttachment) -> Iterator[bytes]:
    """The plaintext of a sealed attachment, segment by segment, each authenticated before it is released.
    The header and the key are checked before this returns."""
    storage = get_storage(attachment.backend)
    try:
        reader = storage.open(attachment.storage_key)
    except BlobMissing as exc:
        raise VaultDamaged(_("添付ファイルのデータが見つかりません。管理者に連絡してください。")) from exc
    try:
        opened = crypto.open_stream(
            reader.read,
            keys=get_key_service(),
            contract_id=attachment.contract_id,
            object_id=attachment.uid,
            context=_context(attachment.contract_id, attachment.uid),
        )
    except crypto.KeyUnavailable as exc:
        reader.close()
        if exc.destroyed:
            raise key_destroyed_error() from exc
        raise VaultDamaged(_("この契約の暗号鍵が鍵保管庫にありません。管理者に連絡してください。")) from exc
    except crypto.VaultCryptoError as exc:
        reader.close()
        raise VaultDamaged(_("添付ファイルのデータが破損しています。管理者に連絡してください。")) from exc
    except BaseException:
        reader.close()
        raise

    def chunks() -> Iterator[bytes]:
        try:
            yield from opened.segments()
        except crypto.DamagedObject as exc:
            raise VaultDamaged(_("添付ファイルのデータが破損しています。管理者に連絡してください。")) from exc
        finally:
            reader.close()

    return chunks()


# --- uploads kept in memory ------------------------------------------------------------------------------------


class InMemoryAttachmentUpload(FileUploadHandler):
    """Keeps each uploaded file in memory instead of Django's temporary file on disk: at most the limit plus
    one byte of each, and nothing of the files past the allowed count (their true sizes are still reported,
    so the service refuses them by name)."""

    def handle_raw_input(self, *args: Any, **kwargs: Any) -> None:
        self.files_seen = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.files_seen = getattr(self, "files_seen", 0) + 1
        self.limit = max_bytes() + 1 if self.files_seen <= max_count() + 1 else 0
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        room = self.limit - self.buffer.tell()
        if room > 0:
            self.buffer.write(raw_data[:room])
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


def install_handler(request: HttpRequest) -> None:
    request.upload_handlers = [InMemoryAttachmentUpload(request)]


def upload_in_memory(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Install ``InMemoryAttachmentUpload`` before the multipart body is read."""

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        install_handler(request)
        return run(request, *args, **kwargs)

    return wrapper
