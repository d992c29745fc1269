"""The audit trail: one append-only hash chain per contract, and one for deployment-wide events.

Rows of ``AuditEvent`` are never updated or deleted; database triggers (see the migration) refuse it, so not
even a bug or a raw SQL session of the application can rewrite history. ``AuditStream`` holds the head of
each chain and is locked while appending, so two concurrent writers cannot fork a chain.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

DEPLOYMENT_STREAM = "deployment"


def stream_key_for(contract_id: int | None) -> str:
    return f"contract:{contract_id}" if contract_id is not None else DEPLOYMENT_STREAM


class AuditStream(models.Model):
    key = models.CharField(max_length=64, unique=True)
    contract = models.OneToOneField(
        "core.Contract", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_stream"
    )
    size = models.PositiveBigIntegerField(default=0)
    head_hash = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.key} ({self.size})"


class AuditEvent(models.Model):
    policy_contract_path = "contract"

    stream = models.ForeignKey(AuditStream, on_delete=models.PROTECT, related_name="events")
    index = models.PositiveBigIntegerField(_("連番"))
    contract = models.ForeignKey(
        "core.Contract", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(_("実行者"), max_length=150)
    action = models.CharField(_("操作"), max_length=80)
    object_type = models.CharField(_("対象種別"), max_length=80, blank=True)
    object_id = models.CharField(_("対象ID"), max_length=64, blank=True)
    summary = models.JSONField(_("内容"), default=dict)
    occurred_at = models.DateTimeField(_("日時"))
    request_id = models.CharField(_("リクエストID"), max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("監査イベント")
        verbose_name_plural = _("監査イベント")
        ordering = ["stream", "index"]
        constraints = [models.UniqueConstraint(fields=["stream", "index"], name="audit_event_stream_index")]
        indexes = [models.Index(fields=["contract", "index"])]

    def __str__(self) -> str:
        return f"{self.stream.key}#{self.index} {self.action}"

    def canonical(self) -> dict[str, Any]:
        """The fields the hash covers, in a form that any verifier can rebuild from an export."""
        return {
            "stream": stream_key_for(self.contract_id),
            "index": self.index,
            "contract": self.contract_id,
            "actor": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "summary": self.summary,
            "occurred_at": self.occurred_at.isoformat(timespec="microseconds"),
            "request_id": self.request_id,
            "prev_hash": self.prev_hash,
        }

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.canonical())

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
