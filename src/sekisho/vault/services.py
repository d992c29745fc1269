"""Vault steps: put a version, get a version, crypto-shred a contract, verify the blobs.

Uploads stream. Holding a database transaction (and on SQLite the write lock) for the minutes a large upload
takes would stop everyone else, so an upload runs in two parts: the checks and the sealing stream outside any
transaction (nothing is written to the database, the blob is only a partial), then one short transaction that
checks again, creates the version row and appends its audit event. Failing anywhere before that transaction
commits removes the blob; a killed process leaves at most a partial blob of ciphertext that no row names
(``verify --clean`` removes it).
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound, SekishoError
from sekisho.core.models import Contract
from sekisho.devices.models import Device
from sekisho.devices.policy import require_device
from sekisho.ledger.models import Asset, AssetState, LocationKind, Medium
from sekisho.permits.models import Permit, PermitKind, PermitState

from . import crypto
from .keystore import KeyStoreError, get_key_service
from .models import Shredding, TransferPackage, TransferState, VaultObject
from .storage import BlobMissing, Storage, get_storage

log = logging.getLogger("sekisho.vault")

CLAUSE_STORE = "R2.6.2イ"
CLAUSE_DESTROY = "R2.5"
# Assets whose content may still be read: not returned or destroyed (R2.5).
READABLE_STATES = frozenset({AssetState.HELD, AssetState.IN_TRANSIT, AssetState.RETAINED})
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


class VaultDamaged(SekishoError):
    """A stored object fails authentication: nothing of it is handed out."""

    status = 500
    default_code = "vault_damaged"


class UploadInterrupted(Invalid):
    default_code = "upload_interrupted"


def key_destroyed_error() -> Conflict:
    return Conflict(
        _("この契約の電子情報は発注者の指示により廃棄（暗号鍵の削除）されています。"),
        code="key_destroyed",
        clause=CLAUSE_DESTROY,
    )


def object_context(obj: VaultObject) -> bytes:
    return crypto.object_context(obj.contract_id, obj.asset_id, obj.uid)


def storage_key_for(contract_id: int, asset_id: int, object_id: uuid.UUID) -> str:
    return f"objects/c{contract_id}/a{asset_id}/{object_id}.skv"


def clean_filename(name: str) -> str:
    """A file name safe to keep and to put in a package: no path, no control characters."""
    name = unicodedata.normalize("NFC", name or "").strip()
    name = _UNSAFE_NAME.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(". ")
    return name[:200] or "content.bin"


# --- put ------------------------------------------------------------------------------------------------------


def _check_upload_target(asset: Asset) -> None:
    """What may hold vault content (R2.6.2イ, R2.7ウ)."""
    if asset.medium != Medium.ELECTRONIC:
        raise Invalid(
            _(
                "紙の情報は保管庫に登録できません。電子化したものは複写・電子化の台帳情報として登録してから保管庫に入れてください。"
            ),
            code="not_electronic",
            clause=CLAUSE_STORE,
        )
    if asset.location_kind != LocationKind.VAULT:
        raise Conflict(
            _("この台帳情報の保管場所は保管庫ではありません。保管場所を保管庫にしてから登録してください。"),
            code="not_in_vault",
            clause="R2.7ウ",
        )
    if asset.state != AssetState.HELD:
        raise Conflict(
            _("「{state}」の台帳情報には新しい版を登録できません。").format(
                state=AssetState(asset.state).label
            ),
            code="asset_not_held",
        )
    if asset.contract.status not in (Contract.Status.DRAFT, Contract.Status.ACTIVE):
        raise Conflict(_("完了手続中または完了した契約には登録できません。"), code="contract_not_active")


class _Counted:
    """Reads at most *length* bytes and refuses to call a short body complete: a client that goes away
    mid-upload makes the stream end early, which must abort the upload, not store a truncated file."""

    def __init__(
        self,
        read: Callable[[int], bytes],
        length: int | None,
        limit: int | None,
        readinto: crypto.ReadInto | None = None,
    ) -> None:
        self._read, self._readinto = read, readinto
        self.length, self.limit, self.count = length, limit, 0

    def _room(self, n: int) -> int:
        return n if self.length is None else min(n, self.length - self.count)

    def _counted(self, got: int) -> None:
        self.count += got
        if self.limit is not None and self.count > self.limit:
            raise Invalid(_("ファイルが大きすぎます。"), code="too_large")
        if not got and self.length is not None and self.count < self.length:
            raise UploadInterrupted(
                _("アップロードが途中で切断されました（{got} / {length} バイト）。").format(
                    got=self.count, length=self.length
                )
            )

    def read(self, n: int) -> bytes:
        n = self._room(n)
        if n <= 0:
            return b""
        try:
            chunk = self._read(n)
        except OSError as exc:
            raise UploadInterrupted(_("アップロードが途中で切断されました。")) from exc
        self._counted(len(chunk))
        return chunk

    def readinto(self, view: memoryview) -> int:
        assert self._readinto is not None
        n = self._room(len(view))
        if n <= 0:
            return 0
        try:
            got = self._readinto(view[:n]) or 0
        except OSError as exc:
            raise UploadInterrupted(_("アップロードが途中で切断されました。")) from exc
        self._counted(got)
        return got


def check_upload(asset: Asset, *, acting_user: Any, device: Any) -> Asset:
    """Whether *acting_user* may put content into *asset* from *device* now (the checks of
    ``upload_version``, for callers that want to refuse before reading a body)."""
    asset = Asset.objects.select_related("contract").get(pk=asset.pk)
    policy.require(acting_user, "vault.upload", asset, clause=CLAUSE_STORE)
    require_device(device, acting_user, asset.contract)
    _check_upload_target(asset)
    return asset


def upload_version(
    asset: Asset,
    *,
    acting_user: Any,
    device: Any,
    read: Callable[[int], bytes],
    length: int | None,
    filename: str,
    content_type: str = "",
    expected_sha256: str = "",
    readinto: crypto.ReadInto | None = None,
) -> VaultObject:
    """Seal new content of an electronic asset into the vault as its next version.

    Enforces R2.6.2イ / R2.7ウ (content is only ever stored sealed, and only for electronic assets kept in the
    vault) and R2.7ア / R2.7イ (from an approved device whose security measures pass). *device* is the request
    (its signed headers or device-bound session) or a ``DeviceBinding``. *length*, when known (HTTP
    Content-Length), must be met exactly, or the upload counts as interrupted and leaves nothing behind."""
    asset = check_upload(asset, acting_user=acting_user, device=device)
    contract = asset.contract
    if expected_sha256 and not re.fullmatch(r"[0-9a-fA-F]{64}", expected_sha256):
        raise Invalid(_("SHA-256 の値が正しくありません。"), code="bad_sha256")
    keys = get_key_service()
    object_id = uuid.uuid4()
    storage = get_storage()
    key = storage_key_for(contract.pk, asset.pk, object_id)
    source = _Counted(read, length, settings.SEKISHO_VAULT_MAX_UPLOAD_BYTES or None, readinto)
    writer = storage.writer(key)
    try:
        sealed = crypto.encrypt_stream(
            source.read,
            writer.write,
            keys=keys,
            contract_id=contract.pk,
            object_id=object_id,
            context=crypto.object_context(contract.pk, asset.pk, object_id),
            segment_size=settings.SEKISHO_VAULT_SEGMENT_SIZE,
            readinto=source.readinto if readinto is not None else None,
        )
        if expected_sha256 and sealed.sha256 != expected_sha256.lower():
            raise Invalid(
                _(
                    "受信したファイルの SHA-256 が送信側の値と一致しません。もう一度アップロードしてください。"
                ),
                code="sha256_mismatch",
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
    try:
        return _record_version(
            asset,
            acting_user=acting_user,
            device=device,
            object_id=object_id,
            storage=storage,
            key=key,
            sealed=sealed,
            filename=clean_filename(filename),
            content_type=content_type[:100],
        )
    except BaseException:
        storage.delete(key)
        raise


@transaction.atomic
def _record_version(
    asset: Asset,
    *,
    acting_user: Any,
    device: Any,
    object_id: uuid.UUID,
    storage: Storage,
    key: str,
    sealed: crypto.Sealed,
    filename: str,
    content_type: str,
) -> VaultObject:
    # Everything checked again under the asset's lock: the upload took time, and a membership, the device's
    # approval or the asset's state may have changed meanwhile.
    asset = Asset.objects.select_for_update().select_related("contract").get(pk=asset.pk)
    policy.require(acting_user, "vault.upload", asset, clause=CLAUSE_STORE)
    dev = require_device(device, acting_user, asset.contract)
    _check_upload_target(asset)
    last = VaultObject.objects.filter(asset=asset).aggregate(m=Max("version"))["m"] or 0
    obj = VaultObject.objects.create(
        uid=object_id,
        contract=asset.contract,
        asset=asset,
        version=last + 1,
        filename=filename,
        content_type=content_type,
        size=sealed.size,
        sha256=sealed.sha256,
        backend=storage.name,
        storage_key=key,
        stored_size=sealed.stored_size,
        segment_size=sealed.segment_size,
        key_id=sealed.key_id,
        device=dev,
        created_by=acting_user,
    )
    record(
        actor=acting_user,
        action="vault.upload",
        contract=asset.contract,
        obj=obj,
        summary={
            "asset": asset.ref,
            "version": obj.version,
            "filename": filename,
            "size": sealed.size,
            "sha256": sealed.sha256,
            "device": str(dev.uid),
        },
    )
    return obj


# --- get ------------------------------------------------------------------------------------------------------


@dataclass
class Download:
    obj: VaultObject
    chunks: Iterator[bytes]


def open_sealed(obj: VaultObject) -> tuple[Any, crypto.Opened]:
    """The blob's reader and its opened stream: header checked, data key unwrapped."""
    storage = get_storage(obj.backend)
    try:
        reader = storage.open(obj.storage_key)
    except BlobMissing as exc:
        raise VaultDamaged(_("保管庫のデータが見つかりません。管理者に連絡してください。")) from exc
    try:
        opened = crypto.open_stream(
            reader.read,
            keys=get_key_service(),
            contract_id=obj.contract_id,
            object_id=obj.uid,
            context=object_context(obj),
            readinto=getattr(reader, "readinto", None),
        )
    except crypto.KeyUnavailable as exc:
        reader.close()
        if exc.destroyed:
            raise key_destroyed_error() from exc
        raise VaultDamaged(_("この契約の暗号鍵が鍵保管庫にありません。管理者に連絡してください。")) from exc
    except crypto.VaultCryptoError as exc:  # damaged blob, or a key store that cannot open the key
        reader.close()
        log.error("vault object %s (asset %s v%s) does not open: %s", obj.uid, obj.asset_id, obj.version, exc)
        raise VaultDamaged(_("保管庫のデータが破損しています。管理者に連絡してください。")) from exc
    except BaseException:
        reader.close()
        raise
    return reader, opened


def _stream(obj: VaultObject, reader: Any, segments: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from segments
    except crypto.DamagedObject as exc:
        log.error("vault object %s (asset %s v%s) is damaged: %s", obj.uid, obj.asset_id, obj.version, exc)
        raise VaultDamaged(_("保管庫のデータが破損しています。管理者に連絡してください。")) from exc
    finally:
        reader.close()


def open_version(asset: Asset, *, acting_user: Any, device: Any, version: int | None = None) -> Download:
    """Get a version's plaintext as a stream of authenticated segments (R2.7ア / R2.7イ: only on an approved,
    healthy device). The header, the key and the first segments are checked before this returns, so a
    damaged or shredded object is refused with an error instead of starting a download."""
    asset = Asset.objects.select_related("contract").get(pk=asset.pk)
    policy.require(acting_user, "vault.download", asset, clause=CLAUSE_STORE)
    dev = require_device(device, acting_user, asset.contract)
    if asset.state not in READABLE_STATES:
        raise Conflict(
            _("「{state}」の台帳情報は取り出せません。").format(state=AssetState(asset.state).label),
            code="asset_not_readable",
            clause=CLAUSE_DESTROY,
        )
    versions = VaultObject.objects.filter(asset=asset)
    obj = (
        versions.filter(version=version).first()
        if version is not None
        else versions.order_by("-version").first()
    )
    if obj is None:
        raise NotFound(_("保管庫にこの版はありません。"))
    reader, opened = open_sealed(obj)
    segments = opened.segments()
    try:
        try:
            first = next(segments, b"")
        except crypto.DamagedObject as exc:
            log.error("vault object %s is damaged: %s", obj.uid, exc)
            raise VaultDamaged(_("保管庫のデータが破損しています。管理者に連絡してください。")) from exc
        _record_download(obj, acting_user=acting_user, device=dev)
    except BaseException:
        reader.close()
        raise

    def chunks() -> Iterator[bytes]:
        if first:
            yield first
        yield from _stream(obj, reader, segments)

    return Download(obj, chunks())


@transaction.atomic
def _record_download(obj: VaultObject, *, acting_user: Any, device: Device) -> None:
    record(
        actor=acting_user,
        action="vault.download",
        contract=obj.contract,
        obj=obj,
        summary={"asset": obj.asset.ref, "version": obj.version, "size": obj.size, "device": str(device.uid)},
    )


# --- crypto-shredding -----------------------------------------------------------------------------------------


@transaction.atomic
def shred_contract(contract: Contract, *, acting_user: Any, permit: Permit, note: str = "") -> Shredding:
    """Destroy the contract's electronic information in the vault on the orderer's instruction (R2.5, P9) by
    deleting its contract key from the key store and from every key-store backup: every blob of the contract,
    wherever a copy of it lies, becomes ciphertext without a key.

    The instruction is an approved destruction permit (decided by the orderer) that names every asset with
    content in the vault — the key destroys them all at once, so it may not be used for a part. Assets on
    legal retention, or out on a transfer not yet confirmed, stop it. The vault's assets become "destroyed";
    the key is deleted last, after everything else has been checked and written."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "vault.shred", contract, clause=CLAUSE_DESTROY)
    permit = Permit.objects.select_for_update().filter(pk=permit.pk, contract=contract).first()  # type: ignore[assignment]
    if permit is None:
        raise NotFound(_("承諾が見つかりません。"))
    if permit.kind != PermitKind.DESTRUCTION:
        raise Forbidden(
            _("暗号鍵の削除には発注者の廃棄の承諾（指示）が必要です。"),
            code="wrong_permit",
            clause=CLAUSE_DESTROY,
        )
    if not permit.in_force_on(timezone.localdate()):
        raise Forbidden(
            _("有効な廃棄の承諾がありません（状態: {state}）。").format(
                state=PermitState(permit.state).label
            ),
            code="permit_not_in_force",
            clause=CLAUSE_DESTROY,
        )
    if Shredding.objects.filter(contract=contract).exists():
        raise Conflict(_("この契約の暗号鍵は既に削除されています。"), code="already_shredded")
    vault_assets = list(
        Asset.objects.select_for_update()
        .filter(pk__in=VaultObject.objects.filter(contract=contract).values("asset_id"))
        .order_by("id")
    )
    covered = set(permit.assets.values_list("pk", flat=True))
    # What the orderer has confirmed receiving back (close-out) needs no destruction instruction: deleting the
    # key only makes the contractor's leftover ciphertext of it unreadable, which R2.5 wants anyway.
    missing = [a.ref for a in vault_assets if a.pk not in covered and a.state != AssetState.RETURNED]
    if missing:
        raise Forbidden(
            _(
                "暗号鍵を削除すると保管庫のこの契約の情報はすべて読めなくなります。廃棄の承諾に含まれていない情報があります: {refs}"
            ).format(refs=", ".join(missing)),
            code="asset_not_covered",
            clause=CLAUSE_DESTROY,
        )
    retained = [a.ref for a in vault_assets if a.state == AssetState.RETAINED]
    if retained:
        raise Conflict(
            _("法令等により保存する情報があるため暗号鍵を削除できません: {refs}").format(
                refs=", ".join(retained)
            ),
            code="retained_assets",
            clause=CLAUSE_DESTROY,
        )
    if TransferPackage.objects.filter(contract=contract, state=TransferState.BUILT).exists() or any(
        a.state == AssetState.IN_TRANSIT for a in vault_assets
    ):
        raise Conflict(
            _("移送中の情報があります。受領確認の後に廃棄してください。"),
            code="transfer_open",
            clause=CLAUSE_DESTROY,
        )
    keys = get_key_service()
    try:
        keys.check_destroyable(contract.pk)
    except KeyStoreError as exc:
        raise Conflict(
            _("鍵保管庫またはそのバックアップに到達できないため、暗号鍵を削除できません: {detail}").format(
                detail=exc
            ),
            code="keystore_unreachable",
            clause=CLAUSE_DESTROY,
        ) from exc
    totals = VaultObject.objects.filter(contract=contract).aggregate(n=Count("id"), bytes=Sum("size"))
    count = totals["n"]
    now = timezone.now()
    destroyed = []
    for asset in vault_assets:
        if asset.state != AssetState.HELD:
            continue
        asset.state = AssetState.DESTROYED
        asset.updated_at = now
        asset.save(update_fields=["state", "updated_at"])
        destroyed.append(asset.ref)
        record(
            actor=acting_user,
            action="asset.state",
            contract=contract,
            obj=asset,
            summary={
                "ref": asset.ref,
                "from": AssetState.HELD,
                "to": AssetState.DESTROYED,
                "note": "crypto-shredding",
            },
        )
    permit.state = PermitState.USED
    permit.save(update_fields=["state"])
    record(
        actor=acting_user,
        action="permit.used",
        contract=contract,
        obj=permit,
        summary={"kind": permit.kind, "reason": "crypto-shredding"},
    )
    shredding = Shredding.objects.create(
        contract=contract,
        permit=permit,
        objects_count=count,
        objects_bytes=totals["bytes"] or 0,
        assets=destroyed,
        executed_by=acting_user,
    )
    # Irreversible, so last: if it fails, everything above rolls back.
    report = keys.destroy(contract.pk)
    shredding.key_ids = report.key_ids
    shredding.locations = report.locations
    shredding.save(update_fields=["key_ids", "locations"])
    record(
        actor=acting_user,
        action="vault.shred",
        contract=contract,
        obj=shredding,
        summary={
            "permit": permit.pk,
            "key_ids": report.key_ids,
            "key_store_locations": len(report.locations),
            "objects": count,
            "bytes": shredding.objects_bytes,
            "assets": destroyed,
            "note": note,
        },
    )
    return shredding
