"""The person's notifications (お知らせ): newest first, unread marked; opening one marks it read."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services

PAGE_SIZE = 50


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    notifications = selectors.inbox(request.user).select_related("contract")
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/list.html",
        {"page": page, "unread": selectors.unread_count(request.user)},
    )


@login_required
@require_POST
def read(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark read, then go where the notification points (a same-site path only)."""
    notification = services.mark_read(notification_id, acting_user=request.user)
    target = notification.url
    if not (target.startswith("/") and url_has_allowed_host_and_scheme(target, {request.get_host()})):
        target = reverse("notifications:list")
    if request.POST.get("stay"):
        target = reverse("notifications:list")
    return HttpResponseRedirect(target)


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    count = services.mark_all_read(acting_user=request.user)
    messages.success(request, _("{count}件を既読にしました。").format(count=count))
    return HttpResponseRedirect(reverse("notifications:list"))
