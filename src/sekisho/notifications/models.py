"""In-app notifications (お知らせ): what a person must know of, kept until they have read it. Each is also sent
by e-mail when the person has an address."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications")
    contract = models.ForeignKey(
        "core.Contract", null=True, blank=True, on_delete=models.PROTECT, related_name="notifications"
    )
    subject = models.CharField(_("件名"), max_length=200)
    body = models.TextField(_("本文"), blank=True)
    url = models.CharField(_("リンク"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("日時"), default=timezone.now, editable=False)
    read_at = models.DateTimeField(_("既読日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("お知らせ")
        verbose_name_plural = _("お知らせ")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.subject}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
