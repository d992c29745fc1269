"""Browser pages of incidents: the contract's list, the orderer's list across contracts, the report form, the
incident with its workflow steps, deadlines and timeline, and the report downloads.

Reads go through the access policy (an outsider gets 404), changes through ``services``; a refusal is shown
with the service's message and clause, and the form keeps what was typed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sekisho.core import policy
from sekisho.core.errors import NotFound, SekishoError
from sekisho.core.models import Contract, Role

from . import deadlines, documents, selectors, services
from .forms import (
    AuthorityReportForm,
    CauseForm,
    CorrectiveForm,
    IncidentForm,
    NoteForm,
    PreventionForm,
    ReturnForm,
    ReviseForm,
    SettingsForm,
)
from .models import WORKFLOW, Incident, IncidentState

PAGE_SIZE = 50


def _contract(request: HttpRequest, contract_id: int, action: str, clause: str | None = None) -> Contract:
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    policy.require(request.user, action, contract, clause=clause)
    return contract


def _page(request: HttpRequest, incidents: Any) -> tuple[Any, list[selectors.Row]]:
    page = Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))
    return page, selectors.rows(list(page.object_list))


@login_required
@require_GET
def orderer_list(request: HttpRequest) -> HttpResponse:
    """Every incident of every contract where the user is an orderer officer, across contractors."""
    page, rows = _page(request, selectors.orderer_incidents(request.user))
    return render(
        request,
        "incidents/orderer_list.html",
        {
            "page": page,
            "rows": rows,
            "is_orderer": selectors.is_orderer_anywhere(request.user),
            "overdue_count": sum(1 for r in rows if r.overdue),
            "today": timezone.localdate(),
        },
    )


@login_required
@require_GET
def incident_list(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "incident.view")
    page, rows = _page(request, selectors.contract_incidents(request.user, contract))
    current = services.contract_settings(contract)
    can_configure = policy.can(request.user, "incident.configure", contract)
    return render(
        request,
        "incidents/list.html",
        {
            "contract": contract,
            "page": page,
            "rows": rows,
            "overdue_count": sum(1 for r in rows if r.overdue),
            "can_report": policy.can(request.user, "incident.report", contract),
            "can_configure": can_configure,
            "settings_form": _settings_form(current) if can_configure else None,
            "notice_days": current.orderer_notice_days if current else deadlines.DEFAULT_ORDERER_NOTICE_DAYS,
            "prompt_days": (
                current.prompt_report_business_days if current else deadlines.DEFAULT_PROMPT_BUSINESS_DAYS
            ),
            "today": timezone.localdate(),
        },
    )


def _settings_form(current: Any, data: Any = None) -> SettingsForm:
    return SettingsForm(
        data,
        initial={
            "orderer_notice_days": current.orderer_notice_days
            if current
            else deadlines.DEFAULT_ORDERER_NOTICE_DAYS,
            "prompt_report_business_days": (
                current.prompt_report_business_days if current else deadlines.DEFAULT_PROMPT_BUSINESS_DAYS
            ),
        },
    )


@login_required
@require_POST
def incident_settings(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "incident.configure", clause=services.REPORT_CLAUSE)
    form = _settings_form(None, request.POST)
    if not form.is_valid():
        messages.error(request, _("期限の設定が正しくありません。"))
    else:
        try:
            services.configure_deadlines(contract, acting_user=request.user, **form.cleaned_data)
        except NotFound:
            raise
        except SekishoError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("報告期限の設定を変更しました。"))
    return HttpResponseRedirect(reverse("incidents:list", args=[contract.pk]))


@login_required
@require_http_methods(["GET", "POST"])
def incident_report(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "incident.report", clause=services.REPORT_CLAUSE)
    form = IncidentForm(request.POST or None, contract=contract)
    refusal: SekishoError | None = None
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.report_incident(
                contract, acting_user=request.user, data=form.data_for_service()
            )
        except NotFound:
            raise
        except SekishoError as exc:
            refusal = exc
        else:
            if incident.notified_at:
                messages.success(
                    request,
                    _("報告しました（事案番号 {ref}）。発注者担当へ通知しました。").format(ref=incident.ref),
                )
            else:
                messages.warning(
                    request,
                    _("報告しました（事案番号 {ref}）。発注者担当が未設定のため通知できていません。").format(
                        ref=incident.ref
                    ),
                )
            return HttpResponseRedirect(reverse("incidents:detail", args=[contract.pk, incident.pk]))
    status = refusal.status if refusal else (422 if form.is_bound and form.errors else 200)
    return render(
        request,
        "incidents/report.html",
        {"contract": contract, "form": form, "refusal": refusal, "prompt_days": _prompt_days(contract)},
        status=status,
    )


def _prompt_days(contract: Contract) -> int:
    current = services.contract_settings(contract)
    return current.prompt_report_business_days if current else deadlines.DEFAULT_PROMPT_BUSINESS_DAYS


# --- one incident ----------------------------------------------------------------------------------------------

# step (in the URL) -> (form class, the state it needs)
STEPS: dict[str, tuple[type[forms.Form] | None, str | None]] = {
    "notify-orderer": (None, IncidentState.REPORTED),
    "investigation": (NoteForm, IncidentState.ORDERER_NOTIFIED),
    "cause": (CauseForm, IncidentState.INVESTIGATING),
    "corrective-measures": (CorrectiveForm, IncidentState.CAUSE_IDENTIFIED),
    "prevention": (PreventionForm, IncidentState.CORRECTIVE),
    "close": (NoteForm, IncidentState.PREVENTION),
    "return": (ReturnForm, IncidentState.PREVENTION),
    "authority-report": (AuthorityReportForm, None),
    "facts": (ReviseForm, None),
}


def _detail_context(
    request: HttpRequest,
    contract: Contract,
    incident: Incident,
    *,
    bound: dict[str, forms.Form] | None = None,
    refusal: SekishoError | None = None,
) -> dict[str, Any]:
    user = request.user
    bound = bound or {}
    role = policy.require(user, "incident.view", incident)
    row = selectors.rows([incident])[0]
    state = incident.state
    investigator = incident.is_open and services.may_investigate(user, incident)
    is_orderer = role == Role.ORDERER
    steps: dict[str, forms.Form] = {}
    if investigator:
        for name in ("investigation", "cause", "corrective-measures", "prevention"):
            form_class, needed = STEPS[name]
            if state == needed and form_class is not None:
                steps[name] = bound.get(name) or form_class(prefix=name)
    if is_orderer and state == IncidentState.PREVENTION:
        steps["close"] = bound.get("close") or NoteForm(prefix="close")
        steps["return"] = bound.get("return") or ReturnForm(prefix="return")
    authority_form = None
    if (
        is_orderer
        and incident.triggers.applicable
        and (incident.prompt_reported_on is None or incident.final_reported_on is None)
    ):
        authority_form = bound.get("authority-report") or AuthorityReportForm(prefix="authority-report")
    revise_form = None
    if incident.is_open and services.may_investigate(user, incident, "incident.revise"):
        revise_form = bound.get("facts") or ReviseForm(
            initial=IncidentForm.initial_for(incident), contract=contract, prefix="facts"
        )
    position = WORKFLOW.index(IncidentState(state))
    return {
        "contract": contract,
        "incident": incident,
        "row": row,
        "today": row.today,
        "triggers": incident.triggers,
        "items": documents.content(incident, contract_settings=services.contract_settings(contract)).items,
        "workflow": [(s, s.label, i < position, i == position) for i, s in enumerate(WORKFLOW)],
        "steps": steps,
        "can_notify_orderer": investigator and state == IncidentState.REPORTED,
        "authority_form": authority_form,
        "revise_form": revise_form,
        "revise_open": "facts" in bound,
        "timeline": selectors.timeline(incident),
        "time_to_report": documents.duration_text(incident.time_to_report),
        "time_to_notify": documents.duration_text(incident.time_to_notify),
        "refusal": refusal,
        "personal_labels": _personal_labels(incident),
    }


def _personal_labels(incident: Incident) -> list[str]:
    from sekisho.ledger.models import PersonalCategory

    chosen = set(incident.personal_categories)
    return [str(label) for value, label in PersonalCategory.choices if value in chosen]


@login_required
@require_GET
def incident_detail(request: HttpRequest, contract_id: int, incident_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "incident.view")
    incident = selectors.incident(request.user, contract, incident_id)
    return render(request, "incidents/detail.html", _detail_context(request, contract, incident))


def _run_step(request: HttpRequest, incident: Incident, step: str, form: forms.Form | None) -> str:
    """Call the service of *step*; return the success message."""
    user = request.user
    data: dict[str, Any] = form.cleaned_data if form is not None else {}
    if step == "notify-orderer":
        services.notify_orderer(incident, acting_user=user)
        return str(_("発注者担当へ通知しました。"))
    if step == "investigation":
        services.start_investigation(incident, acting_user=user, note=data["note"])
        return str(_("調査を開始しました。"))
    if step == "cause":
        services.record_cause(incident, acting_user=user, **data)
        return str(_("原因を記録しました。"))
    if step == "corrective-measures":
        services.record_corrective_measures(incident, acting_user=user, **data)
        return str(_("是正・補完措置を記録しました。"))
    if step == "prevention":
        services.record_prevention(incident, acting_user=user, **data)
        return str(_("再発防止策を記録しました。発注者担当へ確認を依頼しました。"))
    if step == "close":
        services.close_incident(incident, acting_user=user, note=data["note"])
        return str(_("事案を完了としました。"))
    if step == "return":
        services.return_incident(incident, acting_user=user, instruction=data["instruction"])
        return str(_("事案を差し戻しました。"))
    if step == "authority-report":
        services.record_authority_report(incident, acting_user=user, **data)
        return str(_("個人情報保護委員会への報告を記録しました。"))
    assert isinstance(form, ReviseForm)
    services.revise_facts(incident, acting_user=user, data=form.data_for_service(), note=data.get("note", ""))
    return str(_("事実関係を更新しました。報告期限は更新後の内容で計算されます。"))


@login_required
@require_POST
def incident_step(request: HttpRequest, contract_id: int, incident_id: int, step: str) -> HttpResponse:
    contract = _contract(request, contract_id, "incident.view")
    incident = selectors.incident(request.user, contract, incident_id)
    if step not in STEPS:
        raise NotFound(_("見つかりません。"))
    form_class, _needed = STEPS[step]
    form: forms.Form | None = None
    if form_class is ReviseForm:
        form = ReviseForm(request.POST, contract=contract, prefix=step)
    elif form_class is not None:
        form = form_class(request.POST, prefix=step)
    refusal: SekishoError | None = None
    if form is None or form.is_valid():
        try:
            message = _run_step(request, incident, step, form)
        except NotFound:
            raise
        except SekishoError as exc:
            refusal = exc
        else:
            messages.success(request, message)
            return HttpResponseRedirect(reverse("incidents:detail", args=[contract.pk, incident.pk]))
    incident = selectors.incident(request.user, contract, incident_id)
    context = _detail_context(
        request, contract, incident, bound={step: form} if form else {}, refusal=refusal
    )
    status = refusal.status if refusal else 422
    return render(request, "incidents/detail.html", context, status=status)


@login_required
@require_GET
def incident_document(request: HttpRequest, contract_id: int, incident_id: int, fmt: str) -> HttpResponse:
    contract = _contract(request, contract_id, "incident.view")
    incident = selectors.incident(request.user, contract, incident_id)
    report = documents.content(incident, contract_settings=services.contract_settings(contract))
    if fmt == "pdf":
        body, content_type = documents.pdf(report), "application/pdf"
    else:
        body = documents.docx(report)
        content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="incident-{contract.pk}-{incident.ref}.{fmt}"'
    return response
