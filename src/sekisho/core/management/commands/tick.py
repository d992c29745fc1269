"""``sekisho tick``: the deadline work, run every few minutes by cron or a systemd timer.

Each job is a plain service function, listed here so that what runs is readable in one place. Every job is
idempotent (running tick twice does nothing more the second time) and runs in its own transaction, so one
failing job does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

logger = logging.getLogger("sekisho.tick")


def _expire_permits() -> str:
    from sekisho.permits.services import expire_permits

    return f"{expire_permits()} permit(s) expired"


def _incident_reminders() -> str:
    from sekisho.incidents.reminders import remind_overdue

    return f"{len(remind_overdue(timezone.now()))} incident reminder(s) sent"


def _process_leavers() -> str:
    from sekisho.people.services import process_due_leavers

    return f"{process_due_leavers()} leaver(s) revoked"


def _training_reminders() -> str:
    from sekisho.people.services import send_training_reminders

    return f"{send_training_reminders()} training reminder(s) sent"


def _end_lapsed_memberships() -> str:
    from sekisho.core.services import end_lapsed_memberships

    return f"{end_lapsed_memberships()} lapsed membership(s) ended"


def _oversight_reminders() -> str:
    from sekisho.oversight.reminders import remind_overdue

    return f"{len(remind_overdue(timezone.now()))} oversight reminder(s) sent"


def _evaluate_compliance() -> str:
    from sekisho.compliance.services import evaluate_all

    return f"{evaluate_all()} contract(s) evaluated"


def _sign_tree_heads() -> str:
    from sekisho.audit.services import sign_due_tree_heads

    return f"{len(sign_due_tree_heads())} tree head(s) signed"


JOBS: list[tuple[str, Callable[[], str]]] = [
    ("permits.expire", _expire_permits),
    ("incidents.remind_overdue", _incident_reminders),
    # R2.4.2: a leaving time that has come revokes access even if no request arrived since.
    ("people.leavers", _process_leavers),
    ("people.training_reminders", _training_reminders),
    # R3: a time-limited inspector's access stopped at its end time already (the policy reads it); this
    # ends the membership for the record.
    ("memberships.end_lapsed", _end_lapsed_memberships),
    ("oversight.remind_overdue", _oversight_reminders),
    # R3: findings from the live state, after the jobs above changed it; a daily snapshot for the trends.
    ("compliance.evaluate", _evaluate_compliance),
    # Last, so that the heads cover what the jobs above recorded.
    ("audit.sign_due", _sign_tree_heads),
]


class Command(BaseCommand):
    help = "Run the scheduled jobs once: permit expiry, incident reminders, leavers, compliance, signed tree heads."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--only", action="append", default=[], help="run only this job (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        known = [name for name, _ in JOBS]
        unknown = [o for o in options["only"] if o not in known]
        if unknown:
            raise CommandError(f"unknown job(s): {', '.join(unknown)}; known: {', '.join(known)}")
        failed = []
        for name, job in JOBS:
            if options["only"] and name not in options["only"]:
                continue
            try:
                self.stdout.write(f"{name}: {job()}")
            except Exception:  # one failing job must not stop the others; it is logged and the exit fails
                logger.exception("tick job %s failed", name)
                failed.append(name)
        if failed:
            raise CommandError(f"failed job(s): {', '.join(failed)}")
