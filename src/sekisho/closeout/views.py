"""Browser pages of the close-out (R2.5, P9): the checklist with its filters and bulk actions, the orderer's
confirmation inbox, the certificate; and the construction plan's information-security section (R1.2).

Reads go through the access policy (an outsider gets 404), changes through the services; a member without the
right gets 403 before anything is read, and a refusal of the service comes back as a message naming the clause.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from sekisho.core import policy
from sekisho.core.errors import Conflict, NotFound, SekishoError
from sekisho.core.models import Contract
from sekisho.permits.models import Permit, PermitKind, PermitState

from . import certificate, destruction, plan, selectors, services
from .forms import (
    BULK_ACTIONS,
    BULK_SOURCE_STATES,
    PAGE_SIZE,
    BulkForm,
    DecideForm,
    FilterForm,
    NoteForm,
    ShredForm,
)
from .models import CloseOutItem, CloseOutState, ItemState

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _contract(request: HttpRequest, contract_id: int, action: str) -> Contract:
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    policy.require(request.user, action, contract, clause="R2.5" if action.startswith("closeout") else "R1.2")
    return contract


def _back(
    request: HttpRequest, contract: Contract, name: str = "closeout:checklist", query: str = ""
) -> HttpResponseRedirect:
    url = reverse(name, args=[contract.pk])
    return HttpResponseRedirect(f"{url}?{query}" if query else url)


def _filter_query(filters: selectors.ItemFilters) -> str:
    personal = {True: "yes", False: "no"}.get(filters.personal, "")  # type: ignore[arg-type]
    values = {"q": filters.q, "state": filters.state, "medium": filters.medium, "personal": personal}
    return urlencode({k: v for k, v in values.items() if v})


def _refused(request: HttpRequest, exc: SekishoError) -> None:
    text = str(exc.message)
    if exc.clause:
        text += " " + str(_("（根拠条項: {clause}）").format(clause=exc.clause))
    messages.error(request, text)


def _destruction_permits(contract: Contract) -> list[Permit]:
    today = timezone.localdate()
    return list(
        Permit.objects.filter(
            contract=contract,
            kind=PermitKind.DESTRUCTION,
            state=PermitState.APPROVED,
            valid_from__lte=today,
            valid_until__gte=today,
        ).order_by("-decided_at", "-id")[:50]
    )


@login_required
@require_GET
def checklist(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "closeout.view")
    user = request.user
    closeout = selectors.visible_closeout(user, contract)
    filter_form = FilterForm(request.GET or None)
    items = selectors.with_vault_content(selectors.checklist(user, contract, filter_form.filters()))
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    summary = selectors.summary(contract)
    closing = contract.status == Contract.Status.CLOSING
    can_resolve = closing and closeout is not None and policy.can(user, "closeout.resolve", contract)
    can_instruct = closing and closeout is not None and policy.can(user, "closeout.instruct", contract)
    can_confirm = closing and closeout is not None and policy.can(user, "closeout.confirm", contract)
    state = closeout.state if closeout else None
    context: dict[str, Any] = {
        "contract": contract,
        "closeout": closeout,
        "summary": summary,
        "filter_form": filter_form,
        "page": page,
        "selectable": can_resolve or can_instruct or can_confirm,
        "filters": filter_form.filters(),
    }
    context.update(
        closing=closing,
        can_open=closing
        and policy.can(user, "closeout.open", contract)
        and (closeout is None or summary.missing > 0),
        can_resolve=can_resolve,
        can_instruct=can_instruct,
        can_confirm=can_confirm,
        can_issue=can_resolve
        and state == CloseOutState.OPEN
        and summary.unresolved == 0
        and not summary.missing,
        can_confirm_certificate=can_confirm and state == CloseOutState.ISSUED,
        can_download=closeout is not None and policy.can(user, "closeout.certificate", contract),
        certificate=certificate.latest_certificate(closeout) if closeout else None,
        shred_permits=_destruction_permits(contract) if can_resolve else [],
        methods=BulkForm.base_fields["method"].choices,  # type: ignore[attr-defined]
        states=ItemState,
    )
    return render(request, "closeout/checklist.html", context)


@login_required
@require_POST
def open_checklist(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "closeout.open")
    try:
        closeout = services.open_closeout(
            contract, acting_user=request.user, note=request.POST.get("note", "")[:2000]
        )
    except NotFound:
        raise
    except SekishoError as exc:
        _refused(request, exc)
    else:
        count = CloseOutItem.objects.filter(closeout=closeout).count()
        messages.success(
            request, _("返却・廃棄のチェックリストを作成しました（台帳の{n}件）。").format(n=count)
        )
    return _back(request, contract)


def _run_bulk(request: HttpRequest, contract: Contract, form: BulkForm, ids: list[int]) -> str:
    user, data, action = request.user, form.cleaned_data, form.cleaned_data["action"]
    note = data["note"]
    if action == "hand-over":
        n = services.hand_over(contract, acting_user=user, item_ids=ids, note=note)
        return str(_("{n}件を返却済みとしました。発注者の受領確認を待っています。").format(n=n))
    if action == "destroy":
        if data["destroyed_on"] is None or not data["method"]:
            raise Conflict(_("廃棄の方法と廃棄日を入力してください。"), code="invalid", clause="R2.5")
        n = destruction.destroy(
            contract,
            acting_user=user,
            item_ids=ids,
            method=data["method"],
            destroyed_on=data["destroyed_on"],
            witness=data["witness"],
            note=note,
        )
        return str(_("{n}件の廃棄を記録しました。").format(n=n))
    if action == "retain":
        n = services.propose_retention(
            contract,
            acting_user=user,
            item_ids=ids,
            basis=data["basis"],
            law=data["law"],
            until=data["until"],
            note=note,
        )
        return str(_("{n}件の保存を申し出ました。発注者の確認を待っています。").format(n=n))
    if action in ("instruct-destruction", "instruct-retention"):
        kind = PermitKind.DESTRUCTION if action == "instruct-destruction" else PermitKind.RETENTION
        permit = destruction.instruct(contract, acting_user=user, kind=kind, item_ids=ids, note=note)
        return str(_("{n}件について指示しました（指示番号 #{pk}）。").format(n=len(set(ids)), pk=permit.pk))
    if action == "confirm-receipt":
        n = services.confirm_receipt(contract, acting_user=user, item_ids=ids, note=note)
        return str(_("{n}件の受領を確認しました。").format(n=n))
    if action == "acknowledge-retention":
        n = services.acknowledge_retention(contract, acting_user=user, item_ids=ids, note=note)
        return str(_("{n}件の保存を確認しました。").format(n=n))
    n = services.send_back(contract, acting_user=user, item_ids=ids, note=note)
    return str(_("{n}件を差し戻しました。").format(n=n))


@login_required
@require_POST
def bulk(request: HttpRequest, contract_id: int) -> HttpResponse:
    """Apply one step to the chosen items, or to every item matching the checklist's filters (the query string
    of the page the form was on)."""
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    form = BulkForm(request.POST)
    filters = FilterForm(request.POST, prefix="f").filters()
    query = _filter_query(filters)
    if not form.is_valid():
        policy.require(request.user, "closeout.view", contract)
        messages.error(request, _("操作の指定が正しくありません。"))
        return _back(request, contract, query=query)
    policy.require(request.user, BULK_ACTIONS[form.cleaned_data["action"]], contract, clause="R2.5")
    ids: list[int] = form.cleaned_data["item"]
    if form.cleaned_data["all_matching"]:
        # Every matching item the step applies to (those already past it are left alone, not refused).
        matching = selectors.checklist(request.user, contract, filters)
        states = BULK_SOURCE_STATES[form.cleaned_data["action"]]
        ids = list(matching.filter(state__in=states).values_list("pk", flat=True))
    try:
        message = _run_bulk(request, contract, form, ids)
    except NotFound:
        raise
    except SekishoError as exc:
        _refused(request, exc)
    else:
        messages.success(request, message)
    return _back(request, contract, query=query)


@login_required
@require_POST
def shred(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "closeout.resolve")
    form = ShredForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("廃棄の指示（承諾）を選んでください。"))
        return _back(request, contract)
    try:
        shredding = destruction.shred_vault(
            contract,
            acting_user=request.user,
            permit_id=form.cleaned_data["permit"],
            note=form.cleaned_data["note"],
        )
    except NotFound:
        raise
    except SekishoError as exc:
        _refused(request, exc)
    else:
        messages.success(
            request,
            _("保管庫の暗号鍵を削除しました（削除記録 #{pk}、{n}版）。").format(
                pk=shredding.pk, n=shredding.objects_count
            ),
        )
    return _back(request, contract)


# --- the orderer's confirmation inbox --------------------------------------------------------------------------


@login_required
@require_GET
def inbox(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "closeout.view")
    page = Paginator(selectors.awaiting_orderer(request.user, contract), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "closeout/inbox.html",
        {
            "contract": contract,
            "page": page,
            "can_confirm": contract.status == Contract.Status.CLOSING
            and policy.can(request.user, "closeout.confirm", contract),
        },
    )


@login_required
@require_POST
def decide(request: HttpRequest, contract_id: int) -> HttpResponse:
    """One row of the inbox: confirm the receipt (or the retention), or send it back. With htmx the row is
    answered in place."""
    contract = _contract(request, contract_id, "closeout.confirm")
    form = DecideForm(request.POST)
    htmx = bool(request.headers.get("HX-Request"))
    if not form.is_valid():
        messages.error(request, _("操作の指定が正しくありません。"))
        return _back(request, contract, "closeout:inbox")
    item = selectors.checklist(request.user, contract).filter(pk=form.cleaned_data["item"]).first()
    if item is None:
        raise NotFound(_("見つかりません。"))
    error: SekishoError | None = None
    done = ""
    note = form.cleaned_data["note"]
    try:
        if form.cleaned_data["decision"] == "send-back":
            services.send_back(contract, acting_user=request.user, item_ids=[item.pk], note=note)
            done = str(_("差し戻しました。"))
        elif item.state == ItemState.RETENTION_PROPOSED:
            services.acknowledge_retention(contract, acting_user=request.user, item_ids=[item.pk], note=note)
            done = str(_("保存を確認しました。"))
        else:
            services.confirm_receipt(contract, acting_user=request.user, item_ids=[item.pk], note=note)
            done = str(_("受領を確認しました。"))
    except NotFound:
        raise
    except SekishoError as exc:
        error = exc
    if htmx:
        item = selectors.checklist(request.user, contract).get(pk=item.pk)
        return render(
            request,
            "closeout/_inbox_row.html",
            {
                "contract": contract,
                "item": item,
                "error": error,
                "done": done,
                "note": note,
                "can_confirm": True,
            },
        )
    if error is not None:
        _refused(request, error)
    else:
        messages.success(request, done)
    return _back(request, contract, "closeout:inbox")


# --- the certificate ---------------------------------------------------------------------------------------------


@login_required
@require_POST
def certificate_issue(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "closeout.resolve")
    try:
        cert = certificate.issue_certificate(contract, acting_user=request.user)
    except NotFound:
        raise
    except SekishoError as exc:
        _refused(request, exc)
    else:
        messages.success(
            request,
            _("返却・廃棄証明書を発行しました（SHA-256 {sha}）。発注者の確認を待っています。").format(
                sha=cert.pdf_sha256[:16]
            ),
        )
    return _back(request, contract)


@login_required
@require_POST
def certificate_confirm(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "closeout.confirm")
    form = NoteForm(request.POST)
    form.is_valid()
    try:
        cert = certificate.confirm_certificate(
            contract, acting_user=request.user, note=form.cleaned_data.get("note", "")
        )
    except NotFound:
        raise
    except SekishoError as exc:
        _refused(request, exc)
    else:
        messages.success(
            request,
            _("返却・廃棄証明書を確認しました（SHA-256 {sha}）。契約を完了できます。").format(
                sha=cert.pdf_sha256[:16]
            ),
        )
    return _back(request, contract)


def _download(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def certificate_download(request: HttpRequest, contract_id: int, fmt: str) -> HttpResponse:
    contract = _contract(request, contract_id, "closeout.certificate")
    closeout = selectors.visible_closeout(request.user, contract)
    latest = certificate.latest_certificate(closeout, with_files=True) if closeout else None
    if latest is None:
        raise Conflict(
            _("返却・廃棄証明書はまだ発行されていません。"), code="certificate_not_issued", clause="R2.5"
        )
    if fmt == "pdf":
        return _download(bytes(latest.pdf), "application/pdf", f"closeout-certificate-{contract.pk}.pdf")
    return _download(bytes(latest.docx), DOCX, f"closeout-certificate-{contract.pk}.docx")


# --- the construction plan's section -------------------------------------------------------------------------------


@login_required
@require_GET
def plan_page(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "plan.view")
    return render(request, "closeout/plan.html", {"contract": contract, "plan": plan.content(contract)})


@login_required
@require_GET
def plan_download(request: HttpRequest, contract_id: int, fmt: str) -> HttpResponse:
    contract = _contract(request, contract_id, "plan.view")
    content = plan.content(contract)
    if fmt == "pdf":
        return _download(plan.pdf(content), "application/pdf", f"plan-{contract.pk}.pdf")
    return _download(plan.docx(content), DOCX, f"plan-{contract.pk}.docx")
