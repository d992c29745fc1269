"""Browser pages of compliance: the contract's clauses with their state and findings, trend charts and the
report downloads; the orderer's overview across its contracts; the profile page where the orderer loads its
own wording of the regulation. Reads go through the policy (outsiders 404, staff 403), changes through
``services``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sekisho.core import policy
from sekisho.core.errors import NotFound, SekishoError
from sekisho.core.models import Contract

from . import charts, documents, selectors, services
from .forms import ProfileForm
from .profile import active_profile, shipped_profile_text

PAGE_SIZE = 50


def _contract(request: HttpRequest, contract_id: int, action: str) -> tuple[Contract, str]:
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    role = policy.require(request.user, action, contract, clause="R3")
    return contract, role


def trend_charts(points: list[selectors.TrendPoint]) -> list[Any]:
    dates = [p.date for p in points]
    empty = _("まだ記録がありません。評価を実行すると日ごとに記録されます。")
    return [
        charts.line_chart(
            _("未解消の指摘事項"),
            dates,
            [
                charts.Series("total", _("合計"), [p.findings for p in points]),
                charts.Series("high", _("重大"), [p.high for p in points]),
                charts.Series("medium", _("中"), [p.medium for p in points]),
            ],
            empty_text=empty,
        ),
        charts.line_chart(
            _("対応中の事故"),
            dates,
            [charts.Series("incidents", _("対応中の事故"), [p.incidents for p in points])],
            empty_text=empty,
        ),
        charts.line_chart(
            _("研修受講率"),
            dates,
            [charts.Series("coverage", _("研修受講率"), [p.coverage for p in points])],
            y_max=100,
            unit="%",
            empty_text=empty,
        ),
    ]


@login_required
@require_GET
def contract_compliance(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "compliance.view")
    profile = active_profile(contract)
    states = selectors.clause_states(contract, profile)
    clause_id = request.GET.get("clause", "")
    if clause_id and clause_id not in profile.clause_ids:
        clause_id = ""
    findings = (
        selectors.findings_for_clause(contract, clause_id) if clause_id else selectors.open_findings(contract)
    )
    page = Paginator(findings, PAGE_SIZE).get_page(request.GET.get("page"))
    for finding in page.object_list:
        finding.rule_title = selectors.rule_title(finding.rule)
    recent_resolved = list(
        selectors.findings_history(contract)
        .filter(resolved_at__isnull=False)
        .order_by("-resolved_at", "-pk")[:10]
    )
    return render(
        request,
        "compliance/contract.html",
        {
            "contract": contract,
            "profile": profile,
            "states": states,
            "open_clauses": sum(1 for s in states if s.state == "open"),
            "open_total": page.paginator.count if not clause_id else None,
            "selected_clause": profile.clause(clause_id) if clause_id else None,
            "page": page,
            "recent_resolved": recent_resolved,
            "charts": trend_charts(selectors.trend([contract.pk])),
            "evaluated_at": selectors.last_evaluated_at(contract),
            "can_evaluate": policy.can(request.user, "compliance.evaluate", contract),
            "can_profile": policy.can(request.user, "compliance.profile", contract),
        },
    )


@login_required
@require_POST
def evaluate(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "compliance.evaluate")
    try:
        result = services.evaluate_contract(contract, acting_user=request.user)
    except NotFound:
        raise
    except SekishoError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("評価しました。未解消の指摘 {open}件（新規 {opened}件、解消 {resolved}件）。").format(
                open=result.open_count, opened=len(result.opened), resolved=len(result.resolved)
            ),
        )
    return HttpResponseRedirect(reverse("compliance:contract", args=[contract.pk]))


@login_required
@require_GET
def report(request: HttpRequest, contract_id: int, fmt: str) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "compliance.view")
    data = documents.content(contract)
    if fmt == "pdf":
        body, content_type = documents.pdf(data), "application/pdf"
    else:
        body = documents.docx(data)
        content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="compliance-{contract.pk}.{fmt}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def profile_page(request: HttpRequest, contract_id: int) -> HttpResponse:
    action = "compliance.profile" if request.method == "POST" else "compliance.view"
    contract, _role = _contract(request, contract_id, action)
    form = ProfileForm(request.POST, request.FILES) if request.method == "POST" else ProfileForm()
    refusal: SekishoError | None = None
    if request.method == "POST" and form.is_valid():
        shipped = form.cleaned_data.get("shipped")
        text = shipped_profile_text(shipped) if shipped else form.cleaned_data["text"]
        try:
            loaded = services.load_profile(request.user, contract, text)
        except NotFound:
            raise
        except SekishoError as exc:
            refusal = exc
        else:
            messages.success(
                request, _("規定プロファイル「{name}」を読み込みました。").format(name=loaded.name)
            )
            return HttpResponseRedirect(reverse("compliance:profile", args=[contract.pk]))
    status = refusal.status if refusal else (422 if form.is_bound and form.errors else 200)
    return render(
        request,
        "compliance/profile.html",
        {
            "contract": contract,
            "profile": active_profile(contract),
            "loaded": list(selectors.loaded_profiles(contract)[:20]),
            "form": form,
            "refusal": refusal,
            "can_profile": policy.can(request.user, "compliance.profile", contract),
        },
        status=status,
    )


@login_required
@require_GET
def orderer_overview(request: HttpRequest) -> HttpResponse:
    """Every contract where the user is an orderer officer, across contractors: findings, incidents, training."""
    rows = selectors.orderer_overview(request.user)
    ids = [row.contract.pk for row in rows]
    return render(
        request,
        "compliance/orderer.html",
        {
            "rows": rows,
            "is_orderer": bool(rows),
            "charts": trend_charts(selectors.trend(ids)) if ids else [],
            "totals": {
                "high": sum(r.high for r in rows),
                "medium": sum(r.medium for r in rows),
                "low": sum(r.low for r in rows),
                "incidents": sum(r.open_incidents for r in rows),
            },
        },
    )
