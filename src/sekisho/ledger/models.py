"""The 行政情報管理台帳: every piece of the orderer's information a contract holds, from receipt to return."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Medium(models.TextChoices):
    PAPER = "paper", _("紙")
    ELECTRONIC = "electronic", _("電子")


class Origin(models.TextChoices):
    PROVIDED = "provided", _("発注者から貸与・提供")
    COPY = "copy", _("複写・電子化（他の台帳情報から）")
    DERIVED = "derived", _("受注者が作成・加工")


class LocationKind(models.TextChoices):
    VAULT = "vault", _("保管庫（暗号化）")
    DEVICE = "device", _("承認済み端末")
    CABINET = "cabinet", _("書庫・保管室")


class AssetState(models.TextChoices):
    HELD = "held", _("保管中")
    IN_TRANSIT = "in_transit", _("移送中")
    RETURNED = "returned", _("返却済")
    DESTROYED = "destroyed", _("廃棄済")
    RETAINED = "retained", _("法令等により保存")


# held ⇄ in transit; the three end states only through close-out (R2.5), which checks its own conditions.
ASSET_TRANSITIONS: dict[str, frozenset[str]] = {
    AssetState.HELD: frozenset(
        {AssetState.IN_TRANSIT, AssetState.RETURNED, AssetState.DESTROYED, AssetState.RETAINED}
    ),
    AssetState.IN_TRANSIT: frozenset({AssetState.HELD}),
    AssetState.RETURNED: frozenset(),
    AssetState.DESTROYED: frozenset(),
    AssetState.RETAINED: frozenset({AssetState.RETURNED, AssetState.DESTROYED}),
}
CLOSE_OUT_STATES = frozenset({AssetState.RETURNED, AssetState.DESTROYED, AssetState.RETAINED})


class PersonalCategory(models.TextChoices):
    NAME = "name", _("氏名")
    ADDRESS = "address", _("住所")
    PHONE = "phone", _("電話番号")
    EMAIL = "email", _("メールアドレス")
    BIRTHDATE = "birthdate", _("生年月日")
    ACCOUNT = "account", _("口座・納付情報")
    PROPERTY = "property", _("土地・家屋の所有情報")
    USAGE = "usage", _("下水道使用量・使用者情報")
    SENSITIVE = "sensitive", _("要配慮個人情報")
    OTHER = "other", _("その他")


class Asset(models.Model):
    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="assets")
    ref = models.CharField(_("台帳番号"), max_length=20)
    title = models.CharField(_("名称"), max_length=300)
    description = models.TextField(_("内容"), blank=True)
    medium = models.CharField(_("媒体"), max_length=20, choices=Medium.choices)
    origin = models.CharField(_("由来"), max_length=20, choices=Origin.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("元の情報"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    # The original this lineage started from (null for an original itself): one query fetches a whole tree.
    root = models.ForeignKey(
        "self",
        verbose_name=_("原本"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="descendants",
    )
    received_on = models.DateField(_("受領・作成日"))
    custodian = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("管理者"), on_delete=models.PROTECT, related_name="+"
    )
    location_kind = models.CharField(_("保管場所の種別"), max_length=20, choices=LocationKind.choices)
    location = models.CharField(_("保管場所"), max_length=200, blank=True)
    quantity = models.PositiveIntegerField(_("数量（紙）"), null=True, blank=True)
    important = models.BooleanField(_("重要情報"), default=False)
    confidentiality = models.PositiveSmallIntegerField(
        _("機密性"), default=2, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    integrity = models.PositiveSmallIntegerField(
        _("完全性"), default=1, validators=[MinValueValidator(1), MaxValueValidator(2)]
    )
    availability = models.PositiveSmallIntegerField(
        _("可用性"), default=1, validators=[MinValueValidator(1), MaxValueValidator(2)]
    )
    has_personal_info = models.BooleanField(_("個人情報を含む"), default=False)
    personal_categories = models.JSONField(_("個人情報の項目"), default=list, blank=True)
    personal_sensitive = models.BooleanField(_("要配慮個人情報を含む"), default=False)
    personal_count = models.PositiveIntegerField(_("本人の数"), null=True, blank=True)
    personal_purpose = models.TextField(_("収集・利用の目的"), blank=True)
    personal_necessity = models.TextField(_("業務上の必要性"), blank=True)
    state = models.CharField(_("状態"), max_length=20, choices=AssetState.choices, default=AssetState.HELD)
    permit = models.ForeignKey(
        "permits.Permit",
        verbose_name=_("根拠となる承諾"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="produced_assets",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("台帳情報")
        verbose_name_plural = _("台帳情報")
        ordering = ["contract", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "ref"], name="asset_ref_unique_in_contract"),
            models.CheckConstraint(
                condition=models.Q(origin="provided")
                | models.Q(parent__isnull=False)
                | models.Q(origin="derived"),
                name="asset_copy_has_parent",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    confidentiality__gte=1,
                    confidentiality__lte=3,
                    integrity__gte=1,
                    integrity__lte=2,
                    availability__gte=1,
                    availability__lte=2,
                ),
                name="asset_classification_range",
            ),
        ]
        indexes = [
            models.Index(fields=["contract", "state"]),
            models.Index(fields=["contract", "important"]),
            models.Index(fields=["contract", "has_personal_info"]),
            models.Index(fields=["contract", "medium"]),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"

    @property
    def is_lent_personal_material(self) -> bool:
        """Material the orderer lent that holds personal information (P7 restricts copying it, any medium)."""
        return self.has_personal_info and self.origin == Origin.PROVIDED
