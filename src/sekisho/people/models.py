"""People of a contract: the staff roster (社員等名簿), training and its acknowledgements, the appointments of
the information manager and the personal-information manager with their pledge (誓約書 様式1), and the
subcontractors held to the same rules.

R2.4.1 / P3: every category of staff is instructed and acknowledges before reaching information.
R2.4.2 / P2: obligations outlive employment; leaving ends access at its exact time.
R2.4.3 / P8: a subcontract needs the orderer's permit, the flow-down acknowledged, and for personal
information its own consent.
R2.6.1 / P4: appointments and the signed pledge before the contract becomes active.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class StaffCategory(models.TextChoices):
    """The regulation's list of 社員等 (R2.4.1), in its order."""

    EMPLOYEE = "employee", _("社員")
    SHORT_TIME = "short_time", _("短時間特別社員")
    SPECIAL_TEMPORARY = "special_temporary", _("特別臨時作業員")
    TEMPORARY = "temporary", _("臨時雇い")
    CONTRACT_STAFF = "contract_staff", _("嘱託")
    DISPATCHED = "dispatched", _("派遣労働者")
    DIRECTOR = "director", _("取締役")
    COUNSELLOR = "counsellor", _("相談役")
    ADVISER = "adviser", _("顧問")
    OTHER = "other", _("その他")


class LeavingKind(models.TextChoices):
    RETIRED = "retired", _("退職")
    REASSIGNED = "reassigned", _("本業務からの離任（異動等）")


class RosterEntry(models.Model):
    """One person who works on a contract, whether or not they ever log in. The row stays after they leave:
    the obligations do not end with the work (R2.4.2, P2, P3)."""

    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="roster")
    organisation = models.ForeignKey(
        "core.Organisation", verbose_name=_("所属組織"), on_delete=models.PROTECT, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("利用者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="roster_entries",
    )
    name = models.CharField(_("氏名"), max_length=100)
    name_kana = models.CharField(_("ふりがな"), max_length=100, blank=True)
    category = models.CharField(_("区分"), max_length=30, choices=StaffCategory.choices)
    department = models.CharField(_("所属部署"), max_length=200, blank=True)
    position = models.CharField(_("役職"), max_length=100, blank=True)
    contact = models.CharField(_("連絡先"), max_length=200, blank=True)
    started_on = models.DateField(_("従事開始日"))
    left_at = models.DateTimeField(_("離任・退職日時"), null=True, blank=True)
    leaving_kind = models.CharField(_("離任の区分"), max_length=20, choices=LeavingKind.choices, blank=True)
    leaving_note = models.TextField(_("離任の理由"), blank=True)
    # When the revocations of a leaving were carried out (at once, or by the tick for a future date).
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The leaver's acknowledgement of the obligations that continue after leaving (R2.4.2, P2, P3).
    exit_ack_name = models.CharField(_("退職後の義務の確認（氏名）"), max_length=100, blank=True)
    exit_ack_at = models.DateTimeField(_("退職後の義務の確認日時"), null=True, blank=True)
    exit_ack_sha256 = models.CharField(max_length=64, blank=True)
    exit_ack_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("社員等名簿")
        verbose_name_plural = _("社員等名簿")
        ordering = ["contract", "organisation_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "user"],
                condition=models.Q(user__isnull=False),
                name="roster_one_entry_per_user_and_contract",
            ),
        ]
        indexes = [models.Index(fields=["contract", "left_at"])]

    def __str__(self) -> str:
        return self.name

    def has_left(self, now: dt.datetime | None = None) -> bool:
        return self.left_at is not None and self.left_at <= (now or timezone.now())


class Programme(models.Model):
    """A training programme of a contract: what staff are taught, for which roles, how often."""

    policy_contract_path = "contract"

    contract = models.ForeignKey(
        "core.Contract", on_delete=models.PROTECT, related_name="training_programmes"
    )
    code = models.SlugField(_("コード"), max_length=50)
    title = models.CharField(_("研修名"), max_length=200)
    # 0: once; otherwise the acknowledgement lapses after this many months and must be renewed.
    recurrence_months = models.PositiveSmallIntegerField(_("再受講の間隔（月）"), default=12)
    reminder_days = models.PositiveSmallIntegerField(_("期限前の通知（日前）"), default=30)
    active = models.BooleanField(_("有効"), default=True)
    current_version = models.ForeignKey(
        "ProgrammeVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("研修")
        verbose_name_plural = _("研修")
        ordering = ["contract", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "code"], name="programme_code_unique_in_contract")
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def required_roles(self) -> list[str]:
        return sorted(r.role for r in self.roles.all())


class ProgrammeRole(models.Model):
    """A role of core.Role whose members must hold a current acknowledgement of the programme before
    reaching information (a row per role, so the gate can ask the database)."""

    policy_contract_path = "programme__contract"

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="roles")
    role = models.CharField(_("役割"), max_length=20)

    class Meta:
        verbose_name = _("受講が必要な役割")
        verbose_name_plural = _("受講が必要な役割")
        constraints = [models.UniqueConstraint(fields=["programme", "role"], name="programme_role_unique")]

    def __str__(self) -> str:
        return f"{self.programme_id}:{self.role}"


class ProgrammeVersion(models.Model):
    """One published text of a programme. Publishing a new one makes every earlier acknowledgement stale."""

    policy_contract_path = "programme__contract"

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("版"))
    content = models.TextField(_("内容"))
    content_sha256 = models.CharField(max_length=64, editable=False)
    published_at = models.DateTimeField(default=timezone.now, editable=False)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("研修の版")
        verbose_name_plural = _("研修の版")
        ordering = ["programme", "number"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "number"], name="programme_version_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.programme} 第{self.number}版"


class SessionMethod(models.TextChoices):
    CLASSROOM = "classroom", _("集合研修")
    ONLINE = "online", _("オンライン研修")
    SELF_STUDY = "self_study", _("資料の閲覧（eラーニング）")


class TrainingSession(models.Model):
    """A held session of a programme (who taught, when, how); attendees' acknowledgements point to it."""

    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="+")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="sessions")
    version = models.ForeignKey(ProgrammeVersion, on_delete=models.PROTECT, related_name="sessions")
    held_at = models.DateTimeField(_("実施日時"))
    method = models.CharField(_("実施方法"), max_length=20, choices=SessionMethod.choices)
    instructor = models.CharField(_("講師"), max_length=100)
    place = models.CharField(_("場所"), max_length=200, blank=True)
    note = models.TextField(_("備考"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("研修の実施")
        verbose_name_plural = _("研修の実施")
        ordering = ["-held_at", "-id"]

    def __str__(self) -> str:
        return f"{self.programme} {self.held_at:%Y-%m-%d}"


class AckMethod(models.TextChoices):
    SELF = "self", _("本人が画面で確認")
    SESSION = "session", _("研修で受講し署名（記録は情報管理責任者）")


class Acknowledgement(models.Model):
    """A person's acknowledgement of one version of a programme: typed name, time, and the SHA-256 of the
    exact text acknowledged (R2.4.1, P3)."""

    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="+")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="acknowledgements")
    version = models.ForeignKey(ProgrammeVersion, on_delete=models.PROTECT, related_name="acknowledgements")
    # A roster person (contractor or subcontractor side), or a user who is on no roster (the orderer's side,
    # when a programme requires their role).
    entry = models.ForeignKey(
        RosterEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    typed_name = models.CharField(_("署名（氏名）"), max_length=100)
    content_sha256 = models.CharField(_("内容のハッシュ（SHA-256）"), max_length=64)
    acknowledged_at = models.DateTimeField(_("確認日時"))
    expires_at = models.DateTimeField(_("有効期限"), null=True, blank=True)
    method = models.CharField(_("確認方法"), max_length=20, choices=AckMethod.choices)
    session = models.ForeignKey(
        TrainingSession, null=True, blank=True, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("研修の受講確認")
        verbose_name_plural = _("研修の受講確認")
        ordering = ["-acknowledged_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(entry__isnull=False) | models.Q(user__isnull=False),
                name="acknowledgement_has_a_person",
            ),
        ]
        indexes = [
            models.Index(fields=["entry", "programme"]),
            models.Index(fields=["user", "programme"]),
            models.Index(fields=["contract", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.typed_name} / {self.version}"

    def is_current(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.version_id == self.programme.current_version_id and (
            self.expires_at is None or self.expires_at > now
        )


class TrainingReminder(models.Model):
    """A reminder sent because an acknowledgement is about to lapse; one per acknowledgement."""

    policy_contract_path = "acknowledgement__contract"

    acknowledgement = models.OneToOneField(Acknowledgement, on_delete=models.PROTECT, related_name="reminder")
    sent_at = models.DateTimeField(default=timezone.now)
    sent_to = models.CharField(max_length=254, blank=True)

    class Meta:
        verbose_name = _("研修期限の通知")
        verbose_name_plural = _("研修期限の通知")

    def __str__(self) -> str:
        return f"reminder {self.acknowledgement_id}"


class AppointmentKind(models.TextChoices):
    INFO_MANAGER = "info_manager", _("情報管理責任者")
    PI_MANAGER = "pi_manager", _("個人情報保護管理責任者")


APPOINTMENT_CLAUSE: dict[str, str] = {
    AppointmentKind.INFO_MANAGER: "R2.6.1",
    AppointmentKind.PI_MANAGER: "P4",
}


class Appointment(models.Model):
    """The contractor's appointment of its information manager (R2.6.1) or personal-information manager (P4).
    A new appointment of a kind ends the previous one and makes the signed pledge stale."""

    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="appointments")
    kind = models.CharField(_("種別"), max_length=20, choices=AppointmentKind.choices)
    entry = models.ForeignKey(
        RosterEntry, verbose_name=_("選任された者"), on_delete=models.PROTECT, related_name="+"
    )
    appointed_at = models.DateTimeField(default=timezone.now, editable=False)
    appointed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("責任者の選任")
        verbose_name_plural = _("責任者の選任")
        ordering = ["contract", "kind", "-appointed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "kind"],
                condition=models.Q(ended_at__isnull=True),
                name="one_current_appointment_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.entry}"


class Pledge(models.Model):
    """One signed version of the pledge (誓約書 様式1). The content is kept as signed, so the PDF of any
    version can be produced again and its hash checked. A change of either manager supersedes it."""

    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="pledges")
    version = models.PositiveIntegerField(_("版"))
    content = models.JSONField(_("誓約内容"))
    content_sha256 = models.CharField(_("内容のハッシュ（SHA-256）"), max_length=64)
    info_manager = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="+")
    pi_manager = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="+")
    typed_name = models.CharField(_("署名（氏名）"), max_length=100)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(_("署名日時"))
    superseded_at = models.DateTimeField(null=True, blank=True, editable=False)
    superseded_reason = models.CharField(max_length=200, blank=True, editable=False)

    class Meta:
        verbose_name = _("誓約書")
        verbose_name_plural = _("誓約書")
        ordering = ["contract", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "version"], name="pledge_version_unique"),
            models.UniqueConstraint(
                fields=["contract"],
                condition=models.Q(superseded_at__isnull=True),
                name="one_current_pledge_per_contract",
            ),
        ]

    def __str__(self) -> str:
        return f"誓約書 第{self.version}版"

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None


class Subcontract(models.Model):
    """A subcontractor working on a contract (R2.4.3): the orderer's permit, the flow-down acknowledged by
    its responsible person, and — only if personal information is handled — the orderer's own consent (P8)."""

    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="subcontracts")
    organisation = models.ForeignKey(
        "core.Organisation", verbose_name=_("再委託先・下請負者"), on_delete=models.PROTECT, related_name="+"
    )
    scope = models.TextField(_("再委託する業務の範囲"))
    permit = models.ForeignKey(
        "permits.Permit", verbose_name=_("再委託の承諾"), on_delete=models.PROTECT, related_name="+"
    )
    pi_permit = models.ForeignKey(
        "permits.Permit",
        verbose_name=_("個人情報の取扱いの承諾"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    responsible_name = models.CharField(_("再委託先の責任者"), max_length=100)
    responsible_title = models.CharField(_("責任者の役職"), max_length=100, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now, editable=False)
    flowdown_typed_name = models.CharField(_("確認者の署名（氏名）"), max_length=100, blank=True)
    flowdown_at = models.DateTimeField(_("確認日時"), null=True, blank=True)
    flowdown_sha256 = models.CharField(max_length=64, blank=True)
    flowdown_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("再委託・下請負")
        verbose_name_plural = _("再委託・下請負")
        ordering = ["contract", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "organisation"], name="one_subcontract_per_organisation"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organisation} ({self.contract_id})"
