"""Browser views. They read through the policy and change state only through services; a refusal is shown with
the same message (and clause) the API returns."""

from __future__ import annotations

import base64
from typing import Any

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from sekisho.audit.selectors import contract_events
from sekisho.core import auth, policy, services
from sekisho.core.errors import NotFound, SekishoError
from sekisho.core.models import Contract, Membership, current_membership_q


class LoginForm(forms.Form):
    username = forms.CharField(label=_("ユーザー名"), max_length=150)
    password = forms.CharField(label=_("パスワード"), widget=forms.PasswordInput)


class OtpForm(forms.Form):
    token = forms.CharField(
        label=_("確認コード（6桁）"),
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class TransitionForm(forms.Form):
    to = forms.ChoiceField(choices=Contract.Status.choices)
    note = forms.CharField(required=False, max_length=500)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("web:contract-list")


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = auth.login_password(request, form.cleaned_data["username"], form.cleaned_data["password"])
        except SekishoError as exc:
            form.add_error(None, exc.message)
        else:
            # login() rotates the session key, so a session id planted before login is worthless after it.
            auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            if auth.needs_second_factor(user):
                request.session["sekisho_next"] = _safe_next(request)
                return HttpResponseRedirect(reverse("web:login-otp"))
            auth.record_login_without_second_factor(user)
            return HttpResponseRedirect(_safe_next(request))
    return render(request, "web/login.html", {"form": form, "next": request.GET.get("next", "")})


@login_required
@require_http_methods(["GET", "POST"])
def login_otp_view(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if user.is_verified():
        return HttpResponseRedirect(reverse("web:contract-list"))
    if not auth.has_confirmed_device(user):
        return HttpResponseRedirect(reverse("web:login-otp-setup"))
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = auth.check_second_factor(user, form.cleaned_data["token"])
        except SekishoError as exc:
            form.add_error("token", exc.message)
        else:
            otp_login(request, device)
            return HttpResponseRedirect(request.session.pop("sekisho_next", reverse("web:contract-list")))
    return render(request, "web/login_otp.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def login_otp_setup_view(request: HttpRequest) -> HttpResponse:
    """First login of someone who must use a second factor: register an authenticator app (TOTP)."""
    user: Any = request.user
    if auth.has_confirmed_device(user):
        return HttpResponseRedirect(reverse("web:login-otp"))
    device = auth.start_totp_setup(user)
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = auth.confirm_totp_setup(user, form.cleaned_data["token"])
        except SekishoError as exc:
            form.add_error("token", exc.message)
        else:
            otp_login(request, device)
            messages.success(request, _("認証アプリを登録しました。"))
            return HttpResponseRedirect(request.session.pop("sekisho_next", reverse("web:contract-list")))
    secret_b32 = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#1b2a41")
    return render(request, "web/login_otp_setup.html", {"form": form, "secret": secret_b32, "qr_svg": qr_svg})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    return HttpResponseRedirect(reverse("web:login"))


@login_required
def contract_list(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    memberships = {m.contract_id: m for m in Membership.objects.current().filter(user=user)}
    contracts = list(policy.visible(user, Contract).select_related("orderer", "contractor"))
    for contract in contracts:
        contract.my_membership = memberships.get(contract.pk)  # type: ignore[attr-defined]
    return render(request, "web/contract_list.html", {"contracts": contracts})


def _visible_contract(request: HttpRequest, contract_id: int) -> Contract:
    return policy.get_visible(request.user, Contract, pk=contract_id)


@login_required
def contract_detail(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _visible_contract(request, contract_id)
    role = policy.require(request.user, "contract.view", contract)
    members = (
        policy.visible(request.user, Membership)
        .filter(current_membership_q(), contract=contract)
        .select_related("user", "organisation")
        .order_by("role", "user__username")
    )
    transitions = [
        (status, Contract.Status(status).label)
        for status in sorted(contract.allowed_next())
        if policy.can(request.user, services.transition_action(contract.status, status) or "", contract)
    ]
    can_see_audit = policy.can(request.user, "audit.view", contract)
    recent = list(contract_events(contract).order_by("-index")[:10]) if can_see_audit else []
    return render(
        request,
        "web/contract_detail.html",
        {
            "contract": contract,
            "role": role,
            "role_label": dict(Membership._meta.get_field("role").choices or []).get(role, role),
            "members": members,
            "transitions": transitions,
            "can_see_audit": can_see_audit,
            "recent_events": recent,
        },
    )


@login_required
@require_POST
def contract_transition(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _visible_contract(request, contract_id)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("状態の指定が正しくありません。"))
    else:
        try:
            services.transition_contract(
                contract,
                acting_user=request.user,
                to_status=form.cleaned_data["to"],
                note=form.cleaned_data["note"],
            )
        except NotFound:
            raise
        except SekishoError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("契約の状態を変更しました。"))
    return HttpResponseRedirect(reverse("web:contract-detail", args=[contract.pk]))


@login_required
def contract_audit(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _visible_contract(request, contract_id)
    policy.require(request.user, "audit.view", contract)
    page = Paginator(contract_events(contract).order_by("-index"), 50).get_page(request.GET.get("page"))
    return render(request, "web/contract_audit.html", {"contract": contract, "page": page})


def healthz(request: HttpRequest) -> HttpResponse:
    """Database, vault storage and task queue: see sekisho/core/health.py."""
    from sekisho.core.health import healthz as check

    return check(request)
