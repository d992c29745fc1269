from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Organisation(models.Model):
    class Kind(models.TextChoices):
        ORDERER = "orderer", _("発注者")
        CONTRACTOR = "contractor", _("受注者")
        SUBCONTRACTOR = "subcontractor", _("再委託先・下請負者")

    name = models.CharField(_("名称"), max_length=200, unique=True)
    kind = models.CharField(_("区分"), max_length=20, choices=Kind.choices)
    address = models.CharField(_("所在地"), max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("組織")
        verbose_name_plural = _("組織")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who logs in. People who never log in live in the staff roster (people app), not here."""

    display_name = models.CharField(_("氏名"), max_length=100, blank=True)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("所属組織"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    failed_logins = models.PositiveIntegerField(default=0, editable=False)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("利用者")
        verbose_name_plural = _("利用者")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > timezone.now()


class Contract(models.Model):
    """A contract (業務) between an orderer and a contractor: the unit of access, audit and compliance."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("準備中")
        ACTIVE = "active", _("履行中")
        CLOSING = "closing", _("完了手続中")
        CLOSED = "closed", _("完了")

    # The only allowed moves. Services check this table; nothing sets `status` directly.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.DRAFT: frozenset({Status.ACTIVE}),
        Status.ACTIVE: frozenset({Status.CLOSING}),
        Status.CLOSING: frozenset({Status.CLOSED, Status.ACTIVE}),
        Status.CLOSED: frozenset(),
    }

    number = models.CharField(_("契約番号"), max_length=50, unique=True)
    title = models.CharField(_("業務名"), max_length=300)
    purpose = models.TextField(_("業務の目的"), blank=True)
    orderer = models.ForeignKey(
        Organisation, verbose_name=_("発注者"), on_delete=models.PROTECT, related_name="ordered_contracts"
    )
    contractor = models.ForeignKey(
        Organisation, verbose_name=_("受注者"), on_delete=models.PROTECT, related_name="contracts"
    )
    period_start = models.DateField(_("履行期間（始期）"))
    period_end = models.DateField(_("履行期間（終期）"))
    status = models.CharField(_("状態"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("契約")
        verbose_name_plural = _("契約")
        ordering = ["-period_start", "number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")), name="contract_period_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def allowed_next(self) -> frozenset[str]:
        return self.TRANSITIONS[self.status]


class Role(models.TextChoices):
    ORDERER = "orderer_officer", _("発注者担当")
    MANAGER = "info_manager", _("情報管理責任者")
    STAFF = "staff", _("社員等")
    AUDITOR = "auditor", _("監査人")


# Roles that stand for the contractor's side; the orderer's side is ORDERER (and AUDITOR may be either).
CONTRACTOR_ROLES = frozenset({Role.MANAGER, Role.STAFF})
# Roles whose holders must use a second factor (TOTP) to log in.
SECOND_FACTOR_ROLES = frozenset({Role.ORDERER, Role.MANAGER})


def current_membership_q(now: dt.datetime | None = None, prefix: str = "") -> models.Q:
    """A membership is current until it is ended or its end time (``expires_at``) has come: a time-limited
    inspector's access stops at that instant, whether or not the tick has ended the row formally."""
    now = now or timezone.now()
    return models.Q(**{f"{prefix}ended_at__isnull": True}) & (
        models.Q(**{f"{prefix}expires_at__isnull": True}) | models.Q(**{f"{prefix}expires_at__gt": now})
    )


class MembershipQuerySet(models.QuerySet["Membership"]):
    def current(self, now: dt.datetime | None = None) -> MembershipQuerySet:
        return self.filter(current_membership_q(now))

    def lapsed(self, now: dt.datetime | None = None) -> MembershipQuerySet:
        """Not ended formally, but past their end time: no access already, the tick ends them for the record."""
        return self.filter(ended_at__isnull=True, expires_at__lte=now or timezone.now())


class Membership(models.Model):
    """A user's role in one contract. Ending a membership keeps the row, so history stays readable."""

    policy_contract_path = "contract"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(_("役割"), max_length=20, choices=Role.choices)
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("所属組織"), on_delete=models.PROTECT, related_name="memberships"
    )
    started_at = models.DateTimeField(default=timezone.now, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Time-limited access (an inspector granted by the orderer for an inspection, R3): none after this moment.
    expires_at = models.DateTimeField(_("終了予定日時"), null=True, blank=True, editable=False)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("契約メンバー")
        verbose_name_plural = _("契約メンバー")
        ordering = ["contract", "role", "user__username"]
        constraints = [
            # One current role per person and contract; ended memberships stay as history.
            models.UniqueConstraint(
                fields=["user", "contract"],
                condition=models.Q(ended_at__isnull=True),
                name="one_current_membership_per_contract",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} / {self.contract.number} / {self.get_role_display()}"


class ApiToken(models.Model):
    """A bearer token for scripts. Only the SHA-256 of the secret is stored; the prefix identifies it."""

    PREFIX_LEN = 8

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=100)
    prefix = models.CharField(max_length=PREFIX_LEN, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("有効期限"), null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("APIトークン")
        verbose_name_plural = _("APIトークン")

    def __str__(self) -> str:
        return f"skh_{self.prefix}… ({self.name})"

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
