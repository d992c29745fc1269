"""THE table: what each persona gets from every API operation and every page.

API rows are keyed by (method, path template) as in /api/v1/openapi.json; UI rows by URL name. A route that
exists without a row here fails ``tests/matrix``, and so does a row whose route is gone. To write a row for a
new route, run ``pytest tests/matrix/observe.py -s -k <part of its name>``: it prints what every persona gets
now; check each figure against the policy (core/policy.py ACTIONS) before copying it here.

Rules that hold for every row and need no column (checked by the matrix itself):
- a route that names an object of a contract (a path parameter with a factory that makes objects) gives an
  outsider — a member of another contract — 404, and the API's 404 is the plain ``not_found`` body;
- an object of another contract put into such a route gives every member 404 (no cross-contract ids);
- no response to an outsider or anonymous caller contains the main contract's number, title or marker, and
  no response to a member contains the other contract's;
- no response is a 5xx; an API error is ``{"error", "clause", "message"}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .objects import Objects
    from .runner import Outcome

MEMBERS = ("orderer", "manager", "staff", "sub_staff", "auditor")
CONTRACTOR = ("manager", "staff", "sub_staff")
CLOSEOUT_READERS = ("orderer", "manager", "auditor")  # closeout.view, closeout.certificate, plan.view
OK, CREATED, FOUND = 200, 201, 302
BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, NOT_ALLOWED, CONFLICT, INVALID = (
    400,
    401,
    403,
    404,
    405,
    409,
    422,
)


@dataclass(frozen=True)
class AnyOf:
    """Any of these statuses (use sparingly: an exact status says more)."""

    statuses: frozenset[int]
    why: str

    def __repr__(self) -> str:
        return f"any of {sorted(self.statuses)} ({self.why})"


@dataclass(frozen=True)
class Redirect:
    """302 to a path that starts with *to* (LOGIN: to the login page)."""

    to: str

    def __repr__(self) -> str:
        return f"302 to {self.to}…"


@dataclass(frozen=True)
class Flash:
    """302 after a form, with a message of this level: "success" (it was done) or "error" (refused, and the
    page says why). Pages that answer a form with a redirect either way say which only in the message."""

    level: str

    def __repr__(self) -> str:
        return f"302 with a {self.level} message"


Expect = int | AnyOf | Redirect | Flash
LOGIN = Redirect("/login/")
DONE = Flash("success")
REFUSED = Flash("error")


def matches(outcome: Outcome, expected: Expect) -> bool:
    if isinstance(expected, Redirect):
        return outcome.status == FOUND and outcome.location.startswith(expected.to)
    if isinstance(expected, Flash):
        levels = set(outcome.flash)
        other = "error" if expected.level == "success" else "success"
        return outcome.status == FOUND and expected.level in levels and other not in levels
    if isinstance(expected, AnyOf):
        return outcome.status in expected.statuses
    return outcome.status == expected


def describe(expected: Expect) -> str:
    return repr(expected)


def per_member(
    *, orderer: Expect, manager: Expect, staff: Expect, sub_staff: Expect, auditor: Expect
) -> dict[str, Expect]:
    return {
        "orderer": orderer,
        "manager": manager,
        "staff": staff,
        "sub_staff": sub_staff,
        "auditor": auditor,
    }


def _all(status: Expect) -> dict[str, Expect]:
    return dict.fromkeys(MEMBERS, status)


def _only(status: Expect, allowed: tuple[str, ...], otherwise: Expect = FORBIDDEN) -> dict[str, Expect]:
    return {p: status if p in allowed else otherwise for p in MEMBERS}


@dataclass(frozen=True)
class Api:
    """One API operation. *members*: each member persona's status; outsiders get 404 and anonymous callers
    401 unless the row says otherwise (only rows that name no object of a contract may)."""

    members: dict[str, Expect]
    outsider: Expect = NOT_FOUND
    anonymous: Expect = UNAUTHENTICATED
    body: Callable[[Call], Any] | None = None  # a JSON body
    files: Callable[[Call], dict[str, Any]] | None = None  # a multipart body
    raw: tuple[bytes, str] | None = None  # a raw body and its content type
    query: dict[str, Any] | Callable[[Call], dict[str, Any]] | None = None
    params: dict[str, Any] = field(default_factory=dict)  # fixed values of path parameters
    same_in_every_contract: tuple[str, ...] = ()  # parameters the cross-contract check leaves alone
    note: str = ""

    @property
    def expect(self) -> dict[str, Expect]:
        return {**self.members, "outsider": self.outsider, "anonymous": self.anonymous}


@dataclass(frozen=True)
class Ui:
    """One page. *get* / *post*: each member persona's status for that method, None when the route refuses
    the method (checked: 405). Outsiders get 404 on pages of a contract; anonymous visitors go to login."""

    get: dict[str, Expect] | None
    post: dict[str, Expect] | None = None
    post_data: Callable[[Call], dict[str, Any]] | None = None
    outsider: Expect = NOT_FOUND
    anonymous: Expect = LOGIN
    outsider_post: Expect | None = None  # when it differs from *outsider*
    anonymous_post: Expect | None = None
    query: dict[str, Any] | Callable[[Call], dict[str, Any]] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    same_in_every_contract: tuple[str, ...] = ()
    note: str = ""

    def expect(self, method: str) -> dict[str, Expect]:
        members = self.get if method == "get" else self.post
        assert members is not None
        outsider = (
            self.outsider_post if method == "post" and self.outsider_post is not None else self.outsider
        )
        anonymous = (
            self.anonymous_post if method == "post" and self.anonymous_post is not None else self.anonymous
        )
        return {**members, "outsider": outsider, "anonymous": anonymous}


def _mlit_profile() -> str:
    from sekisho.compliance.profile import shipped_profile_text

    return shipped_profile_text("mlit-standard")


def _incident_body(c: Any) -> dict[str, Any]:
    from django.utils import timezone

    return {
        "kind": "loss",
        "title": "USBメモリの紛失",
        "description": "現地調査の帰りに紛失",
        "detected_at": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
        "has_personal_info": True,
        "personal_categories": ["name", "address"],
        "personal_count": 150,
    }


AGE_RECIPIENT = "age1whk8rlrvlz40px0qmw6tcsz72egz0w8llphf63hxpx5thch3evyqmjyyhm"

OVERSIGHT = "/api/v1/contracts/{contract_id}"
OVERSIGHT_READERS = ("orderer", "manager", "auditor")  # oversight.view


def _answer_files(c: Any) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {
        "text": "報告します",
        "files": [SimpleUploadedFile("report.txt", b"report", content_type="text/plain")],
    }


def _inspector_candidate(c: Any) -> Any:
    """A person of the orderer who is no member yet (the same one every time: the request is rolled back)."""
    from sekisho.core.models import User

    user, _created = User.objects.get_or_create(
        username="matrix-inspector",
        defaults={"organisation_id": c.contract.orderer_id, "display_name": "検査 員"},
    )
    return user


def _in_two_days(*, aware: bool = False) -> str:
    """The API takes an ISO time with its offset; the browser's form a local time."""
    from django.utils import timezone

    moment = timezone.localtime(timezone.now() + dt.timedelta(days=2)).replace(second=0, microsecond=0)
    return moment.isoformat() if aware else moment.strftime("%Y-%m-%dT%H:%M")


# --- the API ----------------------------------------------------------------------------------------------------


class Call:
    """What a body, query or form is made from: the main contract's objects, and the requesting user (for
    fields such as a typed name that must be the caller's own)."""

    def __init__(self, objs: Objects, user: Any) -> None:
        self.o = objs
        self.user = user

    def __getattr__(self, name: str) -> Any:
        return getattr(self.o, name)

    @property
    def typed_name(self) -> str:
        return self.user.display_name if self.user is not None else "匿名"


API: dict[tuple[str, str], Api] = {
    # --- contracts and memberships ------------------------------------------------------------------------
    ("get", "/api/v1/contracts"): Api(_all(OK), outsider=OK, note="a list of one's own contracts"),
    ("post", "/api/v1/contracts"): Api(
        _all(FORBIDDEN),
        outsider=FORBIDDEN,
        body=lambda c: {
            "number": "X-NEW",
            "title": "新しい契約",
            "orderer_id": c.contract.orderer_id,
            "contractor_id": c.contract.contractor_id,
            "period_start": "2026-06-01",
            "period_end": "2027-03-19",
        },
        note="system administrators only; no member of any contract",
    ),
    ("get", "/api/v1/contracts/{contract_id}"): Api(_all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/transition"): Api(
        _only(OK, ("manager",)), body=lambda c: {"to": "active"}
    ),
    ("get", "/api/v1/contracts/{contract_id}/memberships"): Api(_all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/memberships"): Api(
        # manager and orderer pass the policy; staff is a member already (409), and not the orderer's to add
        per_member(
            orderer=FORBIDDEN, manager=CONFLICT, staff=FORBIDDEN, sub_staff=FORBIDDEN, auditor=FORBIDDEN
        ),
        body=lambda c: {"username": "staff", "role": "staff"},
    ),
    ("post", "/api/v1/contracts/{contract_id}/memberships/{membership_id}/end"): Api(
        _only(OK, ("manager",)), body=lambda c: {"reason": "異動"}
    ),
    ("get", "/api/v1/contracts/{contract_id}/audit"): Api(_only(OK, ("orderer", "manager", "auditor"))),
    # --- ledger -------------------------------------------------------------------------------------------
    ("get", "/api/v1/contracts/{contract_id}/assets"): Api(_all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/assets"): Api(
        _only(CREATED, CONTRACTOR),
        body=lambda c: {
            "title": "調査写真",
            "medium": "electronic",
            "origin": "derived",
            "received_on": "2026-08-01",
            "custodian": "staff",
            "location_kind": "vault",
        },
    ),
    ("get", "/api/v1/contracts/{contract_id}/ledger.xlsx"): Api(_only(OK, ("orderer", "manager", "auditor"))),
    ("post", "/api/v1/contracts/{contract_id}/assets/import"): Api(
        _only(CREATED, ("manager",)),
        files=lambda c: {"file": _ledger_csv()},
        note="only the information manager imports (all rows or none)",
    ),
    ("get", "/api/v1/contracts/{contract_id}/assets/{asset_id}"): Api(_all(OK)),
    ("get", "/api/v1/contracts/{contract_id}/assets/{asset_id}/lineage"): Api(_all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/assets/{asset_id}/state"): Api(
        _only(OK, ("manager",)), body=lambda c: {"to": "in_transit"}
    ),
    # --- permits ------------------------------------------------------------------------------------------
    ("get", "/api/v1/contracts/{contract_id}/permits"): Api(_all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/permits"): Api(
        _only(CREATED, CONTRACTOR),
        body=lambda c: {
            "kind": "copy",
            "asset_ids": [c.asset.pk],
            "reason": "スキャン",
            "copies": 1,
            "valid_from": "2026-07-01",
            "valid_until": "2027-03-01",
        },
    ),
    ("get", "/api/v1/contracts/{contract_id}/permits/{permit_id}"): Api(_all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/permits/{permit_id}/decision"): Api(
        _only(OK, ("orderer",)), body=lambda c: {"approve": True}
    ),
    ("post", "/api/v1/contracts/{contract_id}/permits/{permit_id}/revoke"): Api(
        # only the orderer passes the policy; the permit is still requested, so revoking it is a conflict
        _only(CONFLICT, ("orderer",)),
        body=lambda c: {"note": "取消"},
    ),
    ("post", "/api/v1/contracts/{contract_id}/permits/{permit_id}/use"): Api(
        # the permit is not approved yet: the clause refuses every use (403 R2.2)
        _all(FORBIDDEN),
        body=lambda c: {"kind": "other_purpose", "asset_ids": [c.asset.pk]},
    ),
    # --- vault (token clients prove no device: the contractor's people get the device refusal, R2.7ア) ------
    ("get", "/api/v1/contracts/{contract_id}/assets/{asset_id}/versions"): Api(_all(OK)),
    ("put", "/api/v1/contracts/{contract_id}/assets/{asset_id}/content"): Api(
        _all(FORBIDDEN), raw=(b"content", "application/octet-stream")
    ),
    ("post", "/api/v1/contracts/{contract_id}/assets/{asset_id}/content/ticket"): Api(_all(FORBIDDEN)),
    ("get", "/api/v1/contracts/{contract_id}/assets/{asset_id}/content"): Api(_all(FORBIDDEN)),
    ("get", "/api/v1/contracts/{contract_id}/transfers"): Api(_all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/transfers"): Api(
        _all(FORBIDDEN),
        body=lambda c: {
            "permit_id": c.permit.pk,
            "asset_ids": [c.asset.pk],
            "recipient": "測量会社",
            "recipient_key": AGE_RECIPIENT,
        },
    ),
    ("get", "/api/v1/contracts/{contract_id}/transfers/{transfer_id}"): Api(_all(OK)),
    ("get", "/api/v1/contracts/{contract_id}/transfers/{transfer_id}/package"): Api(_all(FORBIDDEN)),
    ("post", "/api/v1/contracts/{contract_id}/transfers/{transfer_id}/receipt"): Api(
        # the contractor's people may confirm; a hash that is not the package's is a conflict
        _only(CONFLICT, CONTRACTOR),
        body=lambda c: {"sha256": "0" * 64},
    ),
    ("post", "/api/v1/contracts/{contract_id}/vault/shred"): Api(
        # only the manager passes the policy; an other-purpose permit is no destruction permit (403 R2.5)
        _all(FORBIDDEN),
        body=lambda c: {"permit_id": c.permit.pk},
    ),
    # --- incidents (reported by staff; the orderer was not notified yet) ------------------------------------
    ("get", "/api/v1/contracts/{contract_id}/incidents"): Api(_all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/incidents"): Api(
        _only(CREATED, ("orderer", "manager", "staff", "sub_staff")), body=_incident_body
    ),
    ("get", "/api/v1/contracts/{contract_id}/incidents/{incident_id}"): Api(_all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/incidents/{incident_id}/notify-orderer"): Api(
        per_member(
            orderer=FORBIDDEN, manager=CONFLICT, staff=CONFLICT, sub_staff=FORBIDDEN, auditor=FORBIDDEN
        )
    ),
    ("post", "/api/v1/contracts/{contract_id}/incidents/{incident_id}/investigation"): Api(
        _only(OK, ("manager", "staff")), body=lambda c: {"note": "調査開始"}
    ),
    ("post", "/api/v1/contracts/{contract_id}/incidents/{incident_id}/cause"): Api(
        _only(CONFLICT, ("manager", "staff")), body=lambda c: {"cause": "鞄の口が開いていた"}
    ),
    ("post", "/api/v1/contracts/{contract_id}/incidents/{incident_id}/corrective-measures"): Api(
        _only(CONFLICT, ("manager", "staff")), body=lambda c: {"measures": "遺失届"}
    ),
    ("post", "/api/v1/contracts/{contract_id}/incidents/{incident_id}/prevention"): Api(
        _only(CONFLICT, ("manager", "staff")), body=lambda c: {"prevention": "暗号化USBに限定"}
    ),
    ("post", "/api/v1/contracts/{contract_id}/incidents/{incident_id}/close"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"note": ""}
    ),
    ("post", "/api/v1/contracts/{contract_id}/incidents/{incident_id}/return"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"instruction": "再調査"}
    ),
    ("post", "/api/v1/contracts/{contract_id}/incidents/{incident_id}/facts"): Api(
        _only(OK, ("orderer", "manager", "staff")), body=lambda c: {**_incident_body(c), "note": "人数の訂正"}
    ),
    ("post", "/api/v1/contracts/{contract_id}/incidents/{incident_id}/authority-reports"): Api(
        _only(OK, ("orderer",)), body=lambda c: {"stage": "prompt", "reported_on": "2026-08-03"}
    ),
    ("get", "/api/v1/contracts/{contract_id}/incidents/{incident_id}/report.pdf"): Api(_all(OK)),
    ("get", "/api/v1/contracts/{contract_id}/incidents/{incident_id}/report.docx"): Api(_all(OK)),
    ("get", "/api/v1/contracts/{contract_id}/incident-settings"): Api(_all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/incident-settings"): Api(
        _only(OK, ("orderer",)), body=lambda c: {"orderer_notice_days": 0, "prompt_report_business_days": 5}
    ),
    ("get", "/api/v1/incidents"): Api(_all(OK), outsider=OK, note="the orderer's incidents of all contracts"),
    # --- compliance (R3): findings and clause states for the orderer, the manager and auditors; both sides
    # evaluate; only the orderer loads its own wording of the regulation (R2.1) -------------------------------
    ("get", "/api/v1/contracts/{contract_id}/compliance/findings"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("get", "/api/v1/contracts/{contract_id}/compliance/clauses"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("post", "/api/v1/contracts/{contract_id}/compliance/evaluate"): Api(_only(OK, ("orderer", "manager"))),
    ("get", "/api/v1/contracts/{contract_id}/compliance/profile"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("post", "/api/v1/contracts/{contract_id}/compliance/profile"): Api(
        _only(CREATED, ("orderer",)), body=lambda c: {"content": _mlit_profile()}
    ),
    # --- oversight (R3): a request not answered yet, another one answered with an attachment; an inspection in
    # progress with R1.1 found wanting and its corrective action requested (not answered) ------------------------
    ("get", OVERSIGHT + "/report-requests"): Api(_only(OK, OVERSIGHT_READERS)),
    ("post", OVERSIGHT + "/report-requests"): Api(
        _only(CREATED, ("orderer",)),
        body=lambda c: {"subject": "端末の管理状況", "detail": "一覧を", "due_on": "2026-09-30"},
    ),
    ("get", OVERSIGHT + "/report-requests/{report_request_id}"): Api(_only(OK, OVERSIGHT_READERS)),
    ("post", OVERSIGHT + "/report-requests/{report_request_id}/answer"): Api(
        _only(OK, ("manager",)), files=_answer_files, note="multipart: text and files"
    ),
    ("post", OVERSIGHT + "/report-requests/{report_request_id}/accept"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"note": ""}, note="not answered yet (409 R3)"
    ),
    ("post", OVERSIGHT + "/report-requests/{report_request_id}/more"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"note": "追加", "due_on": "2026-09-30"}
    ),
    ("post", OVERSIGHT + "/report-requests/{report_request_id}/withdraw"): Api(
        _only(OK, ("orderer",)), body=lambda c: {"reason": "不要になった"}
    ),
    ("get", OVERSIGHT + "/report-attachments/{report_attachment_id}"): Api(_only(OK, OVERSIGHT_READERS)),
    ("get", OVERSIGHT + "/inspections"): Api(_only(OK, OVERSIGHT_READERS)),
    ("post", OVERSIGHT + "/inspections"): Api(
        _only(CREATED, ("orderer",)), body=lambda c: {"title": "第2回検査", "scheduled_on": "2026-08-20"}
    ),
    ("get", OVERSIGHT + "/inspections/{inspection_id}"): Api(_only(OK, OVERSIGHT_READERS)),
    ("post", OVERSIGHT + "/inspections/{inspection_id}/start"): Api(
        _only(CONFLICT, ("orderer",)), note="already in progress"
    ),
    ("post", OVERSIGHT + "/inspections/{inspection_id}/items/{inspection_item_id}"): Api(
        _only(OK, ("orderer",)), body=lambda c: {"result": "nonconforming", "note": "不備"}
    ),
    ("post", OVERSIGHT + "/inspections/{inspection_id}/items/{inspection_item_id}/findings"): Api(
        _only(CREATED, ("orderer",)),
        body=lambda c: {"description": "指摘", "corrective_request": "是正", "due_on": "2026-09-30"},
    ),
    ("post", OVERSIGHT + "/inspections/{inspection_id}/complete"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"summary": ""}, note="items without a result (409 R3)"
    ),
    ("post", OVERSIGHT + "/inspections/{inspection_id}/cancel"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"reason": "中止"}, note="it has a finding (409 R3)"
    ),
    ("post", OVERSIGHT + "/inspections/{inspection_id}/findings/{inspection_finding_id}/response"): Api(
        _only(OK, ("manager",)), body=lambda c: {"response": "是正した"}
    ),
    ("post", OVERSIGHT + "/inspections/{inspection_id}/findings/{inspection_finding_id}/close"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"note": ""}, note="not answered yet"
    ),
    ("post", OVERSIGHT + "/inspections/{inspection_id}/findings/{inspection_finding_id}/reopen"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"instruction": "再度", "due_on": "2026-09-30"}
    ),
    ("get", OVERSIGHT + "/inspections/{inspection_id}/report.pdf"): Api(_only(OK, OVERSIGHT_READERS)),
    ("get", OVERSIGHT + "/inspections/{inspection_id}/report.docx"): Api(_only(OK, OVERSIGHT_READERS)),
    ("get", OVERSIGHT + "/inspectors"): Api(_only(OK, OVERSIGHT_READERS)),
    ("post", OVERSIGHT + "/inspectors"): Api(
        _only(CREATED, ("orderer",)),
        body=lambda c: {"username": _inspector_candidate(c).username, "expires_at": _in_two_days(aware=True)},
    ),
    # --- close-out (R2.5, P9; the contract is not closing: whoever passes the policy gets 409) and plan (R1.2)
    ("get", "/api/v1/contracts/{contract_id}/closeout"): Api(_only(OK, CLOSEOUT_READERS)),
    ("post", "/api/v1/contracts/{contract_id}/closeout"): Api(
        _only(CONFLICT, ("orderer", "manager")), body=lambda c: {"note": "業務完了"}
    ),
    ("get", "/api/v1/contracts/{contract_id}/closeout/items"): Api(_only(OK, CLOSEOUT_READERS)),
    ("post", "/api/v1/contracts/{contract_id}/closeout/items/hand-over"): Api(
        _only(CONFLICT, ("manager",)), body=lambda c: {"item_ids": [1], "note": "手渡し"}
    ),
    ("post", "/api/v1/contracts/{contract_id}/closeout/items/confirm-receipt"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"item_ids": [1]}
    ),
    ("post", "/api/v1/contracts/{contract_id}/closeout/items/send-back"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"item_ids": [1], "note": "未着"}
    ),
    ("post", "/api/v1/contracts/{contract_id}/closeout/items/destroy"): Api(
        _only(CONFLICT, ("manager",)),
        body=lambda c: {
            "item_ids": [1],
            "method": "shredder",
            "destroyed_on": "2026-08-03",
            "witness": "立会人",
        },
    ),
    ("post", "/api/v1/contracts/{contract_id}/closeout/items/retain"): Api(
        _only(CONFLICT, ("manager",)),
        body=lambda c: {"item_ids": [1], "basis": "保存", "law": "契約書第48条"},
    ),
    ("post", "/api/v1/contracts/{contract_id}/closeout/items/acknowledge-retention"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"item_ids": [1]}
    ),
    ("post", "/api/v1/contracts/{contract_id}/closeout/instructions"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"kind": "destruction", "item_ids": [1]}
    ),
    ("post", "/api/v1/contracts/{contract_id}/closeout/shred"): Api(
        _only(CONFLICT, ("manager",)), body=lambda c: {"permit_id": c.permit.pk}
    ),
    ("post", "/api/v1/contracts/{contract_id}/closeout/certificate"): Api(_only(CONFLICT, ("manager",))),
    ("post", "/api/v1/contracts/{contract_id}/closeout/certificate/confirm"): Api(
        _only(CONFLICT, ("orderer",)), body=lambda c: {"note": ""}
    ),
    ("get", "/api/v1/contracts/{contract_id}/closeout/certificate.pdf"): Api(
        _only(CONFLICT, CLOSEOUT_READERS), note="no certificate issued yet (409 R2.5)"
    ),
    ("get", "/api/v1/contracts/{contract_id}/closeout/certificate.docx"): Api(
        _only(CONFLICT, CLOSEOUT_READERS), note="no certificate issued yet (409 R2.5)"
    ),
    ("get", "/api/v1/contracts/{contract_id}/plan.pdf"): Api(_only(OK, CLOSEOUT_READERS)),
    ("get", "/api/v1/contracts/{contract_id}/plan.docx"): Api(_only(OK, CLOSEOUT_READERS)),
    # --- people -------------------------------------------------------------------------------------------
    ("get", "/api/v1/contracts/{contract_id}/people/clearance"): Api(_all(OK)),
    ("get", "/api/v1/contracts/{contract_id}/people/roster"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("post", "/api/v1/contracts/{contract_id}/people/roster"): Api(
        _only(CREATED, ("manager",)),
        body=lambda c: {
            "name": "新人 太郎",
            "organisation_id": c.contract.contractor_id,
            "category": "employee",
            "started_on": "2026-08-01",
        },
    ),
    ("post", "/api/v1/contracts/{contract_id}/people/roster/{entry_id}/leave"): Api(
        _only(OK, ("manager",)), body=lambda c: {"left_at": "2026-08-03T18:00:00+09:00", "kind": "reassigned"}
    ),
    ("post", "/api/v1/contracts/{contract_id}/people/roster/{entry_id}/exit-acknowledgement"): Api(
        # the manager (for the leaver) and the leaver pass; nobody has left, so it is a conflict (R2.4.2)
        _only(CONFLICT, ("manager", "staff")),
        body=lambda c: {"typed_name": c.typed_name},
    ),
    ("get", "/api/v1/contracts/{contract_id}/people/roster.xlsx"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("get", "/api/v1/contracts/{contract_id}/people/training"): Api(_all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/people/training"): Api(
        _only(CREATED, ("manager",)),
        body=lambda c: {"code": "T-9", "title": "追加研修", "content": "内容", "required_roles": ["staff"]},
    ),
    ("post", "/api/v1/contracts/{contract_id}/people/training/{programme_id}/versions"): Api(
        _only(CREATED, ("manager",)), body=lambda c: {"content": "改訂した内容"}
    ),
    ("post", "/api/v1/contracts/{contract_id}/people/training/{programme_id}/acknowledge"): Api(
        _all(CREATED), body=lambda c: {"typed_name": c.typed_name}
    ),
    ("get", "/api/v1/contracts/{contract_id}/people/training/status"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("get", "/api/v1/contracts/{contract_id}/people/training.xlsx"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("get", "/api/v1/contracts/{contract_id}/people/appointments"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("post", "/api/v1/contracts/{contract_id}/people/appointments"): Api(
        # only the manager passes the policy; this person holds the appointment already (409)
        _only(CONFLICT, ("manager",)),
        body=lambda c: {"kind": "info_manager", "entry_id": c.roster_entry_of(c.manager).pk},
    ),
    ("get", "/api/v1/contracts/{contract_id}/people/pledges"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("post", "/api/v1/contracts/{contract_id}/people/pledges"): Api(
        _only(CREATED, ("manager",)),
        body=lambda c: {
            "addressee": "倉敷市長",
            "representative": "代表取締役 試験 太郎",
            "typed_name": c.typed_name,
        },
    ),
    ("get", "/api/v1/contracts/{contract_id}/people/pledges/{version}/pdf"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("get", "/api/v1/contracts/{contract_id}/people/subcontracts"): Api(_all(OK)),
    ("post", "/api/v1/contracts/{contract_id}/people/subcontracts"): Api(
        # the manager passes the policy; this subcontractor was asked for already (409 R2.4.3)
        _only(CONFLICT, ("manager",)),
        body=lambda c: {
            "organisation_id": c.subcontract.organisation_id,
            "scope": "追加の測量",
            "responsible_name": "測量 次郎",
            "reason": "専門業者に委託するため",
            "valid_from": "2026-07-01",
            "valid_until": "2027-03-01",
        },
    ),
    ("post", "/api/v1/contracts/{contract_id}/people/subcontracts/{sub_id}/flowdown"): Api(
        # the subcontractor's responsible person confirms (again); the manager may, but signs with the
        # responsible person's name only (422), other staff may not (403 R2.4.3)
        per_member(orderer=FORBIDDEN, manager=INVALID, staff=FORBIDDEN, sub_staff=OK, auditor=FORBIDDEN),
        body=lambda c: {"typed_name": c.typed_name},
    ),
    ("post", "/api/v1/contracts/{contract_id}/people/subcontracts/{sub_id}/personal-info"): Api(
        _only(OK, ("manager",)),
        body=lambda c: {
            "reason": "住所の確認が必要",
            "valid_from": "2026-07-01",
            "valid_until": "2027-03-01",
        },
    ),
    # --- audit (the contract's Merkle log) ------------------------------------------------------------------
    ("get", "/api/v1/audit/public-key"): Api(_all(OK), outsider=OK, note="one key for the deployment"),
    ("get", "/api/v1/audit/public-key.pem"): Api(_all(OK), outsider=OK),
    ("get", "/api/v1/audit/contracts/{contract_id}/tree-heads"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("post", "/api/v1/audit/contracts/{contract_id}/tree-heads"): Api(
        _only(CREATED, ("orderer", "manager", "auditor")), body=lambda c: {"reason": "request"}
    ),
    ("get", "/api/v1/audit/contracts/{contract_id}/tree-heads/{tree_head_id}"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("get", "/api/v1/audit/contracts/{contract_id}/proofs/inclusion"): Api(
        _only(OK, ("orderer", "manager", "auditor")), query={"index": 0}
    ),
    ("get", "/api/v1/audit/contracts/{contract_id}/proofs/consistency"): Api(
        _only(OK, ("orderer", "manager", "auditor")), query={"first": 1}
    ),
    ("get", "/api/v1/audit/contracts/{contract_id}/pins"): Api(_only(OK, ("orderer", "manager", "auditor"))),
    ("post", "/api/v1/audit/contracts/{contract_id}/pins"): Api(
        _only(CREATED, ("orderer",)), body=lambda c: {"tree_head_id": c.tree_head.pk}
    ),
    ("get", "/api/v1/audit/contracts/{contract_id}/witness"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    ("post", "/api/v1/audit/contracts/{contract_id}/export"): Api(
        _only(OK, ("orderer", "manager", "auditor"))
    ),
    # --- me -----------------------------------------------------------------------------------------------
    ("get", "/api/v1/me"): Api(_all(OK), outsider=OK),
    # --- devices and media ----------------------------------------------------------------------------------
    ("get", "/api/v1/devices"): Api(_all(OK), outsider=OK, note="the devices of one's own contracts"),
    ("post", "/api/v1/devices"): Api(
        _only(CREATED, CONTRACTOR),
        body=lambda c: {"contract_id": c.contract.pk, "name": "新しいPC", "kind": "laptop", "os": "linux"},
        note="the contract is named in the body: an outsider still gets 404",
    ),
    ("get", "/api/v1/devices/posture-policy/{contract_id}"): Api(_all(OK)),
    ("put", "/api/v1/devices/posture-policy/{contract_id}"): Api(
        _only(OK, ("manager",)), body=lambda c: {"max_screen_lock_minutes": 10}
    ),
    ("get", "/api/v1/devices/{uid}"): Api(_all(OK)),
    ("post", "/api/v1/devices/{uid}/approve"): Api(
        _only(OK, ("manager",)), body=lambda c: {"valid_days": 30}
    ),
    ("post", "/api/v1/devices/{uid}/revoke"): Api(_only(OK, ("manager",)), body=lambda c: {"reason": "異動"}),
    ("post", "/api/v1/devices/{uid}/lost"): Api(
        _only(OK, ("manager", "staff")), body=lambda c: {"note": "紛失"}
    ),
    ("post", "/api/v1/devices/{uid}/enrollment-code"): Api(_only(CREATED, ("manager",))),
    ("get", "/api/v1/devices/{uid}/posture"): Api(_all(OK)),
    ("get", "/api/v1/media"): Api(_all(OK), outsider=OK, note="the media of one's own contracts"),
    ("post", "/api/v1/media"): Api(
        _only(CREATED, CONTRACTOR),
        body=lambda c: {
            "contract_id": c.contract.pk,
            "label": "USB-2",
            "kind": "usb",
            "security_function": "hardware_encryption",
            "serial_number": "SN-NEW",
        },
    ),
    ("get", "/api/v1/media/{medium_id}"): Api(_all(OK)),
    ("post", "/api/v1/media/{medium_id}/approve"): Api(_only(OK, ("manager",)), body=lambda c: {"note": ""}),
    ("post", "/api/v1/media/{medium_id}/revoke"): Api(
        _only(OK, ("manager",)), body=lambda c: {"reason": "廃棄"}
    ),
    ("post", "/api/v1/media/{medium_id}/lost"): Api(
        _only(OK, ("manager", "staff")), body=lambda c: {"note": "紛失"}
    ),
    ("post", "/api/v1/media/{medium_id}/custody"): Api(
        _only(OK, ("manager",)), body=lambda c: {"username": "manager"}
    ),
    ("get", "/api/v1/media/{medium_id}/custody"): Api(_all(OK)),
    # --- the agent: requests signed by a device key, no session or token (tests/devices check the signed ones)
    ("post", "/api/v1/agent/enroll"): Api(
        _all(UNAUTHENTICATED),
        outsider=UNAUTHENTICATED,
        body=lambda c: {"code": "ABCD-EFGH", "public_key": "A" * 43 + "="},
    ),
    ("post", "/api/v1/agent/report"): Api(_all(UNAUTHENTICATED), outsider=UNAUTHENTICATED),
    ("get", "/api/v1/agent/status"): Api(_all(UNAUTHENTICATED), outsider=UNAUTHENTICATED),
    ("post", "/api/v1/agent/login-link"): Api(_all(UNAUTHENTICATED), outsider=UNAUTHENTICATED),
}


def _ledger_csv() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    rows = "名称,媒体,由来,受領・作成日,管理者,保管場所の種別,数量\n取込み図面,紙,発注者から貸与・提供,2026/07/01,staff,書庫・保管室,1\n"
    return SimpleUploadedFile("ledger.csv", rows.encode(), "text/csv")


# --- the pages --------------------------------------------------------------------------------------------------


def _orderer_side(status: Expect, otherwise: Expect) -> dict[str, Expect]:
    """*status* for the orderer's officer and the auditor (who read the people's records), *otherwise* for staff."""
    return per_member(orderer=status, manager=status, staff=otherwise, sub_staff=otherwise, auditor=status)


READERS_OF_PEOPLE = _orderer_side(OK, FORBIDDEN)  # people.view / pledge.view / people.report / audit.view


def _ledger_file(c: Call) -> dict[str, Any]:
    return {"file": _ledger_csv()}


UI: dict[str, Ui] = {
    # --- pages of no contract -------------------------------------------------------------------------------
    "web:contract-list": Ui(get=_all(OK), outsider=OK, note="one's own contracts only"),
    "web:healthz": Ui(get=_all(OK), outsider=OK, anonymous=OK),
    "metrics": Ui(
        get=_all(OK),
        outsider=OK,
        anonymous=OK,
        note="the test client calls from 127.0.0.1, an allowed scraper (tests/ops_prod: other callers get 403)",
    ),
    "web:login": Ui(
        get=_all(OK),
        outsider=OK,
        anonymous=OK,
        post=_all(OK),
        post_data=lambda c: {"username": "nobody-matrix", "password": "wrong-password"},
        outsider_post=OK,
        anonymous_post=OK,
        note="an unknown user: the form again, with the same words as for a wrong password",
    ),
    "web:login-otp": Ui(get=_all(Redirect("/")), outsider=Redirect("/"), note="already verified: go on"),
    "web:login-otp-setup": Ui(get=_all(Redirect("/login/otp/")), outsider=Redirect("/login/otp/")),
    "web:logout": Ui(get=None, post=_all(LOGIN), outsider_post=LOGIN, anonymous_post=LOGIN),
    "set_language": Ui(
        get=None,
        post=_all(Redirect("/")),
        post_data=lambda c: {"language": "en", "next": "/"},
        outsider_post=Redirect("/"),
        anonymous_post=Redirect("/"),
    ),
    "api:openapi-json": Ui(get=_all(OK), outsider=OK, anonymous=OK, note="the API's description, no data"),
    "api:api-root": Ui(
        get=_all(NOT_FOUND), outsider=NOT_FOUND, anonymous=NOT_FOUND, note="docs are off unless DEBUG"
    ),
    "notifications:list": Ui(get=_all(OK), outsider=OK, note="one's own notifications only"),
    "notifications:read": Ui(
        get=None,
        post=_all(Redirect("/")),
        outsider_post=NOT_FOUND,
        note="each member reads their own; the outsider tries the manager's",
    ),
    "notifications:read-all": Ui(get=None, post=_all(DONE), outsider_post=DONE),
    "incidents:orderer-list": Ui(
        get=_all(OK), outsider=OK, note="incidents of contracts where one is the orderer"
    ),
    # --- the contract ----------------------------------------------------------------------------------------
    "web:contract-detail": Ui(get=_all(OK)),
    "web:contract-transition": Ui(
        get=None, post=_only(DONE, ("manager",), otherwise=REFUSED), post_data=lambda c: {"to": "active"}
    ),
    "web:contract-audit": Ui(get=READERS_OF_PEOPLE),
    # --- devices and media ------------------------------------------------------------------------------------
    "devices:device-list": Ui(get=_all(OK)),
    "devices:device-register": Ui(
        get=None,
        post=_only(DONE, CONTRACTOR, otherwise=REFUSED),
        post_data=lambda c: {"name": "新しいPC", "kind": "laptop", "os": "linux"},
    ),
    "devices:posture-policy": Ui(
        get=None,
        post=_only(DONE, ("manager",), otherwise=REFUSED),
        post_data=lambda c: {
            "require_disk_encryption": "on",
            "require_antivirus": "on",
            "max_definitions_age_days": 7,
            "max_os_update_age_days": 30,
            "require_firewall": "on",
            "max_screen_lock_minutes": 10,
            "max_report_age_hours": 24,
        },
    ),
    "devices:device-detail": Ui(get=_all(OK)),
    "devices:device-action": Ui(
        get=None,
        post=_only(DONE, ("manager",), otherwise=REFUSED),
        params={"action": "approve"},
        post_data=lambda c: {"approved_until": "2026-12-31", "note": ""},
    ),
    "devices:bind": Ui(
        get=_only(DONE, ("staff",)),
        note="only the PC's own user (staff) binds a session to it with its agent's one-time link (R2.7ア); "
        "any other member is refused with 403",
    ),
    "devices:media-list": Ui(get=_all(OK)),
    "devices:medium-register": Ui(
        get=None,
        post=_only(DONE, CONTRACTOR, otherwise=REFUSED),
        post_data=lambda c: {
            "label": "USB-3",
            "kind": "usb",
            "security_function": "hardware_encryption",
            "serial_number": "SN-3",
        },
    ),
    "devices:medium-detail": Ui(get=_all(OK)),
    "devices:medium-action": Ui(
        get=None,
        post=_only(DONE, ("manager",), otherwise=REFUSED),
        params={"action": "approve"},
        post_data=lambda c: {"note": ""},
    ),
    # --- ledger -----------------------------------------------------------------------------------------------
    "ledger:list": Ui(get=_all(OK)),
    "ledger:detail": Ui(get=_all(OK)),
    "ledger:register": Ui(
        get=_only(OK, CONTRACTOR),
        post=_only(FOUND, CONTRACTOR),
        post_data=lambda c: {
            "title": "登録した図面",
            "medium": "paper",
            "origin": "provided",
            "received_on": "2026-08-01",
            "custodian": c.staff.pk,
            "location_kind": "cabinet",
            "quantity": 1,
            "confidentiality": 2,
            "integrity": 1,
            "availability": 1,
        },
    ),
    "ledger:import": Ui(get=None, post=_only(DONE, ("manager",)), post_data=_ledger_file),
    # --- permits ----------------------------------------------------------------------------------------------
    "permits:list": Ui(get=_all(OK)),
    "permits:inbox": Ui(get=_only(OK, ("orderer", "manager"))),
    "permits:inbox-badge": Ui(get=_all(OK)),
    "permits:request": Ui(
        get=_only(OK, CONTRACTOR),
        post=_only(FOUND, CONTRACTOR),
        post_data=lambda c: {
            "kind": "copy",
            "assets": [c.asset.pk],
            "copies": 1,
            "reason": "スキャン",
            "valid_from": "2026-07-01",
            "valid_until": "2027-03-01",
        },
    ),
    "permits:detail": Ui(get=_all(OK)),
    "permits:decide": Ui(
        get=None,
        # the other-purpose permit is the orderer's to decide; the others are refused on the page (403)
        post=_only(DONE, ("orderer",)),
        post_data=lambda c: {"decision": "approve"},
    ),
    "permits:revoke": Ui(get=None, post=_only(CONFLICT, ("orderer",)), post_data=lambda c: {"note": "取消"}),
    # --- incidents (reported by staff, the orderer not notified yet) -----------------------------------------
    "incidents:list": Ui(get=_all(OK)),
    "incidents:report": Ui(
        get=_only(OK, ("orderer", "manager", "staff", "sub_staff")),
        post=_only(FOUND, ("orderer", "manager", "staff", "sub_staff")),
        post_data=lambda c: {
            "kind": "loss",
            "title": "書類の紛失",
            "description": "現地で紛失",
            "detected_at": "2026-08-03T09:00",
        },
    ),
    "incidents:settings": Ui(
        get=None,
        post=_only(DONE, ("orderer",)),
        post_data=lambda c: {"orderer_notice_days": 0, "prompt_report_business_days": 5},
    ),
    "incidents:detail": Ui(get=_all(OK)),
    "incidents:report-pdf": Ui(get=_all(OK)),
    "incidents:report-docx": Ui(get=_all(OK)),
    "incidents:step": Ui(
        get=None,
        post=_only(DONE, ("manager", "staff")),
        params={"step": "investigation"},
        post_data=lambda c: {"investigation-note": "調査開始"},
    ),
    # --- compliance ---------------------------------------------------------------------------------------------
    "compliance:orderer": Ui(get=_all(OK), outsider=OK, note="contracts where one is the orderer officer"),
    "compliance:contract": Ui(get=READERS_OF_PEOPLE),
    "compliance:evaluate": Ui(get=None, post=_only(DONE, ("orderer", "manager"))),
    "compliance:profile": Ui(
        get=READERS_OF_PEOPLE,
        post=_only(DONE, ("orderer",)),
        post_data=lambda c: {"shipped": "mlit-standard"},
    ),
    "compliance:report-pdf": Ui(get=READERS_OF_PEOPLE),
    "compliance:report-docx": Ui(get=READERS_OF_PEOPLE),
    # --- close-out (the contract is not closing: whoever passes the policy is refused, R2.5) and plan (R1.2)
    "closeout:checklist": Ui(get=_only(OK, CLOSEOUT_READERS)),
    "closeout:open": Ui(
        get=None, post=_only(REFUSED, ("orderer", "manager")), post_data=lambda c: {"note": ""}
    ),
    "closeout:bulk": Ui(
        get=None,
        post=_only(REFUSED, ("manager",)),
        post_data=lambda c: {"action": "hand-over", "item": [1], "note": "手渡し"},
    ),
    "closeout:shred": Ui(
        get=None, post=_only(REFUSED, ("manager",)), post_data=lambda c: {"permit": c.permit.pk}
    ),
    "closeout:inbox": Ui(get=_only(OK, CLOSEOUT_READERS)),
    "closeout:decide": Ui(
        get=None,
        post=_only(NOT_FOUND, ("orderer",)),
        post_data=lambda c: {"item": 1, "decision": "confirm"},
        note="only the orderer decides; there is no such item of the contract (404)",
    ),
    "closeout:certificate-issue": Ui(get=None, post=_only(REFUSED, ("manager",))),
    "closeout:certificate-confirm": Ui(
        get=None, post=_only(REFUSED, ("orderer",)), post_data=lambda c: {"note": ""}
    ),
    "closeout:certificate-pdf": Ui(get=_only(CONFLICT, CLOSEOUT_READERS), note="no certificate issued yet"),
    "closeout:certificate-docx": Ui(get=_only(CONFLICT, CLOSEOUT_READERS), note="no certificate issued yet"),
    "closeout:plan": Ui(get=_only(OK, CLOSEOUT_READERS)),
    "closeout:plan-pdf": Ui(get=_only(OK, CLOSEOUT_READERS)),
    "closeout:plan-docx": Ui(get=_only(OK, CLOSEOUT_READERS)),
    # --- oversight (R3: the same objects as the API rows) ------------------------------------------------------
    "oversight:index": Ui(get=_only(OK, OVERSIGHT_READERS)),
    "oversight:request-new": Ui(
        get=_only(OK, ("orderer",)),
        post=_only(FOUND, ("orderer",)),
        post_data=lambda c: {"subject": "端末の管理状況", "detail": "一覧を", "due_on": "2026-09-30"},
    ),
    "oversight:request-detail": Ui(get=_only(OK, OVERSIGHT_READERS)),
    "oversight:request-answer": Ui(
        get=None,
        post=_only(FOUND, ("manager",)),
        post_data=lambda c: {"answer-text": "報告します"},
        note="the orderer and the auditor pass the page's policy; the service refuses them (403 R3)",
    ),
    "oversight:request-step": Ui(
        get=None,
        post=_only(FOUND, ("orderer",)),
        params={"step": "withdraw"},
        post_data=lambda c: {"withdraw-reason": "不要になった"},
    ),
    "oversight:attachment": Ui(get=_only(OK, OVERSIGHT_READERS)),
    "oversight:inspection-new": Ui(
        get=_only(OK, ("orderer",)),
        post=_only(FOUND, ("orderer",)),
        post_data=lambda c: {"title": "第2回検査", "scheduled_on": "2026-08-20"},
    ),
    "oversight:inspection-detail": Ui(get=_only(OK, OVERSIGHT_READERS)),
    "oversight:inspection-pdf": Ui(get=_only(OK, OVERSIGHT_READERS)),
    "oversight:inspection-docx": Ui(get=_only(OK, OVERSIGHT_READERS)),
    "oversight:inspection-step": Ui(
        get=None,
        post=_only(CONFLICT, ("orderer",)),
        params={"step": "complete"},
        post_data=lambda c: {"complete-summary": ""},
        note="items without a result (409 R3)",
    ),
    "oversight:item": Ui(
        get=None,
        post=_only(FOUND, ("orderer",)),
        post_data=lambda c: {
            f"item-{c.inspection_item.pk}-result": "nonconforming",
            f"item-{c.inspection_item.pk}-note": "不備",
        },
    ),
    "oversight:finding-new": Ui(
        get=None,
        post=_only(FOUND, ("orderer",)),
        post_data=lambda c: {
            f"finding-{c.inspection_item.pk}-description": "指摘",
            f"finding-{c.inspection_item.pk}-corrective_request": "是正",
            f"finding-{c.inspection_item.pk}-due_on": "2026-09-30",
        },
    ),
    "oversight:finding-step": Ui(
        get=None,
        post=_only(FOUND, ("manager",)),
        params={"step": "response"},
        post_data=lambda c: {f"response-{c.inspection_finding.pk}-response": "是正した"},
    ),
    "oversight:inspectors": Ui(
        get=_only(OK, OVERSIGHT_READERS),
        post=_only(FOUND, ("orderer",)),
        post_data=lambda c: {"user": _inspector_candidate(c).pk, "expires_at": _in_two_days()},
    ),
    "oversight:inspector-end": Ui(get=None, post=_only(DONE, ("orderer",))),
    # --- vault ------------------------------------------------------------------------------------------------
    "vault:list": Ui(get=_all(OK)),
    "vault:transfers": Ui(
        get=_all(OK),
        # a browser session bound to no PC: the contractor's people get the device refusal (R2.7ア)
        post=_all(FORBIDDEN),
        post_data=lambda c: {"permit": c.permit.pk, "recipient_key": AGE_RECIPIENT},
    ),
    "vault:receipt": Ui(get=None, post=_only(CONFLICT, CONTRACTOR), post_data=lambda c: {"sha256": "0" * 64}),
    # --- people ----------------------------------------------------------------------------------------------
    "people:index": Ui(
        get=_orderer_side(Redirect("/contracts/"), Redirect("/contracts/")),
        note="to the roster (those who may read it) or to training",
    ),
    "people:roster": Ui(get=READERS_OF_PEOPLE),
    "people:roster-add": Ui(
        get=None,
        post=_only(DONE, ("manager",)),
        post_data=lambda c: {
            "name": "新人 花子",
            "organisation": c.contract.contractor_id,
            "category": "employee",
            "started_on": "2026-08-01",
        },
    ),
    "people:roster-xlsx": Ui(get=READERS_OF_PEOPLE),
    "people:entry": Ui(get=READERS_OF_PEOPLE),
    "people:entry-leave": Ui(
        get=None,
        post=_only(DONE, ("manager",)),
        post_data=lambda c: {"left_at": "2026-08-03T18:00", "kind": "reassigned"},
    ),
    "people:entry-exit-ack": Ui(
        get=None, post=_only(REFUSED, ("manager",)), post_data=lambda c: {"typed_name": c.typed_name}
    ),
    "people:leaver-letter": Ui(
        get=_orderer_side(INVALID, FORBIDDEN), note="nobody has left: no letter (422)"
    ),
    "people:training": Ui(get=_all(OK)),
    "people:programme-create": Ui(
        get=None,
        post=_only(DONE, ("manager",)),
        post_data=lambda c: {
            "code": "extra",
            "title": "追加研修",
            "content": "内容",
            "required_roles": ["staff"],
            "recurrence_months": 12,
            "reminder_days": 14,
        },
    ),
    "people:training-status": Ui(get=READERS_OF_PEOPLE),
    "people:training-xlsx": Ui(get=READERS_OF_PEOPLE),
    "people:programme": Ui(get=_all(OK)),
    "people:programme-acknowledge": Ui(
        get=None,
        post=_all(DONE),
        post_data=lambda c: {"typed_name": c.typed_name, "version": c.programme.current_version_id},
    ),
    "people:programme-version": Ui(
        get=None, post=_only(DONE, ("manager",)), post_data=lambda c: {"content": "改訂"}
    ),
    "people:programme-configure": Ui(
        get=None,
        post=_only(DONE, ("manager",)),
        post_data=lambda c: {
            "required_roles": ["staff", "info_manager"],
            "recurrence_months": 12,
            "reminder_days": 14,
        },
    ),
    "people:programme-session": Ui(
        get=None,
        post=_only(DONE, ("manager",)),
        post_data=lambda c: {
            "held_at": "2026-08-03T10:00",
            "method": "classroom",
            "instructor": "講師",
            f"attendee_{c.roster_entry.pk}": c.roster_entry.name,
        },
    ),
    "people:pledge": Ui(get=READERS_OF_PEOPLE),
    "people:pledge-appoint": Ui(
        get=None,
        post=_only(REFUSED, ("manager",)),
        post_data=lambda c: {"kind": "info_manager", "entry": c.roster_entry_of(c.manager).pk},
        note="this person holds the appointment already",
    ),
    "people:pledge-sign": Ui(
        get=None,
        post=_only(DONE, ("manager",)),
        post_data=lambda c: {
            "addressee": "倉敷市長",
            "representative": "代表取締役 試験 太郎",
            "typed_name": c.typed_name,
        },
    ),
    "people:pledge-preview": Ui(get=READERS_OF_PEOPLE),
    "people:pledge-pdf": Ui(get=READERS_OF_PEOPLE),
    "people:pledge-docx": Ui(get=READERS_OF_PEOPLE),
    "people:subcontracts": Ui(get=_all(OK)),
    "people:subcontract-request": Ui(
        get=None,
        post=_only(REFUSED, ("manager",)),
        post_data=lambda c: {
            "organisation": c.subcontract.organisation_id,
            "scope": "追加の測量",
            "responsible_name": "測量 次郎",
            "reason": "専門業者に委託するため",
            "valid_from": "2026-07-01",
            "valid_until": "2027-03-01",
        },
        note="asked for already (R2.4.3)",
    ),
    "people:subcontract": Ui(get=_all(OK)),
    "people:subcontract-flowdown": Ui(
        get=None,
        post=per_member(orderer=FORBIDDEN, manager=REFUSED, staff=REFUSED, sub_staff=DONE, auditor=FORBIDDEN),
        post_data=lambda c: {"typed_name": c.typed_name},
    ),
    "people:subcontract-personal-info": Ui(
        get=None,
        post=_only(DONE, ("manager",)),
        post_data=lambda c: {
            "reason": "住所の確認が必要",
            "valid_from": "2026-07-01",
            "valid_until": "2027-03-01",
        },
    ),
}
