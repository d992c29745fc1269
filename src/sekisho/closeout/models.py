"""Close-out (R2.5, P9): at the end of the contract, or when the orderer demands it, every piece of the ledger —
originals, copies and what the contractor made — is returned to the orderer, destroyed on the orderer's
instruction, or kept where law or the contract requires it. The contract cannot close while anything is open.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sekisho.ledger.models import AssetState


class CloseOutState(models.TextChoices):
    OPEN = "open", _("処理中")
    ISSUED = "issued", _("証明書発行済（発注者の確認待ち）")
    CONFIRMED = "confirmed", _("発注者確認済")


# A confirmed close-out goes back to "open" only when the checklist grows (the contract was reopened and new
# information registered): the certificate then has to be issued again.
CLOSEOUT_TRANSITIONS: dict[str, frozenset[str]] = {
    CloseOutState.OPEN: frozenset({CloseOutState.ISSUED}),
    CloseOutState.ISSUED: frozenset({CloseOutState.CONFIRMED, CloseOutState.OPEN}),
    CloseOutState.CONFIRMED: frozenset({CloseOutState.OPEN}),
}


class ItemState(models.TextChoices):
    OPEN = "open", _("未処理")
    HANDED_OVER = "handed_over", _("返却済（発注者の受領確認待ち）")
    RETURNED = "returned", _("返却済（受領確認済）")
    DESTROYED = "destroyed", _("廃棄済")
    RETENTION_PROPOSED = "retention_proposed", _("保存（発注者の確認待ち）")
    RETAINED = "retained", _("法令等により保存")


# Each item ends in exactly one of the three resolutions; the two steps that wait for the orderer may be sent
# back by the orderer (not received, retention not accepted).
ITEM_TRANSITIONS: dict[str, frozenset[str]] = {
    ItemState.OPEN: frozenset({ItemState.HANDED_OVER, ItemState.DESTROYED, ItemState.RETENTION_PROPOSED}),
    ItemState.HANDED_OVER: frozenset({ItemState.RETURNED, ItemState.OPEN}),
    ItemState.RETENTION_PROPOSED: frozenset({ItemState.RETAINED, ItemState.OPEN}),
    ItemState.RETURNED: frozenset(),
    ItemState.DESTROYED: frozenset(),
    ItemState.RETAINED: frozenset(),
}
RESOLVED_STATES = frozenset({ItemState.RETURNED, ItemState.DESTROYED, ItemState.RETAINED})
AWAITING_ORDERER = frozenset({ItemState.HANDED_OVER, ItemState.RETENTION_PROPOSED})
# The ledger state an item's resolution gives its asset.
ASSET_STATE_OF: dict[str, str] = {
    ItemState.RETURNED: AssetState.RETURNED,
    ItemState.DESTROYED: AssetState.DESTROYED,
    ItemState.RETAINED: AssetState.RETAINED,
}


class DestructionMethod(models.TextChoices):
    CRYPTO_SHREDDING = "crypto_shredding", _("暗号鍵の削除（クリプトシュレッディング）")
    SHREDDER = "shredder", _("シュレッダーによる裁断")
    DISSOLUTION = "dissolution", _("溶解処理")
    INCINERATION = "incineration", _("焼却")
    DATA_ERASURE = "data_erasure", _("データの完全消去")
    PHYSICAL = "physical", _("記録媒体の物理的破壊")
    OTHER = "other", _("その他")


# Methods a person records by hand, by medium. Crypto-shredding is only ever the vault's own step.
PAPER_METHODS = frozenset(
    {
        DestructionMethod.SHREDDER,
        DestructionMethod.DISSOLUTION,
        DestructionMethod.INCINERATION,
        DestructionMethod.OTHER,
    }
)
ELECTRONIC_METHODS = frozenset(
    {DestructionMethod.DATA_ERASURE, DestructionMethod.PHYSICAL, DestructionMethod.OTHER}
)


class CloseOut(models.Model):
    """The close-out of one contract: its checklist, and the return/destruction certificate."""

    policy_contract_path = "contract"

    contract = models.OneToOneField(
        "core.Contract", on_delete=models.PROTECT, related_name="closeout", verbose_name=_("契約")
    )
    state = models.CharField(
        _("状態"), max_length=20, choices=CloseOutState.choices, default=CloseOutState.OPEN
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("開始した者")
    )
    opened_at = models.DateTimeField(_("開始日時"), default=timezone.now, editable=False)
    note = models.TextField(_("備考"), blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("証明書を発行した情報管理責任者"),
    )
    issued_at = models.DateTimeField(_("証明書の発行日時"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("証明書を確認した発注者担当"),
    )
    confirmed_at = models.DateTimeField(_("発注者の確認日時"), null=True, blank=True)
    confirmation_note = models.TextField(_("発注者の確認の記録"), blank=True)

    class Meta:
        verbose_name = _("完了時の返却・廃棄")
        verbose_name_plural = _("完了時の返却・廃棄")

    def __str__(self) -> str:
        return f"close-out of contract {self.contract_id}"


class CloseOutItem(models.Model):
    """One asset of the ledger on the close-out checklist, and how it was resolved."""

    policy_contract_path = "contract"

    closeout = models.ForeignKey(CloseOut, on_delete=models.PROTECT, related_name="items")
    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="+")
    asset = models.OneToOneField(
        "ledger.Asset", on_delete=models.PROTECT, related_name="closeout_item", verbose_name=_("台帳情報")
    )
    state = models.CharField(_("状態"), max_length=20, choices=ItemState.choices, default=ItemState.OPEN)
    # (a) returned directly to the orderer: handed over by the contractor, receipt confirmed by the orderer.
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handed_over_at = models.DateTimeField(_("返却日時"), null=True, blank=True)
    handover_note = models.TextField(_("返却の方法・相手"), blank=True)
    # The orderer's confirmation: receipt of a return, or acknowledgement of a retention.
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("発注者の確認日時"), null=True, blank=True)
    confirmation_note = models.TextField(_("発注者の確認の記録"), blank=True)
    sent_back_note = models.TextField(_("発注者からの差戻しの理由"), blank=True)
    # (b) destroyed on the orderer's instruction, (c) retained: the instruction (a destruction or retention
    # permit decided by the orderer) that allowed it.
    instruction = models.ForeignKey(
        "permits.Permit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("発注者の指示"),
    )
    destruction_method = models.CharField(
        _("廃棄の方法"), max_length=30, choices=DestructionMethod.choices, blank=True
    )
    destroyed_on = models.DateField(_("廃棄日"), null=True, blank=True)
    witness = models.CharField(_("立会者"), max_length=200, blank=True)
    shredding = models.ForeignKey(
        "vault.Shredding",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("暗号鍵の削除の記録"),
    )
    retention_basis = models.TextField(_("保存の根拠"), blank=True)
    retention_law = models.CharField(_("根拠法令・契約条項"), max_length=300, blank=True)
    retention_until = models.DateField(_("保存期限"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(_("処理完了日時"), null=True, blank=True)
    note = models.TextField(_("備考"), blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("返却・廃棄の対象")
        verbose_name_plural = _("返却・廃棄の対象")
        ordering = ["closeout", "asset_id"]
        indexes = [
            models.Index(fields=["contract", "state"], name="closeout_item_state_idx"),
            models.Index(fields=["closeout", "state"], name="closeout_item_co_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id}: {self.state}"

    @property
    def is_resolved(self) -> bool:
        return self.state in RESOLVED_STATES


class CertificateStage(models.TextChoices):
    ISSUED = "issued", _("情報管理責任者の発行")
    CONFIRMED = "confirmed", _("発注者の確認")


class Certificate(models.Model):
    """The 返却・廃棄証明書 as generated: the exact bytes whose SHA-256 the audit event records."""

    policy_contract_path = "closeout__contract"

    closeout = models.ForeignKey(CloseOut, on_delete=models.PROTECT, related_name="certificates")
    stage = models.CharField(_("段階"), max_length=20, choices=CertificateStage.choices)
    pdf = models.BinaryField(editable=False)
    docx = models.BinaryField(editable=False)
    pdf_sha256 = models.CharField(_("SHA-256（PDF）"), max_length=64)
    docx_sha256 = models.CharField(_("SHA-256（Word）"), max_length=64)
    items_count = models.PositiveIntegerField(_("対象の件数"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("作成日時"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("返却・廃棄証明書")
        verbose_name_plural = _("返却・廃棄証明書")
        ordering = ["closeout", "-created_at", "-id"]

    def __str__(self) -> str:
        return f"certificate {self.stage} of close-out {self.closeout_id}"
