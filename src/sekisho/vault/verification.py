"""``sekisho vault verify``: stream every blob and check it — every segment's tag, the size and the recorded
SHA-256 of the plaintext — and find what no row refers to: blobs of uploads that failed after their last
segment, and uploads that never completed (a killed process). Both are ciphertext; ``--clean`` removes them
once they are older than a grace period, so an upload in progress is never touched."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sekisho.audit.services import record
from sekisho.core.errors import Conflict
from sekisho.core.models import Contract

from . import crypto
from .models import TransferPackage, VaultObject
from .services import VaultDamaged, open_sealed
from .storage import BlobMissing, get_storage

# --clean spares unreferenced blobs younger than this: an upload in progress, or a version row about to be
# written, must not lose its blob.
CLEAN_GRACE = dt.timedelta(hours=24)


@dataclass
class ObjectCheck:
    obj: VaultObject
    status: str  # ok | damaged | missing | shredded | no_key | mismatch
    detail: str = ""


@dataclass
class VerifyReport:
    checked: list[ObjectCheck] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    partials: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[ObjectCheck]:
        return [c for c in self.checked if c.status not in ("ok", "shredded")]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.checked:
            out[c.status] = out.get(c.status, 0) + 1
        return out


def check_object(obj: VaultObject) -> ObjectCheck:
    """Stream the whole blob: every segment's tag, the size and the recorded SHA-256 of the plaintext."""
    try:
        reader, opened = open_sealed(obj)
    except Conflict as exc:
        return ObjectCheck(obj, "shredded" if exc.code == "key_destroyed" else "damaged", exc.message)
    except VaultDamaged as exc:
        cause = exc.__cause__
        if isinstance(cause, BlobMissing):
            return ObjectCheck(obj, "missing", str(cause))
        if isinstance(cause, crypto.KeyUnavailable):
            return ObjectCheck(obj, "no_key", str(cause))
        return ObjectCheck(obj, "damaged", str(cause or exc))
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in opened.segments():
            digest.update(chunk)
            size += len(chunk)
    except crypto.DamagedObject as exc:
        return ObjectCheck(obj, "damaged", str(exc))
    finally:
        reader.close()
    if size != obj.size or digest.hexdigest() != obj.sha256:
        return ObjectCheck(
            obj, "mismatch", f"size {size} sha256 {digest.hexdigest()} (recorded {obj.size} {obj.sha256})"
        )
    return ObjectCheck(obj, "ok")


def verify_vault(
    *,
    contract: Contract | None = None,
    clean: bool = False,
    grace: dt.timedelta = CLEAN_GRACE,
    acting_user: Any = "system",
) -> VerifyReport:
    """``sekisho vault verify``: check every blob (of one contract, or all), list blobs that no row names and
    uploads that never completed; with *clean*, remove those older than *grace* (they are ciphertext; younger
    ones may be an upload in progress, or one whose version row is being written). The run is an audit
    event."""
    report = VerifyReport()
    cutoff = timezone.now() - grace
    objects = VaultObject.objects.select_related("asset", "contract").order_by("id")
    if contract is not None:
        objects = objects.filter(contract=contract)
    for obj in objects.iterator(chunk_size=500):
        report.checked.append(check_object(obj))
    backends = {
        settings.SEKISHO_VAULT_BACKEND,
        *VaultObject.objects.values_list("backend", flat=True).distinct(),
    }
    for name in sorted(backends):
        storage = get_storage(name)
        known = set(VaultObject.objects.filter(backend=name).values_list("storage_key", flat=True))
        known |= set(TransferPackage.objects.filter(backend=name).values_list("storage_key", flat=True))
        prefix = f"objects/c{contract.pk}/" if contract is not None else ""
        for key in storage.keys(prefix):
            if key not in known and (key.startswith("objects/") or key.startswith("packages/")):
                report.orphans.append(f"{name}:{key}")
                if clean and storage.modified(key) <= cutoff:
                    storage.delete(key)
                    report.removed.append(f"{name}:{key}")
        for partial in storage.partials():
            if contract is not None and not partial.key.startswith(prefix):
                continue
            label = f"{name}:{partial.key} ({partial.handle}, {partial.started_at:%Y-%m-%d %H:%M})"
            report.partials.append(label)
            if clean and partial.started_at <= cutoff:
                storage.remove_partial(partial)
                report.removed.append(label)
    with transaction.atomic():
        record(
            actor=acting_user,
            action="vault.verify",
            contract=contract,
            obj=contract,
            summary={
                "counts": report.counts(),
                "problems": [f"{c.obj.uid}: {c.status}" for c in report.problems][:100],
                "orphans": len(report.orphans),
                "partials": len(report.partials),
                "removed": report.removed[:100],
            },
        )
    return report
