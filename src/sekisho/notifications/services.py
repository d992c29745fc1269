"""Telling people: a notification row for each person, and an e-mail queued only once the caller's transaction
has committed — a step that rolls back leaves neither a notification nor a message behind. The e-mail itself
is a background task (``tasks.send_notification_mail``, run by ``sekisho db_worker``), retried when the mail
server fails.

E-mails say that something happened and where to look; they never carry the information itself (which
stays on the closed network). ``SEKISHO_BASE_URL``, when set, makes the link absolute.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core.errors import NotFound

from .models import Notification

log = logging.getLogger("sekisho.notifications")


def _absolute(url: str) -> str:
    base = str(getattr(settings, "SEKISHO_BASE_URL", "") or "").rstrip("/")
    return f"{base}{url}" if base and url.startswith("/") else url


def deliver_mail(subject: str, body: str, address: str) -> None:
    """Hand one message to the mail server (run by the ``send_notification_mail`` task)."""
    send_mail(subject, body, None, [address], fail_silently=False)


def _enqueue(messages: list[tuple[str, str, str]]) -> None:
    """Queue one task per message, so one bad address or a mail server hiccup does not hold up the others
    and each is retried on its own. The notification rows are already committed: if even queueing fails,
    that is logged and the person still sees the notification in the app."""
    from .tasks import send_notification_mail

    for subject, body, address in messages:
        try:
            send_notification_mail.enqueue(subject, body, address)
        except Exception:  # the queue is unreachable: logged, the in-app notification stands
            log.exception("e-mail to %s could not be queued: %s", address, subject)


def notify(
    users: Iterable[Any], *, contract: Any, subject: str, body: str, url: str = ""
) -> list[Notification]:
    """Create one notification per person (each once) and queue their e-mails for after the commit.

    Called by services inside their transaction; the caller's audit event records who was told."""
    unique = {user.pk: user for user in users if user is not None and getattr(user, "pk", None)}
    if not unique:
        return []
    now = timezone.now()
    rows = Notification.objects.bulk_create(
        [
            Notification(user=user, contract=contract, subject=subject, body=body, url=url, created_at=now)
            for user in unique.values()
        ]
    )
    link = _absolute(url)
    text = f"{body}\n\n{_('関所で確認してください:')} {link}\n" if link else f"{body}\n"
    messages = [(f"[{_('関所')}] {subject}", text, user.email) for user in unique.values() if user.email]
    if messages:
        transaction.on_commit(lambda: _enqueue(messages), robust=True)
    return rows


@transaction.atomic
def mark_read(notification_id: int, *, acting_user: Any) -> Notification:
    """Mark one of the person's own notifications read. Reading an incident notice is evidence that the
    orderer knew, so it is recorded in the contract's audit trail."""
    from .selectors import inbox

    notification = inbox(acting_user).select_for_update().filter(pk=notification_id).first()
    if notification is None:
        raise NotFound(_("見つかりません。"))
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        record(
            actor=acting_user,
            action="notification.read",
            contract=notification.contract,
            obj=notification,
            summary={"subject": notification.subject},
        )
    return notification


@transaction.atomic
def mark_all_read(*, acting_user: Any) -> int:
    from .selectors import inbox

    unread = list(inbox(acting_user).select_for_update().filter(read_at__isnull=True))
    now = timezone.now()
    for notification in unread:
        notification.read_at = now
        record(
            actor=acting_user,
            action="notification.read",
            contract=notification.contract,
            obj=notification,
            summary={"subject": notification.subject},
        )
    Notification.objects.bulk_update(unread, ["read_at"])
    return len(unread)
