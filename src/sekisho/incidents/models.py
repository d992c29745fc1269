"""Incidents and near misses (事故・ヒヤリハット): reported to the orderer at once, investigated to the cause,
corrected, and prevented from recurring, until the orderer closes them (R2.8.1, R2.8.2, P10)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import deadlines


class IncidentKind(models.TextChoices):
    LOSS = "loss", _("紛失")
    THEFT = "theft", _("盗難")
    MISDELIVERY = "misdelivery", _("誤送付・誤交付")
    MISSENT_EMAIL = "missent_email", _("メール誤送信")
    UNAUTHORISED_ACCESS = "unauthorised_access", _("不正アクセス")
    MALWARE = "malware", _("マルウェア感染")
    DEVICE_LOSS = "device_loss", _("端末・記録媒体の紛失")
    OTHER = "other", _("その他")


class IncidentState(models.TextChoices):
    REPORTED = "reported", _("報告受付")
    ORDERER_NOTIFIED = "orderer_notified", _("発注者へ通知済")
    INVESTIGATING = "investigating", _("調査中")
    CAUSE_IDENTIFIED = "cause_identified", _("原因究明済")
    CORRECTIVE = "corrective", _("是正措置済")
    PREVENTION = "prevention", _("再発防止策策定済")
    CLOSED = "closed", _("完了（発注者確認済）")


# The only allowed moves. "Orderer notified" is reached by the system when the notification is queued; the
# orderer either closes the incident or sends it back to the investigation with an instruction.
INCIDENT_TRANSITIONS: dict[str, frozenset[str]] = {
    IncidentState.REPORTED: frozenset({IncidentState.ORDERER_NOTIFIED}),
    IncidentState.ORDERER_NOTIFIED: frozenset({IncidentState.INVESTIGATING}),
    IncidentState.INVESTIGATING: frozenset({IncidentState.CAUSE_IDENTIFIED}),
    IncidentState.CAUSE_IDENTIFIED: frozenset({IncidentState.CORRECTIVE}),
    IncidentState.CORRECTIVE: frozenset({IncidentState.PREVENTION}),
    IncidentState.PREVENTION: frozenset({IncidentState.CLOSED, IncidentState.INVESTIGATING}),
    IncidentState.CLOSED: frozenset(),
}
# The order the steps are shown in (the workflow is linear apart from the orderer sending it back).
WORKFLOW = [
    IncidentState.REPORTED,
    IncidentState.ORDERER_NOTIFIED,
    IncidentState.INVESTIGATING,
    IncidentState.CAUSE_IDENTIFIED,
    IncidentState.CORRECTIVE,
    IncidentState.PREVENTION,
    IncidentState.CLOSED,
]


class IncidentSettings(models.Model):
    """A contract's deadline targets. Without a row, the defaults apply (notice the same day, 速報 in 3
    business days)."""

    policy_contract_path = "contract"

    contract = models.OneToOneField(
        "core.Contract", on_delete=models.PROTECT, related_name="incident_settings"
    )
    orderer_notice_days = models.PositiveSmallIntegerField(
        _("発注者への報告期限（覚知日からの日数）"),
        default=deadlines.DEFAULT_ORDERER_NOTICE_DAYS,
        validators=[MaxValueValidator(7)],
    )
    prompt_report_business_days = models.PositiveSmallIntegerField(
        _("速報の目標（営業日）"),
        default=deadlines.DEFAULT_PROMPT_BUSINESS_DAYS,
        validators=[
            MinValueValidator(deadlines.PROMPT_BUSINESS_DAYS_RANGE[0]),
            MaxValueValidator(deadlines.PROMPT_BUSINESS_DAYS_RANGE[1]),
        ],
    )
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("事故報告の期限設定")
        verbose_name_plural = _("事故報告の期限設定")

    def __str__(self) -> str:
        return f"{self.contract_id}: {self.orderer_notice_days}/{self.prompt_report_business_days}"


class Incident(models.Model):
    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="incidents")
    ref = models.CharField(_("事案番号"), max_length=20)
    near_miss = models.BooleanField(_("ヒヤリハット"), default=False)
    kind = models.CharField(_("種別"), max_length=30, choices=IncidentKind.choices)
    title = models.CharField(_("件名"), max_length=200)
    description = models.TextField(_("概要（発生・発覚の経緯）"))
    occurred_at = models.DateTimeField(_("発生日時"), null=True, blank=True)
    detected_at = models.DateTimeField(_("覚知日時"))
    reported_at = models.DateTimeField(_("報告日時"), default=timezone.now, editable=False)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("報告者"), on_delete=models.PROTECT, related_name="+"
    )
    notified_at = models.DateTimeField(_("発注者への通知日時"), null=True, blank=True, editable=False)
    assets = models.ManyToManyField(
        "ledger.Asset", verbose_name=_("対象の台帳情報"), related_name="incidents", blank=True
    )
    # Personal information (P10 and the personal-information law's report).
    has_personal_info = models.BooleanField(_("個人情報を含む"), default=False)
    personal_categories = models.JSONField(_("個人情報の項目"), default=list, blank=True)
    personal_count = models.PositiveIntegerField(_("本人の数"), null=True, blank=True)
    personal_sensitive = models.BooleanField(_("要配慮個人情報を含む"), default=False)
    financial_damage_risk = models.BooleanField(_("不正利用による財産的被害のおそれ"), default=False)
    wrongful_purpose = models.BooleanField(_("不正の目的によるおそれ"), default=False)
    encrypted = models.BooleanField(_("高度な暗号化等の保護措置あり"), default=False)
    state = models.CharField(
        _("状態"), max_length=20, choices=IncidentState.choices, default=IncidentState.REPORTED
    )
    # The findings, filled in along the workflow: the nine items of the report come from here.
    cause = models.TextField(_("原因"), blank=True)
    secondary_damage = models.TextField(_("二次被害又はそのおそれ"), blank=True)
    corrective_measures = models.TextField(_("是正・補完措置"), blank=True)
    response_to_individuals = models.TextField(_("本人への対応"), blank=True)
    publication = models.TextField(_("公表"), blank=True)
    prevention = models.TextField(_("再発防止策"), blank=True)
    other_notes = models.TextField(_("その他参考となる事項"), blank=True)
    orderer_instruction = models.TextField(_("発注者からの指示"), blank=True)
    # The city's reports to the 個人情報保護委員会, recorded by the orderer officer.
    prompt_reported_on = models.DateField(_("速報の報告日"), null=True, blank=True)
    final_reported_on = models.DateField(_("確報の報告日"), null=True, blank=True)
    closed_at = models.DateTimeField(_("完了日時"), null=True, blank=True, editable=False)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("完了確認者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("事故・ヒヤリハット")
        verbose_name_plural = _("事故・ヒヤリハット")
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "ref"], name="incident_ref_unique_in_contract"),
            models.CheckConstraint(
                condition=models.Q(occurred_at__isnull=True)
                | models.Q(occurred_at__lte=models.F("detected_at")),
                name="incident_occurred_before_detected",
            ),
        ]
        indexes = [
            models.Index(fields=["contract", "state"]),
            models.Index(fields=["state"]),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"

    def allowed_next(self) -> frozenset[str]:
        return INCIDENT_TRANSITIONS[self.state]

    @property
    def is_open(self) -> bool:
        return self.state != IncidentState.CLOSED

    @property
    def aware_on(self) -> dt.date:
        """The day of awareness (day 1 of every count), in local time."""
        return timezone.localdate(self.detected_at)

    @property
    def time_to_report(self) -> dt.timedelta:
        """From detection to the report in Sekisho (R2.8.1: 「直ちに」)."""
        return self.reported_at - self.detected_at

    @property
    def time_to_notify(self) -> dt.timedelta | None:
        """From the report to the orderer's notification being queued."""
        return self.notified_at - self.reported_at if self.notified_at else None

    @property
    def triggers(self) -> deadlines.Triggers:
        return deadlines.triggers(
            personal=self.has_personal_info,
            near_miss=self.near_miss,
            sensitive=self.personal_sensitive,
            financial=self.financial_damage_risk,
            wrongful_purpose=self.wrongful_purpose,
            count=self.personal_count,
            encrypted=self.encrypted,
        )

    def deadlines_for(self, contract_settings: IncidentSettings | None) -> list[deadlines.Deadline]:
        return deadlines.incident_deadlines(
            aware=self.aware_on,
            notified_on=timezone.localdate(self.notified_at) if self.notified_at else None,
            triggers=self.triggers,
            orderer_notice_days=(
                contract_settings.orderer_notice_days
                if contract_settings
                else deadlines.DEFAULT_ORDERER_NOTICE_DAYS
            ),
            prompt_business_days=(
                contract_settings.prompt_report_business_days
                if contract_settings
                else deadlines.DEFAULT_PROMPT_BUSINESS_DAYS
            ),
            prompt_reported_on=self.prompt_reported_on,
            final_reported_on=self.final_reported_on,
        )


class DeadlineReminder(models.Model):
    """One reminder per deadline crossed: ``remind_overdue`` creates the row and notifies only if it is new,
    so running the tick again sends nothing twice. A deadline that moves (the facts changed) is a new one."""

    policy_contract_path = "incident__contract"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="reminders")
    key = models.CharField(max_length=30)
    due_on = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("期限超過の督促")
        verbose_name_plural = _("期限超過の督促")
        constraints = [
            models.UniqueConstraint(fields=["incident", "key", "due_on"], name="one_reminder_per_deadline"),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.key} {self.due_on}"
