"""Browser pages of permits (承諾・許可): the list, the inbox of requests awaiting the user's decision with
approve/deny in place, a permit's page, and the request form.

Every change goes through ``sekisho.permits.services``, which decides who may decide what; a refusal is shown
with its message and clause — inside the row for htmx requests, on the permit's page otherwise.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from sekisho.audit.models import AuditEvent
from sekisho.core import policy
from sekisho.core.errors import Invalid, NotFound, SekishoError
from sekisho.core.models import Contract
from sekisho.ledger.models import Asset

from . import selectors, services
from .forms import PAGE_SIZE, DecisionForm, PermitFilterForm, PermitRequestForm, RevokeForm
from .models import Permit, PermitState


def _contract(request: HttpRequest, contract_id: int, action: str) -> tuple[Contract, str]:
    """The contract (404 for outsiders) and the user's role in it (403 without *action*)."""
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    role = policy.require(request.user, action, contract)
    return contract, role


def _permit(request: HttpRequest, contract: Contract, permit_id: int) -> Permit:
    permit = (
        policy.visible(request.user, Permit)
        .select_related("contract", "requester", "decided_by")
        .filter(pk=permit_id, contract=contract)
        .first()
    )
    if permit is None:
        raise NotFound(_("見つかりません。"))
    return permit


def _is_htmx(request: HttpRequest) -> bool:
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def _may_decide(permit: Permit, role: str, user: Any) -> bool:
    return (
        permit.state == PermitState.REQUESTED
        and role == permit.decider_role
        and permit.requester_id != getattr(user, "pk", None)
    )


@login_required
def permit_list(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "permit.view")
    filter_form = PermitFilterForm(request.GET or None)
    qs = selectors.permits(request.user, contract, **filter_form.values())
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "permits/permit_list.html",
        {
            "contract": contract,
            "filter_form": filter_form,
            "page": page,
            "can_request": policy.can(request.user, "permit.request", contract),
            "is_decider": bool(selectors.kinds_decided_by(role)),
        },
    )


@login_required
def inbox(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "permit.decide")
    page = Paginator(selectors.awaiting_decision(request.user, contract, role), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "permits/inbox.html", {"contract": contract, "page": page, "role": role})


@login_required
def inbox_badge(request: HttpRequest, contract_id: int) -> HttpResponse:
    """The link to the inbox with the number of requests awaiting the user, for the contract page (loaded by
    htmx); empty for roles that decide nothing."""
    contract, role = _contract(request, contract_id, "permit.view")
    count = None
    if policy.can(request.user, "permit.decide", contract) and selectors.kinds_decided_by(role):
        count = selectors.awaiting_decision(request.user, contract, role).count()
    return render(request, "permits/_inbox_badge.html", {"contract": contract, "count": count})


@login_required
@require_http_methods(["GET", "POST"])
def permit_request(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "permit.request")
    asset_ids = [int(v) for v in request.GET.getlist("asset") if v.isdigit()]
    form = PermitRequestForm(
        request.POST or None,
        contract=contract,
        user=request.user,
        initial=PermitRequestForm.initial_for(
            contract, asset_ids=asset_ids, kind=request.GET.get("kind", "")
        ),
    )
    refusal: SekishoError | None = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                permit = services.request_permit(
                    contract,
                    acting_user=request.user,
                    kind=d["kind"],
                    assets=list(d["assets"]),
                    reason=d["reason"] or "",
                    copies=d["copies"],
                    recipient=d["recipient"] or "",
                    purpose=d["purpose"] or "",
                    valid_from=d["valid_from"],
                    valid_until=d["valid_until"],
                )
            except NotFound:
                raise
            except SekishoError as exc:
                refusal, status = exc, exc.status
            else:
                messages.success(
                    request,
                    _("承諾を申請しました（申請番号 {number}）。決定をお待ちください。").format(
                        number=permit.pk
                    ),
                )
                return HttpResponseRedirect(reverse("permits:detail", args=[contract.pk, permit.pk]))
        else:
            status = 422
    return render(
        request,
        "permits/permit_form.html",
        {"contract": contract, "form": form, "refusal": refusal},
        status=status,
    )


def _detail(
    request: HttpRequest,
    contract: Contract,
    role: str,
    permit: Permit,
    *,
    decision_error: SekishoError | None = None,
    revoke_error: SekishoError | None = None,
    status: int = 200,
) -> HttpResponse:
    can_see_history = policy.can(request.user, "audit.view", contract)
    history = (
        AuditEvent.objects.filter(
            contract=contract, object_type="permits.permit", object_id=str(permit.pk)
        ).order_by("-index")[:100]
        if can_see_history
        else []
    )
    return render(
        request,
        "permits/permit_detail.html",
        {
            "contract": contract,
            "permit": permit,
            "assets": list(policy.visible(request.user, Asset).filter(permits=permit).order_by("id")),
            "produced": list(
                policy.visible(request.user, Asset)
                .filter(permit=permit)
                .select_related("parent")
                .order_by("id")
            ),
            "uses": list(permit.uses.select_related("asset", "used_by").order_by("-used_at")),
            "may_decide": _may_decide(permit, role, request.user) or decision_error is not None,
            "may_revoke": (permit.state == PermitState.APPROVED and role == permit.decider_role)
            or revoke_error is not None,
            "decision_error": decision_error,
            "revoke_error": revoke_error,
            "form_data": request.POST if request.method == "POST" else {},
            "can_see_history": can_see_history,
            "history": history,
        },
        status=status,
    )


@login_required
def permit_detail(request: HttpRequest, contract_id: int, permit_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "permit.view")
    return _detail(request, contract, role, _permit(request, contract, permit_id))


def _row(request: HttpRequest, contract: Contract, permit: Permit, **extra: Any) -> HttpResponse:
    # Always 200: htmx swaps only successful responses, and the refusal belongs in the row.
    return render(request, "permits/_inbox_row.html", {"contract": contract, "permit": permit, **extra})


@login_required
@require_POST
def permit_decide(request: HttpRequest, contract_id: int, permit_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "permit.view")
    permit = _permit(request, contract, permit_id)
    form = DecisionForm(request.POST)
    htmx = _is_htmx(request)
    try:
        if not form.is_valid():
            raise Invalid(_("承諾か不承諾かを選んでください。"))
        approve = form.cleaned_data["decision"] == "approve"
        permit = services.decide_permit(
            permit,
            acting_user=request.user,
            approve=approve,
            note=form.cleaned_data["note"],
            conditions=form.cleaned_data["conditions"],
        )
    except NotFound:
        raise
    except SekishoError as exc:
        if htmx:
            return _row(request, contract, permit, error=exc, note=request.POST.get("note", ""))
        return _detail(request, contract, role, permit, decision_error=exc, status=exc.status)
    done = _("承諾しました。") if approve else _("不承諾としました。")
    if htmx:
        return _row(request, contract, permit, decided=True, done=done)
    messages.success(request, _("申請番号 {number}: {done}").format(number=permit.pk, done=done))
    if request.POST.get("next") == "inbox":
        return HttpResponseRedirect(reverse("permits:inbox", args=[contract.pk]))
    return HttpResponseRedirect(reverse("permits:detail", args=[contract.pk, permit.pk]))


@login_required
@require_POST
def permit_revoke(request: HttpRequest, contract_id: int, permit_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "permit.view")
    permit = _permit(request, contract, permit_id)
    form = RevokeForm(request.POST)
    form.is_valid()
    try:
        services.revoke_permit(permit, acting_user=request.user, note=form.cleaned_data.get("note") or "")
    except NotFound:
        raise
    except SekishoError as exc:
        return _detail(request, contract, role, permit, revoke_error=exc, status=exc.status)
    messages.success(request, _("承諾を取り消しました。"))
    return HttpResponseRedirect(reverse("permits:detail", args=[contract.pk, permit.pk]))
