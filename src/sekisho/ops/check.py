"""The restore check (``sekisho restore --check``, and the last step of every restore): does this deployment
hold together?

- every audit log re-hashed from its events against the stored chain, Merkle nodes and compact range, and every
  signed tree head checked with the deployment's signing key (``audit.proofs.check_stream``), and every pinned
  head proved against the log (``audit.proofs.witness``) — so a restore with the wrong audit key, a missing
  event or a row changed on the way fails here;
- every vault object streamed and checked, segment tags, size and SHA-256 of the plaintext
  (``vault.verification.check_object``, the service behind ``sekisho vault verify``), and every transfer
  package's stored SHA-256;
- crypto-shredding still holds: the objects of a shredded contract must not decrypt.

It only reads: no audit event, nothing cleaned.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from .progress import Progress


@dataclass
class CheckReport:
    streams: int = 0
    events: int = 0
    objects: dict[str, int] = field(default_factory=dict)
    packages: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        objects = "、".join(f"{status} {n}" for status, n in sorted(self.objects.items())) or "なし"
        return (
            f"監査ログ {self.streams} 本（{self.events:,} 件）、保管庫の版 {sum(self.objects.values())} 件"
            f"（{objects}）、移送パッケージ {self.packages} 件"
        )


def check_deployment(progress: Progress) -> CheckReport:
    from sekisho.audit import proofs
    from sekisho.audit.models import AuditStream

    report = CheckReport()
    streams = list(AuditStream.objects.order_by("key"))
    progress.phase("監査ログの検証", sum(s.size for s in streams), " 件")
    for stream in streams:
        report.streams += 1
        report.events += stream.size
        for problem in proofs.check_stream(stream):
            report.problems.append(f"監査ログ {stream.key}: {problem}")
        witness = proofs.witness(stream)
        for failure in witness.failures:
            report.problems.append(f"監査ログ {stream.key}: {failure}")
        progress.advance(stream.size)
    progress.finish()
    _check_vault(report, progress)
    return report


def _check_vault(report: CheckReport, progress: Progress) -> None:
    from sekisho.vault.models import Shredding, TransferPackage, VaultObject
    from sekisho.vault.storage import BlobMissing, get_storage
    from sekisho.vault.verification import check_object

    shredded = set(Shredding.objects.values_list("contract_id", flat=True))
    objects = VaultObject.objects.select_related("asset", "contract").order_by("id")
    total = sum(objects.values_list("stored_size", flat=True))
    progress.phase("保管庫の検証", total, "bytes")
    for obj in objects.iterator(chunk_size=500):
        result = check_object(obj)
        report.objects[result.status] = report.objects.get(result.status, 0) + 1
        if obj.contract_id in shredded and result.status != "shredded":
            report.problems.append(
                f"保管庫 {obj.uid}: 契約 {obj.contract_id} は暗号鍵を削除済みなのに状態が {result.status} です"
                "（削除した鍵が戻っています）"
            )
        elif result.status not in ("ok", "shredded"):
            report.problems.append(
                f"保管庫 {obj.uid}（{obj.asset.ref} 版{obj.version}）: {result.status} {result.detail}"
            )
        progress.advance(obj.stored_size)
    progress.finish()
    for package in TransferPackage.objects.order_by("id").iterator(chunk_size=500):
        report.packages += 1
        digest = hashlib.sha256()
        try:
            reader = get_storage(package.backend).open(package.storage_key)
        except BlobMissing:
            report.problems.append(f"移送パッケージ {package.uid}: ファイルがありません")
            continue
        try:
            while chunk := reader.read(1 << 20):
                digest.update(chunk)
        finally:
            reader.close()
        if digest.hexdigest() != package.sha256:
            report.problems.append(f"移送パッケージ {package.uid}: SHA-256 が記録と一致しません")
