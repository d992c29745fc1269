"""Transfer packages: vault content moved only encrypted and only under the information manager's permit
(R2.6.2ウ, R2.7オ), on an approved encrypted medium when it travels physically (R2.7エ).

A package is a tar stream — ``manifest.json``, ``SHA256SUMS`` and ``files/<ledger ref>/<file name>`` —
encrypted in the open age format to the recipient's X25519 key (``age1…``). The stock tools open it::

    age -d -i recipient-key.txt sekisho-transfer-<id>.tar.age | tar -x
    sha256sum -c SHA256SUMS

The package is built as a pipeline with no plaintext at rest: each version is decrypted segment by segment
from the vault (``crypto.Opened.segments``), framed into tar blocks by a generator, pulled by pyrage's
streaming ``encrypt_io`` and written as age ciphertext to the storage backend. Memory stays at a few segments
and pyrage's 64 KiB chunks, whatever the package's size. The stored package is ciphertext for the recipient
only; it is deleted once the receipt is confirmed.
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pyrage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.errors import Conflict, Forbidden, Invalid
from sekisho.core.models import Contract
from sekisho.devices.models import Medium as StorageMedium
from sekisho.devices.policy import require_device, require_transfer_medium
from sekisho.ledger.models import ASSET_TRANSITIONS, Asset, AssetState
from sekisho.permits.models import Permit, PermitKind, PermitState, PermitUse

from . import crypto
from .models import TRANSFER_TRANSITIONS, TransferPackage, TransferState, VaultObject
from .services import VaultDamaged, key_destroyed_error, open_sealed
from .storage import BlobMissing, get_storage

CLAUSE_PERMIT = "R2.7オ"
CLAUSE_MOVE = "R2.6.2ウ"
MANIFEST_FORMAT = "sekisho-transfer/1"
_AGE_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")
BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE


def parse_recipient(text: str) -> pyrage.x25519.Recipient:
    text = (text or "").strip()
    try:
        if not _AGE_RECIPIENT.match(text):
            raise ValueError(text)
        return pyrage.x25519.Recipient.from_str(text)
    except Exception as exc:  # pyrage raises its own RecipientError
        raise Invalid(
            _("受取人の公開鍵は age の X25519 公開鍵（age1… で始まる文字列）で指定してください。"),
            code="bad_recipient_key",
        ) from exc


def check_permit(permit: Permit, contract: Contract, assets: Sequence[Asset], recipient: str) -> None:
    """R2.7オ: an approved, unexpired transfer permit of this contract that names every asset and this
    recipient. The information manager is the one who decides it (permits.models.DECIDER_ROLE)."""
    if permit.contract_id != contract.pk:
        raise Forbidden(_("この契約の承諾ではありません。"), code="wrong_permit", clause=CLAUSE_PERMIT)
    if permit.kind != PermitKind.TRANSFER:
        raise Forbidden(
            _("移送パッケージの作成には情報管理責任者の持出し・移送の許可が必要です。"),
            code="wrong_permit",
            clause=CLAUSE_PERMIT,
        )
    if not permit.in_force_on(timezone.localdate()):
        raise Forbidden(
            _("有効な持出し・移送の許可がありません（状態: {state}、有効期間: {start}〜{end}）。").format(
                state=PermitState(permit.state).label, start=permit.valid_from, end=permit.valid_until
            ),
            code="permit_not_in_force",
            clause=CLAUSE_PERMIT,
        )
    covered = set(permit.assets.values_list("pk", flat=True))
    missing = [a.ref for a in assets if a.pk not in covered]
    if missing:
        raise Forbidden(
            _("許可の対象に含まれない情報があります: {refs}").format(refs=", ".join(missing)),
            code="asset_not_covered",
            clause=CLAUSE_PERMIT,
        )
    if recipient.strip() != permit.recipient:
        raise Forbidden(
            _("許可された移送先（{recipient}）以外には移送できません。").format(recipient=permit.recipient),
            code="recipient_mismatch",
            clause=CLAUSE_PERMIT,
        )


# --- the tar stream -------------------------------------------------------------------------------------------


def _tar_header(name: str, size: int, mtime: float) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(mtime)
    info.mode = 0o600
    info.uname = info.gname = "sekisho"
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def tar_stream(entries: Sequence[tuple[str, int, float, Iterator[bytes]]]) -> Iterator[bytes]:
    """A POSIX (pax) tar archive as a stream of chunks, built as the content is pulled."""
    total = 0
    for name, size, mtime, chunks in entries:
        header = _tar_header(name, size, mtime)
        total += len(header)
        yield header
        written = 0
        for chunk in chunks:
            written += len(chunk)
            if written > size:
                raise crypto.DamagedObject(f"{name}: more data than recorded")
            yield chunk
        if written != size:
            raise crypto.DamagedObject(f"{name}: {written} bytes instead of {size}")
        pad = _padding(size)
        total += size + len(pad)
        yield pad
    end = b"\0" * (2 * BLOCK)
    total += len(end)
    yield end + b"\0" * (-total % RECORD)


class _PullReader:
    """A file-like reader over a chunk iterator, for pyrage's streaming encrypt_io. An exception raised
    while producing chunks is kept, so the caller re-raises the real cause (pyrage wraps it)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = memoryview(b"")
        self.error: BaseException | None = None

    def _next(self) -> bool:
        try:
            while not self._buffer:
                self._buffer = memoryview(next(self._chunks))
        except StopIteration:
            return False
        except BaseException as exc:
            self.error = exc
            raise
        return True

    def readinto(self, target: Any) -> int:
        # pyrage asks for a few KiB at a time: hand them out of the current chunk without copying the rest.
        if not self._next():
            return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def read(self, n: int = -1) -> bytes:
        if not self._next():
            return b""
        n = len(self._buffer) if n < 0 else min(n, len(self._buffer))
        out = bytes(self._buffer[:n])
        self._buffer = self._buffer[n:]
        return out


class _HashingWriter:
    """Passes age ciphertext to the backend, counting and hashing it. pyrage does not always report a failed
    write, so the error is kept here and checked after encryption."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.error: BaseException | None = None

    def write(self, data: Any) -> int:
        data = bytes(data)
        try:
            self._writer.write(data)
        except BaseException as exc:
            self.error = exc
            raise
        self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        return None


def _content(obj: VaultObject) -> Iterator[bytes]:
    reader, opened = open_sealed(obj)
    digest = hashlib.sha256()
    try:
        for chunk in opened.segments():
            digest.update(chunk)
            yield chunk
    finally:
        reader.close()
    if digest.hexdigest() != obj.sha256:
        raise crypto.DamagedObject(f"{obj.uid}: SHA-256 differs from the recorded value")


def _entry_path(obj: VaultObject) -> str:
    return f"files/{obj.asset.ref}/{obj.filename}"


def build_manifest(
    package_id: uuid.UUID,
    *,
    contract: Contract,
    permit: Permit,
    versions: Sequence[VaultObject],
    recipient: str,
    recipient_key: str,
    medium: StorageMedium | None,
    built_by: Any,
    built_at: Any,
) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "package": str(package_id),
        "contract": {"number": contract.number, "title": contract.title},
        "permit": {
            "id": permit.pk,
            "kind": permit.kind,
            "clause": permit.clause,
            "decided_by": str(permit.decided_by or ""),
        },
        "recipient": recipient,
        "recipient_key": recipient_key,
        "medium": {"id": medium.pk, "label": medium.label, "serial_number": medium.serial_number}
        if medium
        else None,
        "built_by": built_by.get_username(),
        "built_at": built_at.isoformat(),
        "files": [
            {
                "asset_id": v.asset_id,
                "ref": v.asset.ref,
                "title": v.asset.title,
                "version": v.version,
                "path": _entry_path(v),
                "size": v.size,
                "sha256": v.sha256,
            }
            for v in versions
        ],
    }


def package_entries(
    manifest: dict[str, Any], versions: Sequence[VaultObject]
) -> list[tuple[str, int, float, Iterator[bytes]]]:
    mtime = timezone.now().timestamp()
    manifest_bytes = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    sums = "".join(f"{v.sha256}  {_entry_path(v)}\n" for v in versions).encode("utf-8")
    entries: list[tuple[str, int, float, Iterator[bytes]]] = [
        ("manifest.json", len(manifest_bytes), mtime, iter([manifest_bytes])),
        ("SHA256SUMS", len(sums), mtime, iter([sums])),
    ]
    for v in versions:
        entries.append((_entry_path(v), v.size, v.created_at.timestamp(), _content(v)))
    return entries


# --- steps ----------------------------------------------------------------------------------------------------


def build_package(
    contract: Contract,
    *,
    acting_user: Any,
    device: Any,
    permit: Permit,
    assets: Sequence[Asset],
    recipient: str,
    recipient_key: str,
    medium: StorageMedium | int | None = None,
) -> TransferPackage:
    """Build an encrypted transfer package of the assets' current versions. Enforces R2.7オ (an approved
    transfer permit naming these assets and this recipient), R2.6.2ウ (encrypted, to the recipient's key
    only), R2.7エ (a physical medium must be approved and encrypted) and R2.7ア/イ (built from an approved,
    healthy device). The assets are "in transit" until the receipt is confirmed."""
    contract = Contract.objects.get(pk=contract.pk)
    policy.require(acting_user, "transfer.build", contract, clause=CLAUSE_PERMIT)
    require_device(device, acting_user, contract)
    if not assets:
        raise Invalid(_("移送する台帳情報を1件以上指定してください。"))
    assets = sorted({a.pk: a for a in assets}.values(), key=lambda a: a.pk)
    if any(a.contract_id != contract.pk for a in assets):
        raise Invalid(_("対象の台帳情報が見つかりません。"), code="unknown_asset")
    check_permit(permit, contract, assets, recipient)
    parse_recipient(recipient_key)
    if medium is not None:
        require_transfer_medium(acting_user, medium, contract)
    package_id = uuid.uuid4()
    storage = get_storage()
    key = f"packages/c{contract.pk}/{package_id}.age"
    built_at = timezone.now()
    medium_obj = (
        None
        if medium is None
        else StorageMedium.objects.get(pk=medium.pk if isinstance(medium, StorageMedium) else medium)
    )
    versions = _versions_to_pack(assets)
    manifest = build_manifest(
        package_id,
        contract=contract,
        permit=permit,
        versions=versions,
        recipient=permit.recipient,
        recipient_key=recipient_key.strip(),
        medium=medium_obj,
        built_by=acting_user,
        built_at=built_at,
    )
    writer = storage.writer(key)
    out = _HashingWriter(writer)
    source = _PullReader(tar_stream(package_entries(manifest, versions)))
    try:
        try:
            pyrage.encrypt_io(source, out, [parse_recipient(recipient_key)])
        except pyrage.EncryptError:
            if source.error is None and out.error is None:
                raise
        if source.error is not None:
            raise source.error
        if out.error is not None:
            raise out.error
        writer.commit()
    except crypto.KeyUnavailable as exc:
        writer.abort()
        raise key_destroyed_error() from exc
    except crypto.DamagedObject as exc:
        writer.abort()
        raise VaultDamaged(_("保管庫のデータが破損しているため、移送パッケージを作成できません。")) from exc
    except BaseException:
        writer.abort()
        raise
    try:
        return _record_package(
            package_id,
            contract=contract,
            acting_user=acting_user,
            device=device,
            permit=permit,
            assets=assets,
            versions=versions,
            manifest=manifest,
            medium=medium_obj,
            backend=storage.name,
            key=key,
            size=out.size,
            sha256=out.sha256.hexdigest(),
            built_at=built_at,
        )
    except BaseException:
        storage.delete(key)
        raise


def _versions_to_pack(assets: Sequence[Asset]) -> list[VaultObject]:
    """The current version of each asset; every asset must be held and have content in the vault."""
    latest: dict[int, VaultObject] = {}
    for obj in (
        VaultObject.objects.filter(asset__in=assets).select_related("asset").order_by("asset_id", "-version")
    ):
        latest.setdefault(obj.asset_id, obj)
    empty = [a.ref for a in assets if a.pk not in latest]
    if empty:
        raise Invalid(
            _("保管庫に内容が登録されていない情報があります: {refs}").format(refs=", ".join(empty)),
            code="no_content",
            clause=CLAUSE_MOVE,
        )
    not_held = [a.ref for a in assets if latest[a.pk].asset.state != AssetState.HELD]
    if not_held:
        raise Conflict(
            _("保管中でない情報は移送できません: {refs}").format(refs=", ".join(not_held)),
            code="asset_not_held",
        )
    return [latest[a.pk] for a in assets]


@transaction.atomic
def _record_package(
    package_id: uuid.UUID,
    *,
    contract: Contract,
    acting_user: Any,
    device: Any,
    permit: Permit,
    assets: Sequence[Asset],
    versions: Sequence[VaultObject],
    manifest: dict[str, Any],
    medium: StorageMedium | None,
    backend: str,
    key: str,
    size: int,
    sha256: str,
    built_at: Any,
) -> TransferPackage:
    # The permit is used up by this package: checked again under its lock, so two packages cannot share it.
    permit = Permit.objects.select_for_update().get(pk=permit.pk)
    locked = list(Asset.objects.select_for_update().filter(pk__in=[a.pk for a in assets]).order_by("pk"))
    policy.require(acting_user, "transfer.build", contract, clause=CLAUSE_PERMIT)
    dev = require_device(device, acting_user, contract)
    check_permit(permit, contract, locked, manifest["recipient"])
    current = _versions_to_pack(locked)
    if [v.pk for v in current] != [v.pk for v in versions]:
        raise Conflict(_("作成中に新しい版が登録されました。もう一度作成してください。"), code="changed")
    package = TransferPackage.objects.create(
        uid=package_id,
        contract=contract,
        permit=permit,
        recipient=manifest["recipient"],
        recipient_key=manifest["recipient_key"],
        medium=medium,
        manifest=manifest,
        backend=backend,
        storage_key=key,
        size=size,
        sha256=sha256,
        built_by=acting_user,
        built_at=built_at,
        device=dev,
    )
    package.versions.set(versions)
    PermitUse.objects.bulk_create(
        [
            PermitUse(permit=permit, asset=a, used_by=acting_user, note=f"transfer package {package_id}")
            for a in locked
        ]
    )
    for asset in locked:
        _move(asset, AssetState.IN_TRANSIT, acting_user=acting_user, note=f"transfer package {package_id}")
    permit.state = PermitState.USED
    permit.save(update_fields=["state"])
    record(
        actor=acting_user,
        action="permit.used",
        contract=contract,
        obj=permit,
        summary={"kind": permit.kind, "reason": "transfer package built"},
    )
    record(
        actor=acting_user,
        action="transfer.build",
        contract=contract,
        obj=package,
        summary={
            "permit": permit.pk,
            "recipient": package.recipient,
            "recipient_key": package.recipient_key,
            "medium": medium.label if medium else None,
            "files": [
                {"ref": f["ref"], "version": f["version"], "sha256": f["sha256"]} for f in manifest["files"]
            ],
            "size": size,
            "sha256": sha256,
            "device": str(dev.uid),
        },
    )
    return package


def _move(asset: Asset, to: str, *, acting_user: Any, note: str) -> None:
    if to not in ASSET_TRANSITIONS[asset.state]:
        raise Conflict(_("台帳情報の状態をこの状態に変更することはできません。"), code="invalid_transition")
    before = asset.state
    asset.state = to
    asset.updated_at = timezone.now()
    asset.save(update_fields=["state", "updated_at"])
    record(
        actor=acting_user,
        action="asset.state",
        contract=asset.contract,
        obj=asset,
        summary={"ref": asset.ref, "from": before, "to": to, "note": note},
    )


def open_package(package: TransferPackage, *, acting_user: Any, device: Any) -> Iterator[bytes]:
    """The stored age ciphertext of a package not yet received, for carrying it to the recipient."""
    policy.require(acting_user, "transfer.build", package, clause=CLAUSE_PERMIT)
    require_device(device, acting_user, package.contract)
    if package.state != TransferState.BUILT:
        raise Conflict(_("受領確認済みのパッケージは削除されています。"), code="package_gone")
    try:
        reader = get_storage(package.backend).open(package.storage_key)
    except BlobMissing as exc:
        raise VaultDamaged(_("移送パッケージのデータが見つかりません。管理者に連絡してください。")) from exc

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := reader.read(1 << 20):
                yield chunk
        finally:
            reader.close()

    return chunks()


@transaction.atomic
def confirm_receipt(
    package: TransferPackage, *, acting_user: Any, sha256: str, note: str = ""
) -> TransferPackage:
    """Record that the recipient received the package intact (R2.7オ): the SHA-256 of the file they got must
    be the package's. The assets are held again, and the stored package is deleted (after commit)."""
    package = TransferPackage.objects.select_for_update().select_related("contract").get(pk=package.pk)
    policy.require(acting_user, "transfer.confirm", package, clause=CLAUSE_PERMIT)
    if TransferState.RECEIVED not in TRANSFER_TRANSITIONS[package.state]:
        raise Conflict(_("このパッケージは既に受領確認されています。"), code="invalid_transition")
    if sha256.strip().lower() != package.sha256:
        raise Conflict(
            _("受領したファイルの SHA-256 がパッケージと一致しません。改ざんまたは破損の可能性があります。"),
            code="sha256_mismatch",
            clause=CLAUSE_MOVE,
        )
    package.state = TransferState.RECEIVED
    package.received_by = acting_user
    package.received_at = timezone.now()
    package.receipt_note = note.strip()
    package.save(update_fields=["state", "received_by", "received_at", "receipt_note"])
    assets = (
        Asset.objects.select_for_update().filter(pk__in=package.versions.values("asset_id")).order_by("pk")
    )
    for asset in assets:
        if asset.state == AssetState.IN_TRANSIT:
            _move(
                asset,
                AssetState.HELD,
                acting_user=acting_user,
                note=f"transfer package {package.uid} received",
            )
    record(
        actor=acting_user,
        action="transfer.receipt",
        contract=package.contract,
        obj=package,
        summary={"sha256": package.sha256, "recipient": package.recipient, "note": note},
    )
    storage, key = get_storage(package.backend), package.storage_key
    transaction.on_commit(lambda: storage.delete(key))
    return package
