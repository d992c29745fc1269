"""Compliance (R3, R2.9, P11): the open findings, the state of every clause of the active profile, an
evaluation on demand, and the orderer's profile (its own wording of the regulation)."""

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from sekisho.compliance import selectors, services
from sekisho.compliance.models import Finding
from sekisho.compliance.profile import MAX_PROFILE_BYTES, Profile, active_profile

from .ledger import contract_for
from .schemas import BoundedLimitOffsetPagination, ErrorOut

router = Router(tags=["compliance"])
ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class FindingOut(Schema):
    id: int
    rule: str
    rule_title: str
    clause: str
    severity: str
    subject_type: str
    subject_id: str
    subject_label: str
    message: str
    evidence: dict[str, Any]
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    resolved_at: dt.datetime | None

    @staticmethod
    def resolve_rule_title(obj: Finding) -> str:
        return selectors.rule_title(obj.rule)


class FindingQuery(Schema):
    state: str = Field("open", pattern="^(open|resolved|all)$")
    clause: str = Field("", max_length=20)


class ClauseStateOut(Schema):
    id: str
    title_ja: str
    text_ja: str
    summary_en: str
    control_en: str
    state: str
    worst: str | None
    open_findings: int
    high: int
    medium: int
    low: int


class ClauseStatesOut(Schema):
    profile_key: str
    profile_name: str
    evaluated_at: dt.datetime | None
    clauses: list[ClauseStateOut]


class EvaluationOut(Schema):
    contract: int
    evaluated_at: dt.datetime
    opened: int
    resolved: int
    open: int
    open_by_severity: dict[str, int]
    training_coverage: float
    open_incidents: int


class ClauseOut(Schema):
    id: str
    title_ja: str
    text_ja: str
    summary_en: str
    control_en: str


class ProfileOut(Schema):
    key: str
    name_ja: str
    source_ja: str
    loaded: bool
    loaded_at: dt.datetime | None
    loaded_by: str | None
    clauses: list[ClauseOut]


class ProfileIn(Schema):
    content: str = Field(..., min_length=1, max_length=MAX_PROFILE_BYTES)


@router.get(
    "/{contract_id}/compliance/findings",
    response={200: list[FindingOut], **ERRORS},
    summary="指摘事項の一覧",
)
@paginate(BoundedLimitOffsetPagination)
def list_findings(request: HttpRequest, contract_id: int, filters: Query[FindingQuery]) -> QuerySet[Finding]:
    contract = contract_for(request, contract_id, "compliance.view")
    if filters.state == "open":
        findings = selectors.open_findings(contract)
    else:
        findings = selectors.findings_history(contract)
        if filters.state == "resolved":
            findings = findings.filter(resolved_at__isnull=False)
    if filters.clause:
        findings = selectors.bearing_on(findings, filters.clause)
    return findings


@router.get(
    "/{contract_id}/compliance/clauses",
    response={200: ClauseStatesOut, **ERRORS},
    summary="条項ごとの遵守状況",
)
def clause_states(request: HttpRequest, contract_id: int) -> dict[str, Any]:
    contract = contract_for(request, contract_id, "compliance.view")
    profile = active_profile(contract)
    return {
        "profile_key": profile.key,
        "profile_name": profile.name_ja,
        "evaluated_at": selectors.last_evaluated_at(contract),
        "clauses": [
            {
                "id": s.clause.id,
                "title_ja": s.clause.title_ja,
                "text_ja": s.clause.text_ja,
                "summary_en": s.clause.summary_en,
                "control_en": s.clause.control_en,
                "state": s.state,
                "worst": s.worst,
                "open_findings": s.total,
                "high": s.high,
                "medium": s.medium,
                "low": s.low,
            }
            for s in selectors.clause_states(contract, profile)
        ],
    }


@router.post(
    "/{contract_id}/compliance/evaluate",
    response={200: EvaluationOut, **ERRORS},
    summary="遵守状況の評価（今すぐ）",
)
def evaluate(request: HttpRequest, contract_id: int) -> dict[str, Any]:
    contract = contract_for(request, contract_id, "compliance.view")  # the service refuses, naming R3
    return services.evaluate_contract(contract, acting_user=request.user).as_dict()


def _profile_out(contract: Any, profile: Profile) -> dict[str, Any]:
    row = selectors.loaded_profiles(contract).first()
    return {
        "key": profile.key,
        "name_ja": profile.name_ja,
        "source_ja": profile.source_ja,
        "loaded": row is not None,
        "loaded_at": row.loaded_at if row else None,
        "loaded_by": row.loaded_by.get_username() if row else None,
        "clauses": [
            {
                "id": c.id,
                "title_ja": c.title_ja,
                "text_ja": c.text_ja,
                "summary_en": c.summary_en,
                "control_en": c.control_en,
            }
            for c in profile.clauses
        ],
    }


@router.get(
    "/{contract_id}/compliance/profile",
    response={200: ProfileOut, **ERRORS},
    summary="適用する規定（プロファイル）",
)
def get_profile(request: HttpRequest, contract_id: int) -> dict[str, Any]:
    contract = contract_for(request, contract_id, "compliance.view")
    return _profile_out(contract, active_profile(contract))


@router.post(
    "/{contract_id}/compliance/profile",
    response={201: ProfileOut, **ERRORS},
    summary="規定（プロファイル）の読込（発注者）",
)
def load_profile(request: HttpRequest, contract_id: int, payload: ProfileIn) -> Status[dict[str, Any]]:
    contract = contract_for(request, contract_id, "contract.view")  # the service refuses, naming R2.1
    services.load_profile(request.user, contract, payload.content)
    return Status(201, _profile_out(contract, active_profile(contract)))
