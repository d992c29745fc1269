"""Browser pages of the 行政情報管理台帳: the list, one asset with its lineage, registering and importing.

Reads go through the access policy (an outsider gets 404 from ``policy.get_visible``), changes through
``services``; a refusal is shown with the service's message and clause, and the form keeps what was typed.
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
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from sekisho.audit.models import AuditEvent
from sekisho.core import policy
from sekisho.core.errors import Invalid, NotFound, SekishoError
from sekisho.core.models import Contract
from sekisho.permits import selectors as permit_selectors

from . import selectors, services
from .forms import PAGE_SIZE, AssetForm, ImportForm, LedgerFilterForm
from .models import Asset, AssetState, PersonalCategory
from .uploads import InMemoryCappedUpload

COPYABLE_STATES = (AssetState.HELD, AssetState.RETAINED)
# A file with a hundred thousand bad rows must not become a page of a hundred thousand table rows.
MAX_SHOWN_ROW_ERRORS = 1000


def _contract(request: HttpRequest, contract_id: int, action: str) -> Contract:
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    policy.require(request.user, action, contract)
    return contract


def _is_htmx(request: HttpRequest) -> bool:
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


@login_required
def asset_list(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "asset.view")
    filter_form = LedgerFilterForm(request.GET or None)
    assets = selectors.ledger(request.user, contract, filter_form.filters())
    page = Paginator(assets, PAGE_SIZE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {"contract": contract, "filter_form": filter_form, "page": page}
    if not _is_htmx(request):
        context.update(
            can_register=policy.can(request.user, "asset.register", contract),
            can_import=policy.can(request.user, "asset.import", contract),
            can_export=policy.can(request.user, "asset.export", contract),
            import_form=ImportForm(),
        )
    return render(request, "ledger/asset_list.html", context)


def _asset(request: HttpRequest, contract: Contract, asset_id: int) -> Asset:
    asset = (
        policy.visible(request.user, Asset)
        .select_related("custodian", "parent", "permit", "created_by")
        .filter(pk=asset_id, contract=contract)
        .first()
    )
    if asset is None:
        raise NotFound(_("見つかりません。"))
    # Checked on the asset itself: personal information needs its own consent for subcontractor staff (P8).
    policy.require(request.user, "asset.view", asset)
    return asset


@login_required
def asset_detail(request: HttpRequest, contract_id: int, asset_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "asset.view")
    asset = _asset(request, contract, asset_id)
    can_see_history = policy.can(request.user, "audit.view", contract)
    history = (
        AuditEvent.objects.filter(
            contract=contract, object_type="ledger.asset", object_id=str(asset.pk)
        ).order_by("-index")[:100]
        if can_see_history
        else []
    )
    copyable = asset.state in COPYABLE_STATES
    return render(
        request,
        "ledger/asset_detail.html",
        {
            "contract": contract,
            "asset": asset,
            "lineage": selectors.lineage(asset),
            "permits": list(permit_selectors.naming_asset(request.user, asset)),
            "can_see_history": can_see_history,
            "history": history,
            "can_request": copyable and policy.can(request.user, "permit.request", contract),
            "can_register": copyable and policy.can(request.user, "asset.register", contract),
            "copy_clause": services.copy_clause(asset),
            "personal_labels": [
                PersonalCategory(c).label for c in asset.personal_categories if c in PersonalCategory.values
            ],
        },
    )


def _preset_parent(request: HttpRequest, contract: Contract) -> Asset | None:
    ref = request.GET.get("parent", "").strip()
    if not ref:
        return None
    return policy.visible(request.user, Asset).filter(contract=contract, ref__iexact=ref).first()


@login_required
@require_http_methods(["GET", "POST"])
def asset_register(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "asset.register")
    preset = _preset_parent(request, contract) if request.method == "GET" else None
    form = AssetForm(
        request.POST or None,
        contract=contract,
        user=request.user,
        initial=AssetForm.initial_for(contract, request.user, preset),
    )
    refusal: SekishoError | None = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                asset = services.register_asset(contract, acting_user=request.user, data=form.asset_data())
            except NotFound:
                raise
            except SekishoError as exc:
                refusal, status = exc, exc.status
                if isinstance(exc, Invalid):
                    form.add_service_errors(getattr(exc, "field_errors", []))
            else:
                messages.success(
                    request,
                    _("台帳に登録しました（台帳番号 {ref}）。").format(ref=asset.ref),
                )
                return HttpResponseRedirect(reverse("ledger:detail", args=[contract.pk, asset.pk]))
        else:
            status = 422
    parent = form.parent_asset if form.is_bound else preset
    request_url = ""
    if (
        refusal is not None
        and refusal.code == "copy_not_permitted"
        and parent is not None
        and policy.can(request.user, "permit.request", contract)
    ):
        request_url = reverse("permits:request", args=[contract.pk]) + f"?kind=copy&asset={parent.pk}"
    return render(
        request,
        "ledger/asset_form.html",
        {
            "contract": contract,
            "form": form,
            "parent": parent,
            "refusal": refusal,
            "request_url": request_url,
        },
        status=status,
    )


def _load_importer() -> Any:
    """The spreadsheet importer, or None while the deployment has none (the page then says so)."""
    try:
        from sekisho.ledger import importer
    except ModuleNotFoundError as exc:
        if exc.name != "sekisho.ledger.importer":
            raise
        return None
    return importer


def _imported_count(result: Any) -> int | None:
    """How many rows an import entered: ``ImportResult.count``, or the length of what it returned."""
    count = getattr(result, "count", None)
    if isinstance(count, int):
        return count
    try:
        return len(result)
    except TypeError:
        return None


@csrf_exempt  # only to install the upload handler first: _asset_import checks CSRF itself
@login_required
@require_POST
def asset_import(request: HttpRequest, contract_id: int) -> HttpResponse:
    """Take a filled-in ledger (Excel or CSV). Either every row is entered, or none and each problem is listed
    with its row, column and clause. The file stays in memory, never in a temporary file on disk."""
    request.upload_handlers = [InMemoryCappedUpload(request)]
    return _asset_import(request, contract_id)


@csrf_protect
def _asset_import(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id, "asset.import")
    form = ImportForm(request.POST, request.FILES)
    importer = _load_importer()
    if importer is None:
        messages.error(request, _("Excel・CSVからの取込は、このシステムではまだ利用できません。"))
        return HttpResponseRedirect(reverse("ledger:list", args=[contract.pk]))
    if not form.is_valid():
        return render(
            request,
            "ledger/import_result.html",
            {"contract": contract, "form": form, "refusal": None},
            status=422,
        )
    upload = form.cleaned_data["file"]
    try:
        result = importer.import_assets(
            contract, acting_user=request.user, filename=upload.name or "", stream=upload
        )
    except NotFound:
        raise
    except SekishoError as exc:
        row_errors = list(getattr(exc, "row_errors", None) or [])
        return render(
            request,
            "ledger/import_result.html",
            {
                "contract": contract,
                "form": ImportForm(),
                "refusal": exc,
                "row_errors": row_errors[:MAX_SHOWN_ROW_ERRORS],
                "row_error_total": len(row_errors),
                "filename": upload.name,
            },
            status=exc.status,
        )
    count = _imported_count(result)
    if count is None:
        messages.success(request, _("「{name}」を取り込みました。").format(name=upload.name))
    else:
        messages.success(
            request, _("「{name}」から{count}件を台帳に登録しました。").format(name=upload.name, count=count)
        )
    return HttpResponseRedirect(reverse("ledger:list", args=[contract.pk]))
