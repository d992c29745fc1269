"""The vault's rows: stored versions of electronic assets, transfer packages, and crypto-shredding records.

No key material is kept here (the database is data and goes into data backups); a row names the contract key
it was sealed under by id only (``keystore.py``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class VaultObject(models.Model):
    """One version of an electronic asset's content, sealed in the vault (R2.6.2イ, R2.7ウ).

    A row exists only for a blob whose last segment was sealed and committed: it is created after the upload,
    in one transaction with its audit event. A new upload is a new version; versions are never changed."""

    policy_contract_path = "contract"

    uid = models.UUIDField(_("オブジェクトID"), default=uuid.uuid4, unique=True, editable=False)
    contract = models.ForeignKey(
        "core.Contract", on_delete=models.PROTECT, related_name="vault_objects", verbose_name=_("契約")
    )
    asset = models.ForeignKey(
        "ledger.Asset", on_delete=models.PROTECT, related_name="versions", verbose_name=_("台帳情報")
    )
    version = models.PositiveIntegerField(_("版"))
    filename = models.CharField(_("ファイル名"), max_length=255)
    content_type = models.CharField(_("形式"), max_length=100, blank=True)
    size = models.BigIntegerField(_("サイズ（バイト）"))
    sha256 = models.CharField(_("SHA-256（平文）"), max_length=64)
    backend = models.CharField(_("保存先"), max_length=20)
    storage_key = models.CharField(max_length=300, editable=False)
    stored_size = models.BigIntegerField(editable=False)
    segment_size = models.PositiveIntegerField(editable=False)
    key_id = models.UUIDField(_("契約鍵ID"), editable=False)
    device = models.ForeignKey(
        "devices.Device",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("登録した端末"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登録者")
    )
    created_at = models.DateTimeField(_("登録日時"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("保管庫の版")
        verbose_name_plural = _("保管庫の版")
        ordering = ["asset", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "version"], name="vault_version_unique_per_asset"),
            models.UniqueConstraint(fields=["backend", "storage_key"], name="vault_blob_unique"),
            models.CheckConstraint(condition=models.Q(size__gte=0), name="vault_size_not_negative"),
        ]
        indexes = [models.Index(fields=["contract", "created_at"], name="vault_contract_created_idx")]

    def __str__(self) -> str:
        return f"{self.asset_id} v{self.version} ({self.filename})"


class TransferState(models.TextChoices):
    BUILT = "built", _("作成済（移送中）")
    RECEIVED = "received", _("受領確認済")


TRANSFER_TRANSITIONS: dict[str, frozenset[str]] = {
    TransferState.BUILT: frozenset({TransferState.RECEIVED}),
    TransferState.RECEIVED: frozenset(),
}


class TransferPackage(models.Model):
    """An encrypted package (age format, X25519 recipient) of vault content moved under a transfer permit
    (R2.6.2ウ, R2.7オ), optionally carried on an approved encrypted medium (R2.7エ)."""

    policy_contract_path = "contract"

    uid = models.UUIDField(_("パッケージID"), default=uuid.uuid4, unique=True, editable=False)
    contract = models.ForeignKey(
        "core.Contract", on_delete=models.PROTECT, related_name="transfer_packages", verbose_name=_("契約")
    )
    permit = models.ForeignKey(
        "permits.Permit", on_delete=models.PROTECT, related_name="transfer_packages", verbose_name=_("承諾")
    )
    versions = models.ManyToManyField(VaultObject, related_name="packages", verbose_name=_("収録した版"))
    recipient = models.CharField(_("移送先"), max_length=200)
    recipient_key = models.CharField(_("受取人の公開鍵（age）"), max_length=100)
    medium = models.ForeignKey(
        "devices.Medium",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfer_packages",
        verbose_name=_("記録媒体"),
    )
    manifest = models.JSONField(_("目録"))
    backend = models.CharField(max_length=20, editable=False)
    storage_key = models.CharField(max_length=300, editable=False)
    size = models.BigIntegerField(_("サイズ（暗号文）"))
    sha256 = models.CharField(_("SHA-256（パッケージ）"), max_length=64)
    state = models.CharField(
        _("状態"), max_length=20, choices=TransferState.choices, default=TransferState.BUILT
    )
    built_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("作成者")
    )
    built_at = models.DateTimeField(_("作成日時"), default=timezone.now, editable=False)
    device = models.ForeignKey(
        "devices.Device", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("受領確認者"),
    )
    received_at = models.DateTimeField(_("受領確認日時"), null=True, blank=True)
    receipt_note = models.TextField(_("受領の記録"), blank=True)

    class Meta:
        verbose_name = _("移送パッケージ")
        verbose_name_plural = _("移送パッケージ")
        ordering = ["-built_at", "-id"]

    def __str__(self) -> str:
        return f"{self.uid} → {self.recipient}"

    @property
    def filename(self) -> str:
        return f"sekisho-transfer-{self.uid}.tar.age"


class Shredding(models.Model):
    """The crypto-shredding of a contract's electronic information on the orderer's instruction (R2.5, P9):
    the contract key deleted from the key store and all its backups. Evidence for the destruction
    certificate (close-out)."""

    policy_contract_path = "contract"

    contract = models.OneToOneField(
        "core.Contract", on_delete=models.PROTECT, related_name="shredding", verbose_name=_("契約")
    )
    permit = models.ForeignKey(
        "permits.Permit", on_delete=models.PROTECT, related_name="+", verbose_name=_("廃棄の承諾")
    )
    key_ids = models.JSONField(_("削除した契約鍵"), default=list)
    locations = models.JSONField(_("削除した鍵の保管場所"), default=list)
    objects_count = models.PositiveIntegerField(_("読めなくなった版の数"))
    objects_bytes = models.BigIntegerField(_("読めなくなったデータ量（バイト）"))
    assets = models.JSONField(_("廃棄した台帳情報"), default=list)
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("実施者")
    )
    executed_at = models.DateTimeField(_("実施日時"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("暗号鍵の削除（クリプトシュレッディング）")
        verbose_name_plural = _("暗号鍵の削除（クリプトシュレッディング）")

    def __str__(self) -> str:
        return f"shredding of contract {self.contract_id}"
