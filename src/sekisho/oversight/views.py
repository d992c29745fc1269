"""Browser pages of the orderer's oversight (R3): the overview, report requests and their answers, and the
time-limited inspectors. Inspections are in ``inspection_views``.

Reads go through the access policy (an outsider gets 404), changes through the services; a refusal is shown
with the service's message and clause, and the form keeps what was typed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sekisho.api.vault import content_disposition
from sekisho.core import policy
from sekisho.core import services as core
from sekisho.core.errors import NotFound, SekishoError
from sekisho.core.models import Contract, Membership, Role, User

from . import attachments, inspectors, selectors, services
from .forms import AcceptForm, AnswerForm, GrantForm, MoreForm, ReportRequestForm, WithdrawForm
from .models import CLAUSE, ReportRequest, RequestState


def contract_for(request: HttpRequest, contract_id: int, action: str = "oversight.view") -> Contract:
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    policy.require(request.user, action, contract, clause=CLAUSE)
    return contract


@login_required
@require_GET
def index(request: HttpRequest, contract_id: int) -> HttpResponse:
    """The contract's report requests and inspections, overdue ones marked; the orderer's buttons."""
    contract = contract_for(request, contract_id)
    requests = selectors.request_rows(list(selectors.report_requests(request.user, contract)[:200]))
    return render(
        request,
        "oversight/index.html",
        {
            "contract": contract,
            "requests": requests,
            "inspections": list(selectors.inspections(request.user, contract)[:200]),
            "overdue_count": sum(1 for r in requests if r.overdue),
            "is_orderer": policy.can(request.user, "report_request.create", contract),
            "today": timezone.localdate(),
        },
    )


# --- report requests ---------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = contract_for(request, contract_id, "report_request.create")
    form = ReportRequestForm(request.POST or None)
    refusal: SekishoError | None = None
    if request.method == "POST" and form.is_valid():
        try:
            created = services.create_report_request(contract, acting_user=request.user, **form.cleaned_data)
        except NotFound:
            raise
        except SekishoError as exc:
            refusal = exc
        else:
            messages.success(request, _("報告を求めました（{ref}）。").format(ref=created.ref))
            return HttpResponseRedirect(reverse("oversight:request-detail", args=[contract.pk, created.pk]))
    status = refusal.status if refusal else (422 if form.is_bound and form.errors else 200)
    return render(
        request,
        "oversight/request_form.html",
        {"contract": contract, "form": form, "refusal": refusal},
        status=status,
    )


REVIEW_STEPS: dict[str, type[forms.Form]] = {"accept": AcceptForm, "more": MoreForm, "withdraw": WithdrawForm}


def _request_context(
    request: HttpRequest,
    contract: Contract,
    found: ReportRequest,
    *,
    bound: dict[str, forms.Form] | None = None,
    refusal: SekishoError | None = None,
) -> dict[str, Any]:
    bound = bound or {}
    user = request.user
    forms_: dict[str, forms.Form] = {}
    if found.awaiting_answer and policy.can(user, "report_request.answer", contract):
        forms_["answer"] = bound.get("answer") or AnswerForm(prefix="answer")
    if policy.can(user, "report_request.review", contract):
        if found.state == RequestState.ANSWERED:
            for name in ("accept", "more"):
                forms_[name] = bound.get(name) or REVIEW_STEPS[name](prefix=name)
        if RequestState.WITHDRAWN in found.allowed_next():
            forms_["withdraw"] = bound.get("withdraw") or WithdrawForm(prefix="withdraw")
    return {
        "contract": contract,
        "req": found,
        "row": selectors.request_rows([found])[0],
        "answers": list(found.answers.all()),
        "step_forms": forms_,
        "refusal": refusal,
        "max_mb": round(attachments.max_bytes() / (1024 * 1024), 1),
        "max_count": attachments.max_count(),
    }


@login_required
@require_GET
def request_detail(request: HttpRequest, contract_id: int, report_request_id: int) -> HttpResponse:
    contract = contract_for(request, contract_id)
    found = selectors.report_request(request.user, contract, report_request_id)
    return render(request, "oversight/request_detail.html", _request_context(request, contract, found))


@csrf_exempt  # only to install the in-memory upload handler first: _answer checks CSRF itself
@login_required
@require_POST
def request_answer(request: HttpRequest, contract_id: int, report_request_id: int) -> HttpResponse:
    """The information manager's answer, with attachments kept in memory (never a temporary file on disk)."""
    attachments.install_handler(request)
    return _answer(request, contract_id, report_request_id)


@csrf_protect
def _answer(request: HttpRequest, contract_id: int, report_request_id: int) -> HttpResponse:
    contract = contract_for(request, contract_id)
    found = selectors.report_request(request.user, contract, report_request_id)
    form = AnswerForm(request.POST, prefix="answer")
    refusal: SekishoError | None = None
    if form.is_valid():
        try:
            services.answer_report_request(
                found,
                acting_user=request.user,
                text=form.cleaned_data["text"],
                files=request.FILES.getlist("answer-attachments"),
            )
        except NotFound:
            raise
        except SekishoError as exc:
            refusal = exc
        else:
            messages.success(request, _("報告しました。発注者担当へ通知しました。"))
            return HttpResponseRedirect(reverse("oversight:request-detail", args=[contract.pk, found.pk]))
    found = selectors.report_request(request.user, contract, report_request_id)
    context = _request_context(request, contract, found, bound={"answer": form}, refusal=refusal)
    return render(
        request, "oversight/request_detail.html", context, status=refusal.status if refusal else 422
    )


@login_required
@require_POST
def request_step(request: HttpRequest, contract_id: int, report_request_id: int, step: str) -> HttpResponse:
    contract = contract_for(request, contract_id)
    found = selectors.report_request(request.user, contract, report_request_id)
    if step not in REVIEW_STEPS:
        raise NotFound(_("見つかりません。"))
    form = REVIEW_STEPS[step](request.POST, prefix=step)
    refusal: SekishoError | None = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            if step == "accept":
                services.accept_report(found, acting_user=request.user, note=data["note"])
                message = _("報告を受理しました。")
            elif step == "more":
                services.request_more(
                    found, acting_user=request.user, note=data["note"], due_on=data["due_on"]
                )
                message = _("追加の報告を求めました。")
            else:
                services.withdraw_report_request(found, acting_user=request.user, reason=data["reason"])
                message = _("報告の求めを取り下げました。")
        except NotFound:
            raise
        except SekishoError as exc:
            refusal = exc
        else:
            messages.success(request, message)
            return HttpResponseRedirect(reverse("oversight:request-detail", args=[contract.pk, found.pk]))
    found = selectors.report_request(request.user, contract, report_request_id)
    context = _request_context(request, contract, found, bound={step: form}, refusal=refusal)
    return render(
        request, "oversight/request_detail.html", context, status=refusal.status if refusal else 422
    )


@login_required
@require_GET
def attachment(request: HttpRequest, contract_id: int, report_attachment_id: int) -> StreamingHttpResponse:
    contract = contract_for(request, contract_id)
    found = selectors.attachment(request.user, contract, report_attachment_id)
    chunks = services.download_attachment(found, acting_user=request.user)
    response = StreamingHttpResponse(chunks, content_type="application/octet-stream")
    response["Content-Length"] = str(found.size)
    response["Content-Disposition"] = content_disposition(found.filename)
    response["Cache-Control"] = "no-store"
    return response


# --- inspectors --------------------------------------------------------------------------------------------------


def _inspectors_page(
    request: HttpRequest,
    contract: Contract,
    form: GrantForm | None,
    refusal: SekishoError | None,
    status: int,
) -> HttpResponse:
    now = timezone.now()
    rows = [
        (m, m.ended_at is None and (m.expires_at is None or m.expires_at > now))
        for m in selectors.inspector_memberships(request.user, contract)
    ]
    return render(
        request,
        "oversight/inspectors.html",
        {"contract": contract, "rows": rows, "form": form, "refusal": refusal, "now": now},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def inspectors_page(request: HttpRequest, contract_id: int) -> HttpResponse:
    """Auditors and time-limited inspectors of the contract; the orderer officer grants a new one."""
    contract = contract_for(request, contract_id)
    may_grant = policy.can(request.user, "inspector.grant", contract)
    if request.method == "POST":
        policy.require(request.user, "inspector.grant", contract, clause=CLAUSE)
    users = inspectors.grantable_users(contract) if may_grant else []
    form = GrantForm(request.POST or None, users=users) if may_grant else None
    refusal: SekishoError | None = None
    if request.method == "POST" and form is not None and form.is_valid():
        user = User.objects.get(pk=form.cleaned_data["user"])
        try:
            inspectors.grant_inspector(
                contract, acting_user=request.user, user=user, expires_at=form.cleaned_data["expires_at"]
            )
        except NotFound:
            raise
        except SekishoError as exc:
            refusal = exc
        else:
            messages.success(request, _("{name}さんに検査員の閲覧権限を与えました。").format(name=user))
            return HttpResponseRedirect(reverse("oversight:inspectors", args=[contract.pk]))
    status = (
        refusal.status if refusal else (422 if form is not None and form.is_bound and form.errors else 200)
    )
    return _inspectors_page(request, contract, form, refusal, status)


@login_required
@require_POST
def inspector_end(request: HttpRequest, contract_id: int, inspector_id: int) -> HttpResponse:
    """End an inspector's access now, before its end time."""
    contract = contract_for(request, contract_id)
    membership = (
        policy.visible(request.user, Membership)
        .filter(pk=inspector_id, contract=contract, role=Role.AUDITOR)
        .first()
    )
    if membership is None:
        raise NotFound(_("見つかりません。"))
    policy.require(request.user, "inspector.grant", contract, clause=CLAUSE)
    try:
        core.end_membership(membership, acting_user=request.user, reason=str(_("検査員の閲覧権限の終了")))
    except NotFound:
        raise
    except SekishoError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("閲覧権限を終了しました。"))
    return HttpResponseRedirect(reverse("oversight:inspectors", args=[contract.pk]))
