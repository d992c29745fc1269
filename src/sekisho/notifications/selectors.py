from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from sekisho.core import policy

from .models import Notification


def inbox(user: Any) -> QuerySet[Notification]:
    """A person's own notifications. Those of a contract they are no longer a member of are hidden: leaving a
    contract ends what one may learn of it (the rows stay, for the record)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Notification.objects.none()
    return Notification.objects.filter(user_id=user.pk).filter(
        Q(contract__isnull=True) | Q(contract_id__in=policy.member_contract_ids(user))
    )


def unread_count(user: Any) -> int:
    return inbox(user).filter(read_at__isnull=True).count()
