"""Template helpers of the incident pages."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.translation import gettext_lazy as _

from sekisho.incidents.deadlines import Deadline, Status

register = template.Library()

STATUS_LABELS = {
    Status.MET: _("期限内に実施"),
    Status.LATE: _("実施（期限後）"),
    Status.OVERDUE: _("期限超過"),
    Status.DUE_TODAY: _("本日が期限"),
    Status.OPEN: _("未了"),
    Status.NOT_REQUIRED: _("報告義務なし（参考）"),
}


@register.filter
def deadline_status(deadline: Deadline, today: dt.date) -> str:
    return deadline.status(today)


@register.filter
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@register.filter
def days_left(deadline: Deadline, today: dt.date) -> int:
    return (deadline.due - today).days
