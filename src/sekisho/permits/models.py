"""Permissions (承諾・許可): what the regulation forbids unless the right party of the contract allows it."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sekisho.core.models import Role


class PermitKind(models.TextChoices):
    COPY = "copy", _("複写・電子化")
    OTHER_PURPOSE = "other_purpose", _("目的外使用")
    THIRD_PARTY = "third_party", _("第三者への提供")
    TRANSFER = "transfer", _("持出し・移送")
    SUBCONTRACT = "subcontract", _("再委託・下請負")
    RETENTION = "retention", _("法令等による保存")
    DESTRUCTION = "destruction", _("廃棄")


# Who decides each kind, and the clause the permit stands for.
DECIDER_ROLE: dict[str, str] = {
    PermitKind.COPY: Role.ORDERER,
    PermitKind.OTHER_PURPOSE: Role.ORDERER,
    PermitKind.THIRD_PARTY: Role.ORDERER,
    PermitKind.TRANSFER: Role.MANAGER,
    PermitKind.SUBCONTRACT: Role.ORDERER,
    PermitKind.RETENTION: Role.ORDERER,
    PermitKind.DESTRUCTION: Role.ORDERER,
}
CLAUSE: dict[str, str] = {
    PermitKind.COPY: "R2.3",
    PermitKind.OTHER_PURPOSE: "R2.2",
    PermitKind.THIRD_PARTY: "P6",
    PermitKind.TRANSFER: "R2.7オ",
    PermitKind.SUBCONTRACT: "R2.4.3",
    PermitKind.RETENTION: "R2.5",
    PermitKind.DESTRUCTION: "R2.5",
}


class PermitState(models.TextChoices):
    REQUESTED = "requested", _("申請中")
    APPROVED = "approved", _("承諾済")
    DENIED = "denied", _("不承諾")
    USED = "used", _("使用済")
    REVOKED = "revoked", _("取消")
    EXPIRED = "expired", _("期限切れ")


PERMIT_TRANSITIONS: dict[str, frozenset[str]] = {
    PermitState.REQUESTED: frozenset({PermitState.APPROVED, PermitState.DENIED}),
    PermitState.APPROVED: frozenset({PermitState.USED, PermitState.REVOKED, PermitState.EXPIRED}),
    PermitState.DENIED: frozenset(),
    PermitState.USED: frozenset(),
    PermitState.REVOKED: frozenset(),
    PermitState.EXPIRED: frozenset(),
}


class Permit(models.Model):
    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="permits")
    kind = models.CharField(_("種別"), max_length=20, choices=PermitKind.choices)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("申請者"), on_delete=models.PROTECT, related_name="+"
    )
    assets = models.ManyToManyField(
        "ledger.Asset", verbose_name=_("対象情報"), related_name="permits", blank=True
    )
    reason = models.TextField(_("理由"))
    copies = models.PositiveIntegerField(_("部数"), null=True, blank=True)
    recipient = models.CharField(_("提供先・移送先"), max_length=200, blank=True)
    purpose = models.TextField(_("使用目的"), blank=True)
    valid_from = models.DateField(_("有効期間（始期）"))
    valid_until = models.DateField(_("有効期間（終期）"))
    state = models.CharField(
        _("状態"), max_length=20, choices=PermitState.choices, default=PermitState.REQUESTED
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("決定者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("決定日時"), null=True, blank=True)
    decision_note = models.TextField(_("決定理由"), blank=True)
    conditions = models.TextField(_("条件"), blank=True)
    requested_at = models.DateTimeField(_("申請日時"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("承諾・許可")
        verbose_name_plural = _("承諾・許可")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_until__gte=models.F("valid_from")), name="permit_validity_ordered"
            ),
        ]
        indexes = [models.Index(fields=["contract", "state", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def clause(self) -> str:
        return CLAUSE[self.kind]

    @property
    def decider_role(self) -> str:
        return DECIDER_ROLE[self.kind]

    def in_force_on(self, day: dt.date) -> bool:
        return self.state == PermitState.APPROVED and self.valid_from <= day <= self.valid_until


class PermitUse(models.Model):
    """One use of an approved permit: an other-purpose use, a provision to a third party, a transfer…
    (copies are recorded as the child assets they produced)."""

    policy_contract_path = "permit__contract"

    permit = models.ForeignKey(Permit, on_delete=models.PROTECT, related_name="uses")
    asset = models.ForeignKey("ledger.Asset", on_delete=models.PROTECT, related_name="permit_uses")
    used_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    used_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        verbose_name = _("承諾の使用記録")
        verbose_name_plural = _("承諾の使用記録")
        ordering = ["-used_at"]

    def __str__(self) -> str:
        return f"{self.permit} / {self.asset_id} / {self.used_at:%Y-%m-%d}"
