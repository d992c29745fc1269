"""Browser views of the people pages: roster, training and acknowledgement, pledge, subcontractors. They read
through the policy and change state only through the services; a refusal is shown with its clause."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sekisho.core import policy
from sekisho.core.errors import Invalid, NotFound, SekishoError
from sekisho.core.models import CONTRACTOR_ROLES, Contract, Membership, Organisation, Role, User

from . import documents, forms, gates, pledges, reports, selectors, services, subcontracts, texts
from .models import (
    Appointment,
    AppointmentKind,
    Pledge,
    Programme,
    RosterEntry,
    StaffCategory,
    Subcontract,
)

PDF = documents.PDF_CONTENT_TYPE
DOCX = documents.DOCX_CONTENT_TYPE


def _contract(request: HttpRequest, contract_id: int, action: str) -> tuple[Contract, str]:
    contract = policy.get_visible(request.user, Contract, pk=contract_id)
    return contract, policy.require(request.user, action, contract)


def _tabs(request: HttpRequest, contract: Contract) -> list[tuple[str, str, str]]:
    """(key, label, url) of the people pages this user may open."""
    tabs = [("training", _("研修"), reverse("people:training", args=[contract.pk]))]
    if policy.can(request.user, "people.view", contract):
        tabs.insert(0, ("roster", _("社員等名簿"), reverse("people:roster", args=[contract.pk])))
    if policy.can(request.user, "pledge.view", contract):
        tabs.append(("pledge", _("責任者・誓約書"), reverse("people:pledge", args=[contract.pk])))
    tabs.append(("subcontracts", _("再委託先"), reverse("people:subcontracts", args=[contract.pk])))
    return tabs


def _page(request: HttpRequest, template: str, contract: Contract, tab: str, **context: Any) -> HttpResponse:
    return render(
        request,
        f"people/{template}",
        {"contract": contract, "tab": tab, "tabs": _tabs(request, contract), **context},
    )


def _refused(request: HttpRequest, exc: SekishoError) -> None:
    if isinstance(exc, NotFound):
        raise exc
    messages.error(request, str(exc))


def _form_errors(request: HttpRequest, form: Any) -> None:
    messages.error(request, _("入力内容が正しくありません。") + " " + form.errors.as_text())


def _act(request: HttpRequest, target: str, step: Callable[[], Any], done: str) -> HttpResponseRedirect:
    """Run a service step; show its refusal (with the clause) or *done*, and go to *target*."""
    try:
        step()
    except SekishoError as exc:
        _refused(request, exc)
    else:
        messages.success(request, done)
    return HttpResponseRedirect(target)


def _safe_next(request: HttpRequest, value: str) -> str | None:
    if value and url_has_allowed_host_and_scheme(value, {request.get_host()}, request.is_secure()):
        return value
    return None


def _download(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- roster -------------------------------------------------------------------------------------------------


def _organisations(contract: Contract) -> list[tuple[int, str]]:
    subs = Organisation.objects.filter(kind=Organisation.Kind.SUBCONTRACTOR, memberships__contract=contract)
    subs = subs | Organisation.objects.filter(
        pk__in=Subcontract.objects.filter(contract=contract).values("organisation")
    )
    return [(contract.contractor.pk, contract.contractor.name)] + [
        (o.pk, o.name) for o in subs.distinct().order_by("name")
    ]


def _unlisted_users(contract: Contract) -> list[tuple[str, str]]:
    listed = RosterEntry.objects.filter(contract=contract, user__isnull=False).values("user_id")
    members = (
        Membership.objects.current()
        .filter(contract=contract, role__in=CONTRACTOR_ROLES)
        .exclude(user_id__in=listed)
        .select_related("user")
        .order_by("user__username")
    )
    return [(m.user.username, f"{m.user} ({m.user.username})") for m in members]


@login_required
@require_GET
def index(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "training.view")
    first = _tabs(request, contract)[0]
    return HttpResponseRedirect(first[2])


@login_required
@require_GET
def roster(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "people.view")
    entries = list(selectors.roster(contract))
    _programmes, people = selectors.training_matrix(contract, entries=entries)
    can_manage = role == Role.MANAGER
    form = None
    if can_manage:
        form = forms.RosterForm(
            organisations=_organisations(contract),
            users=_unlisted_users(contract),
            initial={"started_on": timezone.localdate(), "category": StaffCategory.EMPLOYEE},
        )
    return _page(
        request,
        "roster.html",
        contract,
        "roster",
        people=people,
        now=timezone.now(),
        form=form,
        categories=StaffCategory.choices,
    )


@login_required
@require_POST
def roster_add(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "people.manage")
    form = forms.RosterForm(
        request.POST, organisations=_organisations(contract), users=_unlisted_users(contract)
    )
    target = reverse("people:roster", args=[contract.pk])
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(target)
    data = form.cleaned_data
    organisation = Organisation.objects.get(pk=data["organisation"])
    user = User.objects.filter(username=data["username"]).first() if data["username"] else None
    return _act(
        request,
        target,
        lambda: services.add_to_roster(
            contract,
            acting_user=request.user,
            organisation=organisation,
            user=user,
            name=data["name"],
            name_kana=data["name_kana"],
            category=data["category"],
            department=data["department"],
            position=data["position"],
            contact=data["contact"],
            started_on=data["started_on"],
        ),
        _("社員等名簿に登録しました。"),
    )


def _entry(request: HttpRequest, contract: Contract, entry_id: int) -> RosterEntry:
    return policy.get_visible(request.user, RosterEntry, pk=entry_id, contract=contract)


@login_required
@require_GET
def entry_detail(request: HttpRequest, contract_id: int, entry_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "people.view")
    entry = _entry(request, contract, entry_id)
    _programmes, people = selectors.training_matrix(contract, entries=[entry])
    return _page(
        request,
        "entry.html",
        contract,
        "roster",
        entry=entry,
        person=people[0],
        now=timezone.now(),
        can_manage=role == Role.MANAGER,
        leaving_form=forms.LeavingForm(
            initial={"left_at": timezone.localtime().replace(second=0, microsecond=0)}
        ),
        exit_form=forms.TypedNameForm(),
        obligations=texts.EXIT_OBLIGATIONS_TEXT,
    )


@login_required
@require_POST
def entry_leave(request: HttpRequest, contract_id: int, entry_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "people.manage")
    entry = _entry(request, contract, entry_id)
    form = forms.LeavingForm(request.POST)
    target = reverse("people:entry", args=[contract.pk, entry.pk])
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(target)
    data = form.cleaned_data
    return _act(
        request,
        target,
        lambda: services.record_leaving(
            entry,
            acting_user=request.user,
            left_at=data["left_at"],
            kind=data["kind"],
            note=data["note"],
            exit_ack_name=data["exit_ack_name"],
        ),
        _("離任（退職）を記録しました。その日時に行政情報へのアクセスは停止されます。"),
    )


@login_required
@require_POST
def entry_exit_ack(request: HttpRequest, contract_id: int, entry_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "people.manage")
    entry = _entry(request, contract, entry_id)
    form = forms.TypedNameForm(request.POST)
    target = reverse("people:entry", args=[contract.pk, entry.pk])
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(target)
    return _act(
        request,
        target,
        lambda: services.acknowledge_exit_obligations(
            entry, acting_user=request.user, typed_name=form.cleaned_data["typed_name"]
        ),
        _("退職後も続く義務の確認を記録しました。"),
    )


@login_required
@require_GET
def leaver_letter(request: HttpRequest, contract_id: int, entry_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "people.view")
    entry = _entry(request, contract, entry_id)
    if entry.left_at is None:
        raise Invalid(_("離任（退職）が記録されていません。"), code="not_leaving", clause="R2.4.2")
    manager = gates.current_appointments(contract).get(AppointmentKind.INFO_MANAGER)
    body = documents.leaver_letter_pdf(entry, manager_name=manager.entry.name if manager else "")
    return _download(body, PDF, f"leaver-letter-{contract.pk}-{entry.pk}.pdf")


@login_required
@require_GET
def roster_xlsx(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "people.report")
    body = reports.export(contract, acting_user=request.user, kind="roster")
    return _download(body, reports.XLSX_CONTENT_TYPE, f"roster-{contract.pk}.xlsx")


@login_required
@require_GET
def training_xlsx(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "people.report")
    body = reports.export(contract, acting_user=request.user, kind="training")
    return _download(body, reports.XLSX_CONTENT_TYPE, f"training-{contract.pk}.xlsx")


# --- training -------------------------------------------------------------------------------------------------


@login_required
@require_GET
def training(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "training.view")
    status = gates.clearance(request.user, contract, role)
    mine = selectors.my_acknowledgements(request.user, contract)
    programmes = list(selectors.programmes(contract))
    missing = {p.id for p in status.missing}
    rows = [
        {
            "programme": p,
            "required": role in p.required_roles,
            "missing": p.pk in missing,
            "ack": mine.get(p.pk),
        }
        for p in programmes
    ]
    return _page(
        request,
        "training.html",
        contract,
        "training",
        role=role,
        status=status,
        rows=rows,
        next=_safe_next(request, request.GET.get("next", "")) or "",
        can_manage=role == Role.MANAGER,
        can_view_people=policy.can(request.user, "people.view", contract),
        programme_form=forms.ProgrammeForm(
            initial={
                "required_roles": [Role.MANAGER, Role.STAFF],
                "recurrence_months": 12,
                "reminder_days": 30,
            }
        ),
    )


def _programme(request: HttpRequest, contract: Contract, programme_id: int) -> Programme:
    return policy.get_visible(request.user, Programme, pk=programme_id, contract=contract)


@login_required
@require_GET
def programme_detail(request: HttpRequest, contract_id: int, programme_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "training.view")
    programme = _programme(request, contract, programme_id)
    version = programme.current_version
    entry = services.roster_entry_of(request.user, contract)
    ack = selectors.my_acknowledgements(request.user, contract).get(programme.pk)
    current = ack is not None and ack.is_current()
    next_url = _safe_next(request, request.GET.get("next", "")) or ""
    context: dict[str, Any] = {
        "programme": programme,
        "version": version,
        "ack": ack,
        "current": current,
        "expected_name": entry.name if entry else (request.user.display_name or request.user.username),  # type: ignore[union-attr]
        "form": forms.AcknowledgeForm(initial={"version": version.pk if version else 0, "next": next_url}),
        "can_manage": role == Role.MANAGER,
    }
    if role == Role.MANAGER:
        context["version_form"] = forms.VersionForm(initial={"content": version.content if version else ""})
        context["configure_form"] = forms.ConfigureForm(
            initial={
                "required_roles": programme.required_roles,
                "recurrence_months": programme.recurrence_months,
                "reminder_days": programme.reminder_days,
                "active": programme.active,
            }
        )
        context["session_form"] = forms.SessionForm(
            initial={"held_at": timezone.localtime().replace(second=0, microsecond=0)}
        )
        context["attendees"] = [e for e in selectors.roster(contract) if not e.has_left()]
        context["versions"] = list(programme.versions.order_by("-number").select_related("published_by"))
    return _page(request, "programme.html", contract, "training", **context)


@login_required
@require_POST
def programme_acknowledge(request: HttpRequest, contract_id: int, programme_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "training.acknowledge")
    programme = _programme(request, contract, programme_id)
    form = forms.AcknowledgeForm(request.POST)
    next_url = _safe_next(request, request.POST.get("next", ""))
    back = reverse("people:programme", args=[contract.pk, programme.pk])
    if next_url:
        back += "?next=" + next_url
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(back)
    try:
        services.acknowledge(
            programme,
            acting_user=request.user,
            typed_name=form.cleaned_data["typed_name"],
            version_id=form.cleaned_data["version"],
        )
    except SekishoError as exc:
        _refused(request, exc)
        return HttpResponseRedirect(back)
    messages.success(request, _("研修の内容を確認したことを記録しました。"))
    status = gates.clearance(request.user, contract, role, detail=False)
    if status.cleared and next_url:
        return HttpResponseRedirect(next_url)
    return HttpResponseRedirect(
        reverse("people:training", args=[contract.pk]) + (f"?next={next_url}" if next_url else "")
    )


@login_required
@require_POST
def programme_create(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "training.manage")
    form = forms.ProgrammeForm(request.POST)
    target = reverse("people:training", args=[contract.pk])
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(target)
    d = form.cleaned_data
    return _act(
        request,
        target,
        lambda: services.create_programme(
            contract,
            acting_user=request.user,
            code=d["code"],
            title=d["title"],
            content=d["content"],
            required_roles=d["required_roles"],
            recurrence_months=d["recurrence_months"],
            reminder_days=d["reminder_days"],
        ),
        _("研修を作成しました。"),
    )


@login_required
@require_POST
def programme_version(request: HttpRequest, contract_id: int, programme_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "training.manage")
    programme = _programme(request, contract, programme_id)
    form = forms.VersionForm(request.POST)
    target = reverse("people:programme", args=[contract.pk, programme.pk])
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(target)
    return _act(
        request,
        target,
        lambda: services.publish_version(
            programme, acting_user=request.user, content=form.cleaned_data["content"]
        ),
        _("新しい版を公開しました。全員が改めて確認するまで、行政情報には接することができません。"),
    )


@login_required
@require_POST
def programme_configure(request: HttpRequest, contract_id: int, programme_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "training.manage")
    programme = _programme(request, contract, programme_id)
    form = forms.ConfigureForm(request.POST)
    target = reverse("people:programme", args=[contract.pk, programme.pk])
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(target)
    d = form.cleaned_data
    return _act(
        request,
        target,
        lambda: services.configure_programme(
            programme,
            acting_user=request.user,
            required_roles=d["required_roles"],
            recurrence_months=d["recurrence_months"],
            reminder_days=d["reminder_days"],
            active=d["active"],
        ),
        _("研修の設定を変更しました。"),
    )


@login_required
@require_POST
def programme_session(request: HttpRequest, contract_id: int, programme_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "people.manage")
    programme = _programme(request, contract, programme_id)
    form = forms.SessionForm(request.POST)
    target = reverse("people:programme", args=[contract.pk, programme.pk])
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(target)
    entries = {str(e.pk): e for e in RosterEntry.objects.filter(contract=contract)}
    attendees = [
        (entries[key.removeprefix("attendee_")], value)
        for key in request.POST
        if key.startswith("attendee_")
        and key.removeprefix("attendee_") in entries
        and (value := request.POST.get(key, "")).strip()
    ]
    d = form.cleaned_data
    return _act(
        request,
        target,
        lambda: services.record_session(
            programme,
            acting_user=request.user,
            held_at=d["held_at"],
            method=d["method"],
            instructor=d["instructor"],
            place=d["place"],
            note=d["note"],
            attendees=attendees,
        ),
        _("研修の実施と受講者の署名を記録しました。"),
    )


@login_required
@require_GET
def training_status(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "people.view")
    programmes, people = selectors.training_matrix(contract)
    return _page(request, "training_status.html", contract, "training", programmes=programmes, people=people)


# --- appointments and pledge ----------------------------------------------------------------------------------


def _appointable(contract: Contract) -> list[tuple[int, str]]:
    entries = (
        RosterEntry.objects.filter(contract=contract, organisation=contract.contractor)
        .exclude(left_at__lte=timezone.now())
        .order_by("id")
    )
    return [(e.pk, f"{e.name}（{e.department or '—'}）") for e in entries]


@login_required
@require_GET
def pledge(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "pledge.view")
    appointments = gates.current_appointments(contract)
    pledges_ = list(Pledge.objects.filter(contract=contract).select_related("signed_by").order_by("-version"))
    for p in pledges_:
        p.verified = pledges.verify_pledge(p)  # type: ignore[attr-defined]
    current = next((p for p in pledges_ if p.is_current), None)
    history = list(
        Appointment.objects.filter(contract=contract)
        .select_related("entry", "appointed_by")
        .order_by("-appointed_at")
    )
    entry = services.roster_entry_of(request.user, contract)
    last = pledges_[0].content if pledges_ else {}
    return _page(
        request,
        "pledge.html",
        contract,
        "pledge",
        appointments=[(kind, label, appointments.get(kind)) for kind, label in AppointmentKind.choices],
        problems=gates.readiness_problems(contract),
        pledges=pledges_,
        current=current,
        history=history,
        can_manage=role == Role.MANAGER,
        appoint_form=forms.AppointForm(entries=_appointable(contract)),
        sign_form=forms.PledgeForm(
            initial={
                "addressee": last.get("addressee", ""),
                "representative": (last.get("contractor") or {}).get("representative", ""),
                "seal_box": last.get("seal_box", False),
            }
        ),
        expected_name=entry.name if entry else (request.user.display_name or request.user.username),  # type: ignore[union-attr]
    )


@login_required
@require_POST
def pledge_appoint(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "appointment.manage")
    form = forms.AppointForm(request.POST, entries=_appointable(contract))
    target = reverse("people:pledge", args=[contract.pk])
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(target)
    entry = RosterEntry.objects.get(pk=form.cleaned_data["entry"], contract=contract)
    return _act(
        request,
        target,
        lambda: pledges.appoint(
            contract, acting_user=request.user, kind=form.cleaned_data["kind"], entry=entry
        ),
        _("責任者を選任しました。"),
    )


@login_required
@require_POST
def pledge_sign(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "pledge.sign")
    form = forms.PledgeForm(request.POST)
    target = reverse("people:pledge", args=[contract.pk])
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(target)
    d = form.cleaned_data
    return _act(
        request,
        target,
        lambda: pledges.sign_pledge(
            contract,
            acting_user=request.user,
            addressee=d["addressee"],
            representative=d["representative"],
            typed_name=d["typed_name"],
            seal_box=d["seal_box"],
        ),
        _("誓約書（様式1）に署名しました。"),
    )


@login_required
@require_GET
def pledge_preview(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "pledge.view")
    content = pledges.pledge_content(
        contract,
        addressee=request.GET.get("addressee", "") or contract.orderer.name,
        representative=request.GET.get("representative", ""),
        seal_box=request.GET.get("seal_box") == "on",
    )
    return _download(
        documents.pledge_pdf(documents.draft_data(content)),
        PDF,
        documents.pledge_filename(contract, None, "pdf"),
    )


def _pledge(request: HttpRequest, contract: Contract, version: int) -> Pledge:
    return policy.get_visible(request.user, Pledge, contract=contract, version=version)


@login_required
@require_GET
def pledge_pdf(request: HttpRequest, contract_id: int, version: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "pledge.view")
    p = _pledge(request, contract, version)
    return _download(
        documents.pledge_pdf(documents.pledge_data(p)), PDF, documents.pledge_filename(contract, p, "pdf")
    )


@login_required
@require_GET
def pledge_docx(request: HttpRequest, contract_id: int, version: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "pledge.view")
    p = _pledge(request, contract, version)
    return _download(
        documents.pledge_docx(documents.pledge_data(p)), DOCX, documents.pledge_filename(contract, p, "docx")
    )


# --- subcontractors -------------------------------------------------------------------------------------------


def _subcontract(request: HttpRequest, contract: Contract, sub_id: int) -> Subcontract:
    return policy.get_visible(request.user, Subcontract, pk=sub_id, contract=contract)


@login_required
@require_GET
def subcontract_list(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "subcontract.view")
    organisations = (
        [(o.pk, o.name) for o in selectors.subcontractor_choices(contract)] if role == Role.MANAGER else []
    )
    return _page(
        request,
        "subcontracts.html",
        contract,
        "subcontracts",
        subs=list(selectors.subcontracts(contract)),
        today=timezone.localdate(),
        can_manage=role == Role.MANAGER,
        form=forms.SubcontractForm(
            organisations=organisations,
            initial={
                "valid_from": max(timezone.localdate(), contract.period_start),
                "valid_until": contract.period_end,
            },
        ),
    )


@login_required
@require_POST
def subcontract_request(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "subcontract.manage")
    choices = selectors.subcontractor_choices(contract)
    form = forms.SubcontractForm(request.POST, organisations=[(o.pk, o.name) for o in choices])
    target = reverse("people:subcontracts", args=[contract.pk])
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(target)
    d = form.cleaned_data
    return _act(
        request,
        target,
        lambda: subcontracts.request_subcontract(
            contract,
            acting_user=request.user,
            organisation=choices.get(pk=d["organisation"]) if d["organisation"] is not None else None,
            new_organisation=d["new_organisation"],
            scope=d["scope"],
            responsible_name=d["responsible_name"],
            responsible_title=d["responsible_title"],
            reason=d["reason"],
            valid_from=d["valid_from"],
            valid_until=d["valid_until"],
            personal_info=d["personal_info"],
        ),
        _("再委託の承諾を発注者に申請しました。"),
    )


@login_required
@require_GET
def subcontract_detail(request: HttpRequest, contract_id: int, sub_id: int) -> HttpResponse:
    contract, role = _contract(request, contract_id, "subcontract.view")
    sub = _subcontract(request, contract, sub_id)
    own = (
        Membership.objects.current()
        .filter(contract=contract, user_id=getattr(request.user, "pk", 0), organisation=sub.organisation)
        .exists()
    )
    return _page(
        request,
        "subcontract.html",
        contract,
        "subcontracts",
        sub=sub,
        today=timezone.localdate(),
        text=texts.FLOWDOWN_TEXT,
        text_sha256=texts.sha256_text(texts.FLOWDOWN_TEXT),
        may_acknowledge=role == Role.MANAGER or (own and role == Role.STAFF),
        on_behalf=role == Role.MANAGER,
        can_manage=role == Role.MANAGER,
        form=forms.TypedNameForm(),
        consent_form=forms.PersonalInfoConsentForm(
            initial={
                "valid_from": max(timezone.localdate(), contract.period_start),
                "valid_until": contract.period_end,
            }
        ),
        permit_in_force=gates.permit_in_force(sub.permit),
        pi_in_force=gates.permit_in_force(sub.pi_permit),
    )


@login_required
@require_POST
def subcontract_flowdown(request: HttpRequest, contract_id: int, sub_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "subcontract.flowdown")
    sub = _subcontract(request, contract, sub_id)
    form = forms.TypedNameForm(request.POST)
    target = reverse("people:subcontract", args=[contract.pk, sub.pk])
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(target)
    return _act(
        request,
        target,
        lambda: subcontracts.acknowledge_flowdown(
            sub, acting_user=request.user, typed_name=form.cleaned_data["typed_name"]
        ),
        _("取扱規定の遵守（再委託先への周知）の確認を記録しました。"),
    )


@login_required
@require_POST
def subcontract_personal_info(request: HttpRequest, contract_id: int, sub_id: int) -> HttpResponse:
    contract, _role = _contract(request, contract_id, "subcontract.manage")
    sub = _subcontract(request, contract, sub_id)
    form = forms.PersonalInfoConsentForm(request.POST)
    target = reverse("people:subcontract", args=[contract.pk, sub.pk])
    if not form.is_valid():
        _form_errors(request, form)
        return HttpResponseRedirect(target)
    d = form.cleaned_data
    return _act(
        request,
        target,
        lambda: subcontracts.request_personal_info_consent(
            sub,
            acting_user=request.user,
            reason=d["reason"],
            valid_from=d["valid_from"],
            valid_until=d["valid_until"],
        ),
        _("個人情報の取扱いの承諾を発注者に申請しました。"),
    )
