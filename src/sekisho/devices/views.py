"""Browser views for devices and media. They read through the policy and change state only through the
services; a refusal is shown with the same message and clause the API gives."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sekisho.core import policy as core_policy
from sekisho.core.errors import Invalid, NotFound, SekishoError
from sekisho.core.models import CONTRACTOR_ROLES, Contract, Membership, Role

from . import selectors, services
from .forms import ApproveForm, CustodyForm, DeviceForm, MediumForm, PosturePolicyForm
from .models import Device, Medium
from .policy import annotate_access, require_device, session_bindings


def _contract(request: HttpRequest, contract_id: int, action: str) -> tuple[Contract, str]:
    contract = core_policy.get_visible(request.user, Contract, pk=contract_id)
    return contract, core_policy.require(request.user, action, contract)


def _contractor_people(contract: Contract) -> list[tuple[str, str]]:
    members = (
        Membership.objects.current()
        .filter(contract=contract, role__in=CONTRACTOR_ROLES)
        .select_related("user")
        .order_by("user__username")
    )
    return [(m.user.username, f"{m.user} ({m.user.username})") for m in members]


def _refusal(request: HttpRequest, exc: SekishoError) -> None:
    if isinstance(exc, NotFound):
        raise exc
    messages.error(request, str(exc))


def _binding_state(request: HttpRequest, contract: Contract) -> dict[str, Any]:
    """What the page says about this browser's device binding for the contract."""
    if str(contract.pk) not in session_bindings(request):
        return {"bound": False}
    try:
        device = require_device(request, request.user, contract)
    except SekishoError as exc:
        return {"bound": True, "ok": False, "message": str(exc)}
    return {"bound": True, "ok": True, "device": device}


# --- devices ----------------------------------------------------------------------------------------------


@login_required
@require_GET
def device_list(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "device.view")
    devices = annotate_access(list(selectors.devices_of(request.user, contract)))
    can_register = core_policy.can(request.user, "device.register", contract)
    can_manage = core_policy.can(request.user, "posture_policy.manage", contract)
    values = selectors.policy_values(contract)
    context = {
        "contract": contract,
        "role": role,
        "devices": devices,
        "policy": values,
        "binding": _binding_state(request, contract),
        "register_form": (
            DeviceForm(owners=_contractor_people(contract) if role == Role.MANAGER else None)
            if can_register
            else None
        ),
        "policy_form": PosturePolicyForm(initial=values.as_dict()) if can_manage else None,
    }
    return render(request, "devices/device_list.html", context)


@login_required
@require_POST
def device_register(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "device.view")
    form = DeviceForm(request.POST, owners=_contractor_people(contract) if role == Role.MANAGER else None)
    target = reverse("devices:device-list", args=[contract.pk])
    if not form.is_valid():
        messages.error(request, _("入力内容が正しくありません。") + " " + form.errors.as_text())
        return HttpResponseRedirect(target)
    data = form.cleaned_data
    owner = None
    if data.get("owner"):
        owner = Membership.objects.current().filter(contract=contract, user__username=data["owner"]).first()
    try:
        device = services.register_device(
            contract,
            acting_user=request.user,
            name=data["name"],
            kind=data["kind"],
            os=data["os"],
            os_version=data["os_version"],
            asset_tag=data["asset_tag"],
            serial_number=data["serial_number"],
            disk_encryption=data["disk_encryption"],
            antivirus=data["antivirus"],
            owner=owner.user if owner else None,
        )
    except SekishoError as exc:
        _refusal(request, exc)
        return HttpResponseRedirect(target)
    messages.success(request, _("端末を登録しました。情報管理責任者の承認を待っています。"))
    return HttpResponseRedirect(reverse("devices:device-detail", args=[contract.pk, device.uid]))


@login_required
@require_POST
def posture_policy_update(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "device.view")
    form = PosturePolicyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("入力内容が正しくありません。") + " " + form.errors.as_text())
    else:
        try:
            services.set_posture_policy(contract, acting_user=request.user, **form.cleaned_data)
        except SekishoError as exc:
            _refusal(request, exc)
        else:
            messages.success(request, _("端末のセキュリティ基準を変更しました。"))
    return HttpResponseRedirect(reverse("devices:device-list", args=[contract.pk]))


def _device(request: HttpRequest, contract: Contract, uid: Any) -> Device:
    device = core_policy.get_visible(request.user, Device, uid=uid, contract=contract)
    core_policy.require(request.user, "device.view", device)
    return device


def _render_device(
    request: HttpRequest, contract: Contract, role: str, device: Device, **extra: Any
) -> HttpResponse:
    device = annotate_access(
        [
            Device.objects.select_related("owner", "organisation", "latest_report", "approved_by").get(
                pk=device.pk
            )
        ]
    )[0]
    history = list(selectors.posture_history(device)[:30])
    can_approve = core_policy.can(request.user, "device.approve", device)
    default_until = min(
        timezone.localdate() + dt.timedelta(days=365),
        max(contract.period_end, timezone.localdate() + dt.timedelta(days=1)),
    )
    context = {
        "contract": contract,
        "role": role,
        "device": device,
        "history": history,
        "can_approve": can_approve,
        "can_report_lost": Device.Status.LOST in device.allowed_next()
        and (role == Role.MANAGER or (role == Role.STAFF and device.owner_id == request.user.pk)),
        "approve_form": ApproveForm(initial={"approved_until": default_until}),
        "allowed": device.allowed_next(),
        **extra,
    }
    return render(request, "devices/device_detail.html", context)


@login_required
@require_GET
def device_detail(request: HttpRequest, contract_id: int, uid: Any) -> HttpResponse:
    contract, role = _contract(request, contract_id, "device.view")
    return _render_device(request, contract, role, _device(request, contract, uid))


@login_required
@require_POST
def device_action(request: HttpRequest, contract_id: int, uid: Any, action: str) -> HttpResponse:
    contract, role = _contract(request, contract_id, "device.view")
    device = _device(request, contract, uid)
    target = reverse("devices:device-detail", args=[contract.pk, device.uid])
    try:
        if action == "approve":
            form = ApproveForm(request.POST)
            if not form.is_valid():
                raise Invalid(_("承認期限を正しく入力してください。"))
            until = dt.datetime.combine(form.cleaned_data["approved_until"], dt.time(23, 59, 59))
            services.approve_device(
                device,
                acting_user=request.user,
                approved_until=timezone.make_aware(until),
                note=form.cleaned_data["note"],
            )
            messages.success(request, _("端末を承認しました。"))
        elif action == "revoke":
            services.revoke_device(device, acting_user=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, _("端末の承認を取り消しました。"))
        elif action == "lost":
            services.mark_device_lost(device, acting_user=request.user, note=request.POST.get("note", ""))
            messages.success(request, _("紛失・盗難を届け出ました。この端末からのアクセスは停止されました。"))
        elif action == "enrollment-code":
            device, code = services.issue_enrollment_code(device, acting_user=request.user)
            server = request.build_absolute_uri("/").rstrip("/")
            return _render_device(
                request,
                contract,
                role,
                device,
                enrollment_code=code,
                enrollment_command=f"sekisho agent enroll --server {server} --code {code}",
            )
        else:
            raise NotFound(_("見つかりません。"))
    except SekishoError as exc:
        _refusal(request, exc)
    return HttpResponseRedirect(target)


@login_required
@require_GET
def bind(request: HttpRequest, token: str) -> HttpResponse:
    """The one-time link of ``sekisho agent open``: bind this browser session to the device."""
    device = services.bind_session(request, token=token, acting_user=request.user)
    messages.success(request, _("このブラウザを端末「{name}」に結び付けました。").format(name=device.name))
    return HttpResponseRedirect(reverse("devices:device-list", args=[device.contract_id]))


# --- media ------------------------------------------------------------------------------------------------


@login_required
@require_GET
def media_list(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "media.view")
    media = list(selectors.media_of(request.user, contract))
    can_register = core_policy.can(request.user, "media.register", contract)
    return render(
        request,
        "devices/media_list.html",
        {"contract": contract, "role": role, "media": media, "form": MediumForm() if can_register else None},
    )


@login_required
@require_POST
def medium_register(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "media.view")
    form = MediumForm(request.POST)
    target = reverse("devices:media-list", args=[contract.pk])
    if not form.is_valid():
        messages.error(request, _("入力内容が正しくありません。") + " " + form.errors.as_text())
        return HttpResponseRedirect(target)
    try:
        medium = services.register_medium(contract, acting_user=request.user, **form.cleaned_data)
    except SekishoError as exc:
        _refusal(request, exc)
        return HttpResponseRedirect(target)
    messages.success(request, _("記録媒体を登録しました。"))
    return HttpResponseRedirect(reverse("devices:medium-detail", args=[contract.pk, medium.pk]))


def _medium(request: HttpRequest, contract: Contract, medium_id: int) -> Medium:
    medium = core_policy.get_visible(request.user, Medium, pk=medium_id, contract=contract)
    core_policy.require(request.user, "media.view", medium)
    return medium


@login_required
@require_GET
def medium_detail(request: HttpRequest, contract_id: int, medium_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "media.view")
    medium = _medium(request, contract, medium_id)
    can_approve = core_policy.can(request.user, "media.approve", medium)
    return render(
        request,
        "devices/medium_detail.html",
        {
            "contract": contract,
            "role": role,
            "medium": medium,
            "history": list(selectors.custody_history(medium)),
            "can_approve": can_approve,
            "can_hand_over": core_policy.can(request.user, "media.custody", medium)
            and medium.status != Medium.Status.LOST,
            "can_report_lost": Medium.Status.LOST in medium.allowed_next()
            and (role == Role.MANAGER or (role == Role.STAFF and medium.custodian_id == request.user.pk)),
            "allowed": medium.allowed_next(),
            "custody_form": CustodyForm(people=_contractor_people(contract)),
        },
    )


@login_required
@require_POST
def medium_action(request: HttpRequest, contract_id: int, medium_id: int, action: str) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "media.view")
    medium = _medium(request, contract, medium_id)
    try:
        if action == "approve":
            services.approve_medium(medium, acting_user=request.user, note=request.POST.get("note", ""))
            messages.success(request, _("記録媒体を承認しました。"))
        elif action == "revoke":
            services.revoke_medium(medium, acting_user=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, _("記録媒体の承認を取り消しました。"))
        elif action == "lost":
            services.mark_medium_lost(medium, acting_user=request.user, note=request.POST.get("note", ""))
            messages.success(request, _("紛失・盗難を届け出ました。"))
        elif action == "custody":
            form = CustodyForm(request.POST, people=_contractor_people(contract))
            if not form.is_valid():
                raise Invalid(_("新しい保管者を選んでください。"))
            member = (
                Membership.objects.current()
                .select_related("user")
                .get(contract=contract, user__username=form.cleaned_data["custodian"])
            )
            services.hand_over_medium(
                medium, acting_user=request.user, custodian=member.user, note=form.cleaned_data["note"]
            )
            messages.success(request, _("保管者を変更しました。"))
        else:
            raise NotFound(_("見つかりません。"))
    except SekishoError as exc:
        _refusal(request, exc)
    return HttpResponseRedirect(reverse("devices:medium-detail", args=[contract.pk, medium.pk]))
