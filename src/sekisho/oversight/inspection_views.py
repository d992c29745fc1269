"""Browser pages of inspections (R3): scheduling, the checklist with a form per item while the inspection is in
progress, findings with their corrective actions, completion, and the report downloads."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sekisho.core import policy
from sekisho.core.errors import NotFound, SekishoError
from sekisho.core.models import Contract

from . import documents, inspections, selectors
from .forms import (
    CancelForm,
    CloseFindingForm,
    CompleteForm,
    FindingForm,
    InspectionForm,
    ItemForm,
    ReopenForm,
    ResponseForm,
)
from .models import FindingState, Inspection, InspectionState, ItemResult
from .views import contract_for

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@login_required
@require_http_methods(["GET", "POST"])
def inspection_new(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = contract_for(request, contract_id, "inspection.manage")
    form = InspectionForm(request.POST or None, initial={"scheduled_on": timezone.localdate()})
    refusal: SekishoError | None = None
    if request.method == "POST" and form.is_valid():
        try:
            created = inspections.schedule_inspection(contract, acting_user=request.user, **form.cleaned_data)
        except NotFound:
            raise
        except SekishoError as exc:
            refusal = exc
        else:
            messages.success(
                request,
                _("検査を予定しました（{ref}）。チェックリストを作成しました。").format(ref=created.ref),
            )
            return HttpResponseRedirect(
                reverse("oversight:inspection-detail", args=[contract.pk, created.pk])
            )
    status = refusal.status if refusal else (422 if form.is_bound and form.errors else 200)
    return render(
        request,
        "oversight/inspection_form.html",
        {"contract": contract, "form": form, "refusal": refusal},
        status=status,
    )


def _detail_context(
    request: HttpRequest,
    contract: Contract,
    inspection: Inspection,
    *,
    bound: dict[str, forms.Form] | None = None,
    refusal: SekishoError | None = None,
) -> dict[str, Any]:
    bound = bound or {}
    user = request.user
    manages = policy.can(user, "inspection.manage", contract)
    responds = policy.can(user, "inspection.respond", contract)
    recording = manages and inspection.state == InspectionState.IN_PROGRESS
    items = []
    for item in inspection.items.all():
        item_form = None
        finding_form = None
        if recording:
            key = f"item-{item.pk}"
            item_form = bound.get(key) or ItemForm(
                prefix=key, initial={"result": item.result, "note": item.note}
            )
            if item.result == ItemResult.NONCONFORMING:
                fkey = f"finding-{item.pk}"
                finding_form = bound.get(fkey) or FindingForm(prefix=fkey)
        items.append((item, item_form, finding_form))
    findings = []
    for row in selectors.finding_rows(list(inspection.findings.all())):
        finding = row.obj
        steps: dict[str, forms.Form] = {}
        if responds and finding.state == FindingState.OPEN:
            steps["response"] = bound.get(f"response-{finding.pk}") or ResponseForm(
                prefix=f"response-{finding.pk}"
            )
        if manages and finding.state == FindingState.ANSWERED:
            steps["close"] = bound.get(f"close-{finding.pk}") or CloseFindingForm(
                prefix=f"close-{finding.pk}"
            )
            steps["reopen"] = bound.get(f"reopen-{finding.pk}") or ReopenForm(prefix=f"reopen-{finding.pk}")
        findings.append((row, steps))
    steps_: dict[str, forms.Form | None] = {}
    if manages:
        if inspection.state == InspectionState.PLANNED:
            steps_["start"] = None
        if inspection.state == InspectionState.IN_PROGRESS:
            steps_["complete"] = bound.get("complete") or CompleteForm(prefix="complete")
        if InspectionState.CANCELLED in inspection.allowed_next():
            steps_["cancel"] = bound.get("cancel") or CancelForm(prefix="cancel")
    results = [i.result for i, _f, _g in items]
    return {
        "contract": contract,
        "inspection": inspection,
        "items": items,
        "findings": findings,
        "steps": steps_,
        "refusal": refusal,
        "tally": [(label, results.count(value)) for value, label in ItemResult.choices],
        "unrecorded": results.count(""),
        "workflow": [
            (state.label, state == inspection.state)
            for state in (InspectionState.PLANNED, InspectionState.IN_PROGRESS, InspectionState.COMPLETED)
        ],
    }


@login_required
@require_GET
def inspection_detail(request: HttpRequest, contract_id: int, inspection_id: int) -> HttpResponse:
    contract = contract_for(request, contract_id)
    inspection = selectors.inspection(request.user, contract, inspection_id)
    return render(request, "oversight/inspection_detail.html", _detail_context(request, contract, inspection))


def _answer(
    request: HttpRequest,
    contract: Contract,
    inspection_id: int,
    key: str,
    form: forms.Form | None,
    run: Any,
    done: Any,
) -> HttpResponse:
    """Run *run* (the service call) when *form* is valid; back to the inspection with *done*, or the page with
    the form's errors or the service's refusal."""
    refusal: SekishoError | None = None
    if form is None or form.is_valid():
        try:
            run(form.cleaned_data if form is not None else {})
        except NotFound:
            raise
        except SekishoError as exc:
            refusal = exc
        else:
            messages.success(request, done)
            return HttpResponseRedirect(
                reverse("oversight:inspection-detail", args=[contract.pk, inspection_id])
            )
    inspection = selectors.inspection(request.user, contract, inspection_id)
    context = _detail_context(
        request, contract, inspection, bound={key: form} if form else {}, refusal=refusal
    )
    return render(
        request, "oversight/inspection_detail.html", context, status=refusal.status if refusal else 422
    )


STEPS: dict[str, type[forms.Form] | None] = {"start": None, "complete": CompleteForm, "cancel": CancelForm}


@login_required
@require_POST
def inspection_step(request: HttpRequest, contract_id: int, inspection_id: int, step: str) -> HttpResponse:
    contract = contract_for(request, contract_id)
    inspection = selectors.inspection(request.user, contract, inspection_id)
    if step not in STEPS:
        raise NotFound(_("見つかりません。"))
    form_class = STEPS[step]
    form = form_class(request.POST, prefix=step) if form_class is not None else None
    user = request.user

    def run(data: dict[str, Any]) -> None:
        if step == "start":
            inspections.start_inspection(inspection, acting_user=user)
        elif step == "complete":
            inspections.complete_inspection(inspection, acting_user=user, summary=data["summary"])
        else:
            inspections.cancel_inspection(inspection, acting_user=user, reason=data["reason"])

    done = {
        "start": _("検査を開始しました。"),
        "complete": _("検査を完了しました。"),
        "cancel": _("検査を中止しました。"),
    }
    return _answer(request, contract, inspection.pk, step, form, run, done[step])


@login_required
@require_POST
def item_result(
    request: HttpRequest, contract_id: int, inspection_id: int, inspection_item_id: int
) -> HttpResponse:
    contract = contract_for(request, contract_id)
    inspection = selectors.inspection(request.user, contract, inspection_id)
    item = selectors.item(request.user, inspection, inspection_item_id)
    key = f"item-{item.pk}"
    form = ItemForm(request.POST, prefix=key)

    def run(data: dict[str, Any]) -> None:
        inspections.record_item(item, acting_user=request.user, result=data["result"], note=data["note"])

    done = _("{clause}の結果を記録しました。").format(clause=item.clause_id)
    return _answer(request, contract, inspection.pk, key, form, run, done)


@login_required
@require_POST
def finding_new(
    request: HttpRequest, contract_id: int, inspection_id: int, inspection_item_id: int
) -> HttpResponse:
    contract = contract_for(request, contract_id)
    inspection = selectors.inspection(request.user, contract, inspection_id)
    item = selectors.item(request.user, inspection, inspection_item_id)
    key = f"finding-{item.pk}"
    form = FindingForm(request.POST, prefix=key)

    def run(data: dict[str, Any]) -> None:
        inspections.add_finding(item, acting_user=request.user, **data)

    return _answer(
        request, contract, inspection.pk, key, form, run, _("指摘事項（是正要求）を登録しました。")
    )


FINDING_STEPS: dict[str, type[forms.Form]] = {
    "response": ResponseForm,
    "close": CloseFindingForm,
    "reopen": ReopenForm,
}


@login_required
@require_POST
def finding_step(
    request: HttpRequest, contract_id: int, inspection_id: int, inspection_finding_id: int, step: str
) -> HttpResponse:
    contract = contract_for(request, contract_id)
    inspection = selectors.inspection(request.user, contract, inspection_id)
    finding = selectors.finding(request.user, inspection, inspection_finding_id)
    if step not in FINDING_STEPS:
        raise NotFound(_("見つかりません。"))
    key = f"{step}-{finding.pk}"
    form = FINDING_STEPS[step](request.POST, prefix=key)
    user = request.user

    def run(data: dict[str, Any]) -> None:
        if step == "response":
            inspections.respond_to_finding(finding, acting_user=user, response=data["response"])
        elif step == "close":
            inspections.close_finding(finding, acting_user=user, note=data["note"])
        else:
            inspections.reopen_finding(
                finding, acting_user=user, instruction=data["instruction"], due_on=data["due_on"]
            )

    done = {
        "response": _("是正の内容を報告しました。"),
        "close": _("是正を確認しました。"),
        "reopen": _("再度の是正を求めました。"),
    }
    return _answer(request, contract, inspection.pk, key, form, run, done[step])


@login_required
@require_GET
def inspection_document(request: HttpRequest, contract_id: int, inspection_id: int, fmt: str) -> HttpResponse:
    contract = contract_for(request, contract_id)
    inspection = selectors.inspection(request.user, contract, inspection_id)
    report = documents.content(inspection)
    if fmt == "pdf":
        body, content_type = documents.pdf(report), "application/pdf"
    else:
        body, content_type = documents.docx(report), DOCX
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = (
        f'attachment; filename="inspection-{contract.pk}-{inspection.ref}.{fmt}"'
    )
    return response
