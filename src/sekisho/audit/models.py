"""The audit trail: one append-only log per contract, and one for deployment-wide events (R2.9, R3, P11).

Each log is both a hash chain (``prev_hash``) and an RFC 6962 Merkle tree over the events' canonical bytes,
in append order. Rows of ``AuditEvent``, ``MerkleNode``, ``TreeHead`` and ``PinnedHead`` are never updated or
deleted; database triggers (see the migrations) refuse it, so not even a bug or a raw SQL session of the
application can rewrite history. ``AuditStream`` holds the head of each chain and the tree's compact range,
and is locked while appending, so two concurrent writers cannot fork a chain.

What is stored for the tree, and why:

- ``AuditStream.frontier``: the compact range (one perfect-subtree hash per set bit of the size, ≤ 64 × 32
  bytes). Appending needs nothing else — it travels on the stream row that ``record`` already locks and
  updates — and the current root is a fold over it.
- ``MerkleNode``: every perfect subtree at level ≥ ``STORED_MIN_LEVEL`` (16 leaves and up), written once when
  it completes. That is one row per 8 events on average (n/16 + n/32 + …), written by one append in 16, and a
  proof reads ≤ 2·log2(n) of them in one query. Below that level, a proof re-hashes at most 16 events of the
  leaf's block (and of the right border), which costs less than storing two rows for every event would.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import signing
from .canonical import canonical_json

__all__ = ["canonical_json"]

DEPLOYMENT_STREAM = "deployment"
# Perfect subtrees of 2^4 = 16 leaves and more are stored; smaller ones are re-hashed from events on demand.
STORED_MIN_LEVEL = 4


def stream_key_for(contract_id: int | None) -> str:
    return f"contract:{contract_id}" if contract_id is not None else DEPLOYMENT_STREAM


class AuditStream(models.Model):
    key = models.CharField(max_length=64, unique=True)
    contract = models.OneToOneField(
        "core.Contract", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_stream"
    )
    size = models.PositiveBigIntegerField(default=0)
    head_hash = models.CharField(max_length=64, blank=True)
    # The Merkle tree's compact range: perfect-subtree hashes for the set bits of `size`, largest first.
    frontier = models.BinaryField(default=b"", editable=False)

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
        return canonical_of(*(getattr(self, column) for column in CANONICAL_COLUMNS))

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.canonical())

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()


# The columns `canonical_of` takes, in order: `values_list(*CANONICAL_COLUMNS)` exports without model instances.
CANONICAL_COLUMNS = (
    "index",
    "contract_id",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "summary",
    "occurred_at",
    "request_id",
    "prev_hash",
)


def canonical_of(
    index: int,
    contract_id: int | None,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    summary: Any,
    occurred_at: Any,
    request_id: str,
    prev_hash: str,
) -> dict[str, Any]:
    return {
        "stream": stream_key_for(contract_id),
        "index": index,
        "contract": contract_id,
        "actor": actor_id,
        "actor_label": actor_label,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "summary": summary,
        "occurred_at": occurred_at.isoformat(timespec="microseconds"),
        "request_id": request_id,
        "prev_hash": prev_hash,
    }


class MerkleNode(models.Model):
    """The hash of one perfect subtree (leaves [index·2^level, (index+1)·2^level)) of a stream's tree."""

    stream = models.ForeignKey(AuditStream, on_delete=models.PROTECT, related_name="merkle_nodes")
    level = models.PositiveSmallIntegerField()
    index = models.PositiveBigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stream", "level", "index"], name="audit_merkle_node_position")
        ]

    def __str__(self) -> str:
        return f"{self.stream_id}/{self.level}/{self.index}"


class TreeHeadReason(models.TextChoices):
    INTERVAL = "interval", _("定期署名")
    EXPORT = "export", _("エクスポート")
    INSPECTION = "inspection", _("検査")
    REQUEST = "request", _("要求による署名")


class TreeHead(models.Model):
    """A signed tree head (STH): the stream had `size` events with this root, as signed at `timestamp_ms`.

    It covers exactly events 0 … size-1. The audit event that records a requested signature is appended
    *before* signing, so it is covered too and no head ever needs a later event to be valid."""

    policy_contract_path = "stream__contract"

    stream = models.ForeignKey(AuditStream, on_delete=models.PROTECT, related_name="tree_heads")
    size = models.PositiveBigIntegerField(_("イベント数"))
    root_hash = models.CharField(_("ルートハッシュ"), max_length=64)
    head_hash = models.CharField(_("末尾イベントのハッシュ"), max_length=64, blank=True)
    timestamp_ms = models.PositiveBigIntegerField(_("署名時刻（ミリ秒）"))
    key_id = models.CharField(_("鍵ID"), max_length=64)
    signature = models.CharField(_("署名"), max_length=100)
    reason = models.CharField(_("理由"), max_length=20, choices=TreeHeadReason.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("署名付きツリーヘッド")
        verbose_name_plural = _("署名付きツリーヘッド")
        ordering = ["stream", "-size", "-timestamp_ms", "-id"]
        indexes = [models.Index(fields=["stream", "size"])]

    def __str__(self) -> str:
        return f"{self.stream_id}@{self.size}"

    def signed(self) -> signing.TreeHead:
        return signing.TreeHead(
            stream=self.stream.key,
            size=self.size,
            root_hash=self.root_hash,
            head_hash=self.head_hash,
            timestamp_ms=self.timestamp_ms,
            key_id=self.key_id,
            signature=self.signature,
        )


class PinnedHead(models.Model):
    """A tree head the orderer has seen and recorded (the witness). Sekisho must be able to prove, at any
    later time, that the current log extends it; the row keeps its own copy of the signed fields, so even a
    rewrite of the tree-head table cannot erase what the orderer saw."""

    policy_contract_path = "stream__contract"

    stream = models.ForeignKey(AuditStream, on_delete=models.PROTECT, related_name="pins")
    size = models.PositiveBigIntegerField(_("イベント数"))
    root_hash = models.CharField(_("ルートハッシュ"), max_length=64)
    head_hash = models.CharField(_("末尾イベントのハッシュ"), max_length=64, blank=True)
    timestamp_ms = models.PositiveBigIntegerField(_("署名時刻（ミリ秒）"))
    key_id = models.CharField(_("鍵ID"), max_length=64)
    signature = models.CharField(_("署名"), max_length=100)
    pinned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    pinned_at = models.DateTimeField(_("記録日時"))
    note = models.CharField(_("メモ"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("記録済みツリーヘッド")
        verbose_name_plural = _("記録済みツリーヘッド")
        ordering = ["stream", "size", "id"]

    def __str__(self) -> str:
        return f"pin {self.stream_id}@{self.size}"

    def signed(self) -> signing.TreeHead:
        return signing.TreeHead(
            stream=self.stream.key,
            size=self.size,
            root_hash=self.root_hash,
            head_hash=self.head_hash,
            timestamp_ms=self.timestamp_ms,
            key_id=self.key_id,
            signature=self.signature,
        )
