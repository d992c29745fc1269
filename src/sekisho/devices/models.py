"""Devices (PCs and the like) and media of a contract, their approval, credentials and posture reports.

R2.6.2ア asks for the security of the PCs that handle the information; R2.7ア forbids PCs the information
manager has not approved; R2.7イ forbids PCs without security measures; R2.7エ forbids moving important
information on media without a security function. The rows here are what the services enforce those on.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# --- posture policy ---------------------------------------------------------------------------------------


class PosturePolicy(models.Model):
    """What a contract asks of each device's security measures (R2.7イ). A contract without a row uses
    the defaults below."""

    policy_contract_path = "contract"

    contract = models.OneToOneField(
        "core.Contract", on_delete=models.PROTECT, related_name="posture_policy", verbose_name=_("契約")
    )
    require_disk_encryption = models.BooleanField(_("ディスク暗号化を必須とする"), default=True)
    require_antivirus = models.BooleanField(_("ウイルス対策ソフト（EDR）を必須とする"), default=True)
    max_definitions_age_days = models.PositiveSmallIntegerField(_("ウイルス定義の許容日数"), default=7)
    max_os_update_age_days = models.PositiveSmallIntegerField(_("OS更新の許容日数"), default=30)
    require_firewall = models.BooleanField(_("ファイアウォールを必須とする"), default=True)
    max_screen_lock_minutes = models.PositiveSmallIntegerField(_("画面ロックまでの上限（分）"), default=15)
    max_report_age_hours = models.PositiveSmallIntegerField(_("姿勢報告の有効時間"), default=24)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("端末のセキュリティ基準")
        verbose_name_plural = _("端末のセキュリティ基準")

    def __str__(self) -> str:
        return f"{self.contract_id} posture policy"


# --- devices ----------------------------------------------------------------------------------------------


class DeviceKind(models.TextChoices):
    DESKTOP = "desktop", _("デスクトップPC")
    LAPTOP = "laptop", _("ノートPC")
    SERVER = "server", _("サーバー")
    TABLET = "tablet", _("タブレット")


class Device(models.Model):
    """A PC, laptop, server or tablet of the contractor or a subcontractor, registered for one contract."""

    policy_contract_path = "contract"

    # The kinds' classes have names of their own (DeviceKind, MediumKind): the API schema names an enum after
    # its class, and two classes both called "Kind" made one operation document the other's values.
    # ``Device.Kind`` and ``Medium.Kind`` still read as before.
    Kind = DeviceKind

    class OS(models.TextChoices):
        WINDOWS = "windows", _("Windows")
        MACOS = "macos", _("macOS")
        LINUX = "linux", _("Linux")
        OTHER = "other", _("その他")

    class Status(models.TextChoices):
        REGISTERED = "registered", _("承認待ち")
        APPROVED = "approved", _("承認済み")
        REVOKED = "revoked", _("承認取消")
        LOST = "lost", _("紛失・盗難")

    # The only allowed moves; services check this table. approved -> approved is the re-approval that
    # renews the expiry. "Expired" is not stored: it is an approved device whose approval date has passed.
    # A lost device never comes back (its key and its disk are out of our hands); register it anew.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.REGISTERED: frozenset({Status.APPROVED, Status.REVOKED, Status.LOST}),
        Status.APPROVED: frozenset({Status.APPROVED, Status.REVOKED, Status.LOST}),
        Status.REVOKED: frozenset({Status.APPROVED, Status.LOST}),
        Status.LOST: frozenset(),
    }

    uid = models.UUIDField(_("端末ID"), default=uuid.uuid4, unique=True, editable=False)
    contract = models.ForeignKey(
        "core.Contract", on_delete=models.PROTECT, related_name="devices", verbose_name=_("契約")
    )
    name = models.CharField(_("端末名"), max_length=100)
    kind = models.CharField(_("種別"), max_length=20, choices=DeviceKind.choices)
    os = models.CharField(_("OS"), max_length=20, choices=OS.choices)
    os_version = models.CharField(_("OSのバージョン"), max_length=100, blank=True)
    asset_tag = models.CharField(_("資産番号"), max_length=50, blank=True)
    serial_number = models.CharField(_("製造番号"), max_length=100, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="devices", verbose_name=_("使用者")
    )
    organisation = models.ForeignKey(
        "core.Organisation", on_delete=models.PROTECT, related_name="devices", verbose_name=_("所有組織")
    )
    # The measures declared at registration; the posture reports say whether they are actually working.
    disk_encryption = models.CharField(_("ディスク暗号化（申告）"), max_length=100, blank=True)
    antivirus = models.CharField(_("ウイルス対策ソフト・EDR（申告）"), max_length=100, blank=True)
    note = models.TextField(_("備考"), blank=True)

    status = models.CharField(_("状態"), max_length=20, choices=Status.choices, default=Status.REGISTERED)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登録者")
    )
    registered_at = models.DateTimeField(_("登録日時"), default=timezone.now, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("承認者"),
    )
    approved_at = models.DateTimeField(_("承認日時"), null=True, blank=True)
    approved_until = models.DateTimeField(_("承認期限"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("状態変更日時"), default=timezone.now)
    status_reason = models.CharField(_("状態変更の理由"), max_length=500, blank=True)

    # The device credential (R2.7ア): the Ed25519 public key the agent made at enrolment.
    public_key = models.CharField(_("公開鍵"), max_length=64, blank=True)
    key_fingerprint = models.CharField(_("鍵指紋"), max_length=64, blank=True)
    enrolled_at = models.DateTimeField(_("登録（鍵）日時"), null=True, blank=True)
    # A one-time enrolment code: only its SHA-256 is kept; it is shown once to the information manager.
    enrollment_code_hash = models.CharField(max_length=64, blank=True, editable=False)
    enrollment_code_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    latest_report = models.ForeignKey(
        "PostureReport",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("最新の姿勢報告"),
    )

    class Meta:
        verbose_name = _("端末")
        verbose_name_plural = _("端末")
        ordering = ["contract", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "asset_tag"],
                condition=~models.Q(asset_tag=""),
                name="device_asset_tag_unique_per_contract",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["registered", "approved", "revoked", "lost"]),
                name="device_status_known",
            ),
        ]
        indexes = [
            models.Index(fields=["enrollment_code_hash"], name="device_enrollment_code_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.asset_tag or self.uid})"

    def allowed_next(self) -> frozenset[str]:
        return self.TRANSITIONS[self.status]

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.status == self.Status.APPROVED and (
            self.approved_until is None or self.approved_until <= now
        )

    @property
    def effective_status(self) -> str:
        """The status a person sees: an approved device past its approval date is "expired"."""
        return "expired" if self.is_expired() else self.status

    @property
    def effective_status_label(self) -> str:
        if self.is_expired():
            return str(_("承認期限切れ"))
        return str(self.get_status_display())

    @property
    def is_enrolled(self) -> bool:
        return bool(self.public_key)


class PostureReport(models.Model):
    """One signed report of the agent: the security facts it read from the OS, and how they measured up
    against the contract's posture policy when they arrived. Append-only in practice (nothing edits one)."""

    policy_contract_path = "device__contract"

    device = models.ForeignKey(
        Device, on_delete=models.PROTECT, related_name="reports", verbose_name=_("端末")
    )
    received_at = models.DateTimeField(_("受信日時"), default=timezone.now)
    collected_at = models.DateTimeField(_("収集日時"))
    platform = models.CharField(_("プラットフォーム"), max_length=20)
    agent_version = models.CharField(_("エージェントのバージョン"), max_length=30, blank=True)
    facts = models.JSONField(_("収集結果"), default=dict)
    passed = models.BooleanField(_("適合"))
    failures = models.JSONField(_("不適合の項目"), default=list)

    class Meta:
        verbose_name = _("姿勢報告")
        verbose_name_plural = _("姿勢報告")
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["device", "-received_at"], name="posture_device_received_idx")]

    def __str__(self) -> str:
        return f"{self.device_id} @ {self.received_at:%Y-%m-%d %H:%M}"


class UsedNonce(models.Model):
    """Nonces of signed agent requests already seen, kept until their timestamp could no longer pass, so a
    captured request cannot be replayed."""

    key_fingerprint = models.CharField(max_length=64)
    nonce = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key_fingerprint", "nonce"], name="used_nonce_unique"),
        ]
        indexes = [models.Index(fields=["expires_at"], name="used_nonce_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.key_fingerprint[:12]}:{self.nonce}"


class DeviceLoginLink(models.Model):
    """A one-time, short-lived link the agent asks for (signed by the device key) to bind a browser session
    to the device (`sekisho agent open`). Only the SHA-256 of the token is kept."""

    policy_contract_path = "device__contract"

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="login_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"login link for {self.device_id}"


# --- media ------------------------------------------------------------------------------------------------


class MediumKind(models.TextChoices):
    USB = "usb", _("USBメモリ")
    EXTERNAL_DISK = "external_disk", _("外付けディスク")
    OPTICAL = "optical", _("光ディスク")
    OTHER = "other", _("その他")


class Medium(models.Model):
    """A USB memory, external disk or optical disc that may carry information out of the vault (R2.7エ)."""

    policy_contract_path = "contract"

    Kind = MediumKind

    class SecurityFunction(models.TextChoices):
        HARDWARE = "hardware_encryption", _("ハードウェア暗号化")
        SOFTWARE = "software_encryption", _("ソフトウェア暗号化")
        NONE = "none", _("なし")

    class Status(models.TextChoices):
        REGISTERED = "registered", _("承認待ち")
        APPROVED = "approved", _("承認済み")
        REVOKED = "revoked", _("承認取消")
        LOST = "lost", _("紛失・盗難")

    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.REGISTERED: frozenset({Status.APPROVED, Status.REVOKED, Status.LOST}),
        Status.APPROVED: frozenset({Status.REVOKED, Status.LOST}),
        Status.REVOKED: frozenset({Status.APPROVED, Status.LOST}),
        Status.LOST: frozenset(),
    }

    contract = models.ForeignKey(
        "core.Contract", on_delete=models.PROTECT, related_name="media", verbose_name=_("契約")
    )
    label = models.CharField(_("管理名"), max_length=100)
    kind = models.CharField(_("種別"), max_length=20, choices=MediumKind.choices)
    security_function = models.CharField(
        _("セキュリティ機能"), max_length=30, choices=SecurityFunction.choices
    )
    product = models.CharField(_("製品名"), max_length=150, blank=True)
    serial_number = models.CharField(_("製造番号"), max_length=100)
    capacity_gb = models.PositiveIntegerField(_("容量（GB）"), null=True, blank=True)
    note = models.TextField(_("備考"), blank=True)
    status = models.CharField(_("状態"), max_length=20, choices=Status.choices, default=Status.REGISTERED)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登録者")
    )
    registered_at = models.DateTimeField(_("登録日時"), default=timezone.now, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(_("承認日時"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("状態変更日時"), default=timezone.now)
    status_reason = models.CharField(_("状態変更の理由"), max_length=500, blank=True)
    custodian = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="media_in_custody",
        verbose_name=_("保管者"),
    )
    custody_since = models.DateTimeField(_("保管開始"), null=True, blank=True)

    class Meta:
        verbose_name = _("記録媒体")
        verbose_name_plural = _("記録媒体")
        ordering = ["contract", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "serial_number"], name="medium_serial_unique_per_contract"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.serial_number})"

    def allowed_next(self) -> frozenset[str]:
        return self.TRANSITIONS[self.status]

    @property
    def has_security_function(self) -> bool:
        return self.security_function != self.SecurityFunction.NONE


class CustodyRecord(models.Model):
    """Who held a medium, from when to when. The open record (``until`` empty) is the current custody."""

    policy_contract_path = "medium__contract"

    medium = models.ForeignKey(Medium, on_delete=models.PROTECT, related_name="custody_records")
    custodian = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    since = models.DateTimeField(default=timezone.now)
    until = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-since", "-pk"]

    def __str__(self) -> str:
        return f"{self.medium_id} → {self.custodian_id}"
