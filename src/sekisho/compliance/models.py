"""Compliance rows: the findings the rules produce from live state, the daily snapshots behind the trend charts,
and the profiles (regulation variants) an orderer has loaded.

A finding is one breach of one clause by one subject (an asset, a device, a person, an incident…). It stays
open while the rule keeps producing it (``first_seen_at`` unchanged), is resolved when the rule no longer
does (``resolved_at``), and a recurrence opens a new row — so the history of a breach is never rewritten.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Severity(models.TextChoices):
    HIGH = "high", _("重大")
    MEDIUM = "medium", _("中")
    LOW = "low", _("軽微")


SEVERITY_ORDER: dict[str, int] = {Severity.HIGH: 0, Severity.MEDIUM: 1, Severity.LOW: 2}


class Finding(models.Model):
    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="findings")
    rule = models.CharField(_("ルール"), max_length=60)
    clause = models.CharField(_("条項"), max_length=20)
    severity = models.CharField(_("重大度"), max_length=10, choices=Severity.choices)
    subject_type = models.CharField(_("対象の種別"), max_length=60)
    subject_id = models.CharField(_("対象のID"), max_length=60)
    subject_label = models.CharField(_("対象"), max_length=300)
    message = models.CharField(_("内容"), max_length=500, blank=True)
    evidence = models.JSONField(_("根拠"), default=dict)
    first_seen_at = models.DateTimeField(_("初回検出日時"))
    last_seen_at = models.DateTimeField(_("最終確認日時"))
    resolved_at = models.DateTimeField(_("解消日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("指摘事項")
        verbose_name_plural = _("指摘事項")
        ordering = ["contract", "resolved_at", "clause", "-first_seen_at", "id"]
        constraints = [
            # One open finding per rule and subject; resolved ones stay as history.
            models.UniqueConstraint(
                fields=["contract", "rule", "subject_type", "subject_id"],
                condition=models.Q(resolved_at__isnull=True),
                name="one_open_finding_per_rule_and_subject",
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=["high", "medium", "low"]), name="finding_severity_known"
            ),
        ]
        indexes = [
            models.Index(fields=["contract", "resolved_at"], name="finding_contract_open_idx"),
            models.Index(fields=["contract", "clause"], name="finding_contract_clause_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.clause} {self.subject_label}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class ComplianceSnapshot(models.Model):
    """The state of a contract on one day (one row per contract and day, rewritten by each evaluation of
    that day): what the trend charts draw."""

    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="+")
    date = models.DateField(_("日付"))
    open_high = models.PositiveIntegerField(_("重大"), default=0)
    open_medium = models.PositiveIntegerField(_("中"), default=0)
    open_low = models.PositiveIntegerField(_("軽微"), default=0)
    open_incidents = models.PositiveIntegerField(_("対応中の事故"), default=0)
    training_coverage = models.DecimalField(_("研修受講率（%）"), max_digits=5, decimal_places=1, default=100)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("遵守状況の記録")
        verbose_name_plural = _("遵守状況の記録")
        ordering = ["contract", "date"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "date"], name="one_compliance_snapshot_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.date}"

    @property
    def open_findings(self) -> int:
        return self.open_high + self.open_medium + self.open_low


class ComplianceProfile(models.Model):
    """A variant of the regulation an orderer officer loaded for the orderer's organisation (TOML text kept as
    loaded). The newest load is the one in force for every contract of that orderer."""

    orderer = models.ForeignKey(
        "core.Organisation",
        verbose_name=_("発注者"),
        on_delete=models.PROTECT,
        related_name="compliance_profiles",
    )
    key = models.CharField(_("キー"), max_length=60)
    name = models.CharField(_("名称"), max_length=300)
    content = models.TextField(_("内容（TOML）"))
    content_sha256 = models.CharField(max_length=64)
    loaded_at = models.DateTimeField(_("読込日時"), default=timezone.now)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("読込者"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("規定プロファイル")
        verbose_name_plural = _("規定プロファイル")
        ordering = ["orderer", "-loaded_at", "-id"]
        indexes = [models.Index(fields=["orderer", "-loaded_at"], name="compliance_profile_latest_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"
