"""Background work of the notifications: sending one e-mail.

Enqueued by ``services.notify`` once the caller's transaction has committed, run by ``sekisho db_worker``
(the database task backend). A message that fails is tried again later — after 1, 4, 16, 64 … minutes
(``SEKISHO_MAIL_RETRY_SECONDS`` × 4ⁿ) — until ``SEKISHO_MAIL_MAX_ATTEMPTS``; each failed attempt stays in the
task table as a FAILED result with its traceback, and the last one is logged as an error.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone
from django_tasks import task

log = logging.getLogger("sekisho.notifications")


@task()
def send_notification_mail(subject: str, body: str, address: str, attempt: int = 1) -> str:
    from . import services

    try:
        services.deliver_mail(subject, body, address)
    except Exception:
        if not retry_later(subject, body, address, attempt):
            log.error("e-mail to %s failed for good after %d attempt(s): %s", address, attempt, subject)
        raise  # this attempt is recorded as FAILED, with its traceback
    return address


def retry_later(subject: str, body: str, address: str, attempt: int) -> bool:
    """Queue the next attempt when attempts are left and the backend can run a task later."""
    limit = int(getattr(settings, "SEKISHO_MAIL_MAX_ATTEMPTS", 5))
    backend = send_notification_mail.get_backend()
    if attempt >= limit or not backend.supports_defer:
        return False
    delay = int(getattr(settings, "SEKISHO_MAIL_RETRY_SECONDS", 60)) * 4 ** (attempt - 1)
    when = timezone.now() + dt.timedelta(seconds=delay)
    send_notification_mail.using(run_after=when).enqueue(subject, body, address, attempt=attempt + 1)
    log.warning(
        "e-mail to %s failed (attempt %d of %d); trying again at %s: %s",
        address,
        attempt,
        limit,
        when.isoformat(timespec="seconds"),
        subject,
    )
    return True
