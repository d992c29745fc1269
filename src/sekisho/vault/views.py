"""Browser pages of the vault, under /contracts/<contract_id>/vault/.

Content never passes through a Django form: the page's script (``vault/vault.js``) sends the chosen file as
the raw body of the API's ``PUT …/content`` (sealed as it arrives), and downloads are links to the API's
``GET …/content``. So no upload handler ever spools plaintext to a temporary file. Both need the browser
session to be bound to an approved device (``sekisho agent open``), which the page says.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sekisho.core import policy
from sekisho.core.errors import NotFound, SekishoError
from sekisho.core.models import Contract
from sekisho.devices.models import Device
from sekisho.devices.models import Medium as StorageMedium
from sekisho.devices.policy import session_bindings
from sekisho.ledger.models import Asset, LocationKind, Medium
from sekisho.permits.models import Permit, PermitKind, PermitState

from . import selectors, transfer
from .models import TransferPackage


def _contract(request: HttpRequest, contract_id: int, action: str) -> Contract:
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    policy.require(request.user, action, contract)
    return contract


def _bound_device(request: HttpRequest, contract: Contract) -> Device | None:
    uid = session_bindings(request).get(str(contract.pk))
    return Device.objects.filter(uid=uid, contract=contract).first() if uid else None


@login_required
def vault_list(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "vault.view")
    assets = list(
        policy.visible(request.user, Asset)
        .filter(contract=contract, medium=Medium.ELECTRONIC, location_kind=LocationKind.VAULT)
        .order_by("id")
    )
    current = selectors.current_versions(request.user, contract)
    rows = [{"asset": a, "version": current.get(a.pk)} for a in assets]
    return render(
        request,
        "vault/vault_list.html",
        {
            "contract": contract,
            "rows": rows,
            "device": _bound_device(request, contract),
            "can_upload": policy.can(request.user, "vault.upload", contract),
            "can_download": policy.can(request.user, "vault.download", contract),
            "can_transfer": policy.can(request.user, "transfer.build", contract),
        },
    )


def _transfer_context(request: HttpRequest, contract: Contract) -> dict[str, Any]:
    can_build = policy.can(request.user, "transfer.build", contract)
    permits = (
        list(
            Permit.objects.filter(contract=contract, kind=PermitKind.TRANSFER, state=PermitState.APPROVED)
            .prefetch_related("assets")
            .order_by("-id")
        )
        if can_build
        else []
    )
    approved_media = StorageMedium.objects.filter(contract=contract, status=StorageMedium.Status.APPROVED)
    media = list(approved_media.order_by("label")) if can_build else []
    return {
        "contract": contract,
        "packages": selectors.packages(request.user, contract).select_related("permit", "medium"),
        "permits": permits,
        "media": media,
        "device": _bound_device(request, contract),
        "can_build": can_build,
        "can_confirm": policy.can(request.user, "transfer.confirm", contract),
    }


@login_required
def transfer_list(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "transfer.view")
    context = _transfer_context(request, contract)
    status = 200
    if request.method == "POST":
        try:
            permit = Permit.objects.filter(pk=request.POST.get("permit") or 0, contract=contract).first()
            if permit is None:
                raise NotFound(_("承諾が見つかりません。"))
            medium = request.POST.get("medium") or None
            package = transfer.build_package(
                contract,
                acting_user=request.user,
                device=request,
                permit=permit,
                assets=list(permit.assets.all()),
                recipient=permit.recipient,
                recipient_key=request.POST.get("recipient_key", ""),
                medium=int(medium) if medium and medium.isdigit() else None,
            )
        except SekishoError as exc:
            context["refusal"], status = exc, exc.status
            context["recipient_key"] = request.POST.get("recipient_key", "")
        else:
            messages.success(
                request, _("移送パッケージを作成しました（{name}）。").format(name=package.filename)
            )
            return HttpResponseRedirect(reverse("vault:transfers", args=[contract.pk]))
    return render(request, "vault/transfer_list.html", context, status=status)


@login_required
@require_POST
def transfer_receipt(request: HttpRequest, contract_id: int, transfer_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "transfer.view")
    package = policy.get_visible(request.user, TransferPackage, pk=transfer_id, contract=contract)
    try:
        transfer.confirm_receipt(
            package,
            acting_user=request.user,
            sha256=request.POST.get("sha256", ""),
            note=request.POST.get("note", ""),
        )
    except SekishoError as exc:
        context = _transfer_context(request, contract)
        context["refusal"] = exc
        return render(request, "vault/transfer_list.html", context, status=exc.status)
    messages.success(request, _("受領を確認しました。"))
    return HttpResponseRedirect(reverse("vault:transfers", args=[contract.pk]))
