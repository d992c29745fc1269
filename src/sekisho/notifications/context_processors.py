"""For the header's bell: ``unread_notifications`` in every template, counted only when a template uses it.

Not wired yet: add "sekisho.notifications.context_processors.notifications" to the template context
processors and a link in web/base.html, e.g.
``<a href="{% url 'notifications:list' %}">お知らせ{% if unread_notifications %} {{ unread_notifications }}{% endif %}</a>``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import unread_count


def notifications(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(user))}
