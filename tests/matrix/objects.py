"""One object of each kind, per contract, for the path parameters of the access matrix.

``PARAMS`` is the factory registry: a path parameter's name -> how to get its value. A route that names a
parameter missing here fails the matrix with a message saying which entry to add. Objects are made through
the services (as the application would make them), lazily: only the kinds some route names are built.

Every persona sees the same objects of the *main* contract; ``Objects`` of the *other* contract (the
outsider's) give the values for the cross-contract checks (main contract id, other contract's object id).
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.utils import timezone

from sekisho.core.models import Contract, Membership, User

# Words that never appear in a page or response about another contract: the matrix plants them in titles of
# each contract's objects and looks for them in every response given to the other side.
MAIN_MARKER = "MATRIX-MAIN-7Q2"
OTHER_MARKER = "MATRIX-OTHER-9Z4"


class Objects:
    """The objects of one contract, made on first use by that contract's own people."""

    def __init__(
        self, contract: Contract, *, manager: User, staff: User, orderer: User | None, marker: str
    ) -> None:
        self.contract = contract
        self.manager = manager
        self.staff = staff
        self.orderer = orderer or manager
        self.marker = marker
        self._notifications: dict[int, Any] = {}
        # The shape tests/vault/helpers expects of a "world".
        self.world = types.SimpleNamespace(
            contract=contract, manager=manager, staff=staff, orderer=self.orderer
        )

    # --- ledger, permits, incidents ---------------------------------------------------------------------

    @cached_property
    def asset(self) -> Any:
        from sekisho.ledger.models import LocationKind, Medium, Origin
        from sekisho.ledger.services import AssetData, register_asset

        return register_asset(
            self.contract,
            acting_user=self.manager,
            data=AssetData(
                title=f"下水道台帳図 {self.marker}",
                medium=Medium.PAPER,
                origin=Origin.PROVIDED,
                received_on=dt.date(2026, 7, 1),
                custodian=self.staff,
                location_kind=LocationKind.CABINET,
                quantity=1,
            ),
        )

    @cached_property
    def permit(self) -> Any:
        from sekisho.permits import services as permits

        return permits.request_permit(
            self.contract,
            acting_user=self.manager,
            kind="other_purpose",
            assets=[self.asset],
            reason=f"参考 {self.marker}",
            purpose="他業務の参考",
            valid_from=dt.date(2026, 7, 1),
            valid_until=dt.date(2027, 3, 1),
        )

    @cached_property
    def incident(self) -> Any:
        from sekisho.incidents.services import IncidentData, report_incident

        return report_incident(
            self.contract,
            acting_user=self.staff,
            data=IncidentData(
                kind="loss",
                title=f"USBメモリの紛失 {self.marker}",
                description="現地調査の帰りに紛失",
                detected_at=timezone.now() - dt.timedelta(hours=1),
                has_personal_info=True,
                personal_categories=["name", "address"],
                personal_count=150,
            ),
        )

    @cached_property
    def membership(self) -> Membership:
        return Membership.objects.current().get(contract=self.contract, user=self.staff)

    # --- devices and media ------------------------------------------------------------------------------

    @cached_property
    def pc(self) -> Any:
        from tests.vault.helpers import make_pc

        return make_pc(self.world, owner=self.staff, name=f"PC {self.marker}", tag=f"T-{self.marker}")

    @cached_property
    def medium(self) -> Any:
        from sekisho.devices import services as devices
        from sekisho.devices.models import Medium

        return devices.register_medium(
            self.contract,
            acting_user=self.staff,
            label=f"USB {self.marker}",
            kind=Medium.Kind.USB,
            security_function=Medium.SecurityFunction.HARDWARE,
            serial_number=f"SN-{self.marker}",
        )

    @cached_property
    def login_link_token(self) -> str:
        from sekisho.devices import services as devices

        _link, token = devices.create_login_link(self.pc.device)
        return token

    # --- vault ------------------------------------------------------------------------------------------

    @cached_property
    def transfer(self) -> Any:
        from tests.vault.helpers import transfer_package

        return transfer_package(self.world)

    # --- audit ------------------------------------------------------------------------------------------

    @cached_property
    def tree_head(self) -> Any:
        from sekisho.audit import services as audit

        return audit.sign_tree_head(self.contract, acting_user=self.orderer)

    # --- people -----------------------------------------------------------------------------------------

    @cached_property
    def roster_entry(self) -> Any:
        from sekisho.people.models import RosterEntry

        return RosterEntry.objects.filter(contract=self.contract, user=self.staff).get()

    def roster_entry_of(self, user: User) -> Any:
        from sekisho.people.models import RosterEntry

        return RosterEntry.objects.filter(contract=self.contract, user=user).get()

    @cached_property
    def programme(self) -> Any:
        from sekisho.people.models import Programme

        return Programme.objects.filter(contract=self.contract).order_by("pk").first()

    @cached_property
    def pledge(self) -> Any:
        from sekisho.people.models import Pledge

        return Pledge.objects.filter(contract=self.contract).order_by("-version").first()

    @cached_property
    def subcontract(self) -> Any:
        from sekisho.core.models import Organisation
        from sekisho.people import subcontracts
        from sekisho.people.models import Subcontract

        existing = Subcontract.objects.filter(contract=self.contract).order_by("pk").first()
        if existing is not None:
            return existing
        return subcontracts.request_subcontract(
            self.contract,
            acting_user=self.manager,
            # Organisations are the deployment's master data (the subcontract form lists them all), so the
            # marker stays out of the name.
            organisation=Organisation.objects.create(
                name="測量会社（別契約）", kind=Organisation.Kind.SUBCONTRACTOR
            ),
            scope="現地測量",
            responsible_name="測量 責任者",
            reason="専門業者に委託するため",
            valid_from=dt.date(2026, 7, 1),
            valid_until=dt.date(2027, 3, 1),
        )

    # --- oversight (R3) -----------------------------------------------------------------------------------

    @cached_property
    def oversight_orderer(self) -> User:
        """The contract's orderer officer; the other contract has none, so one of its own is appointed."""
        from sekisho.core import services
        from sekisho.core.models import Role
        from tests.factories import UserFactory

        if (
            Membership.objects.current()
            .filter(contract=self.contract, user=self.orderer, role=Role.ORDERER)
            .exists()
        ):
            return self.orderer
        user = UserFactory(username=f"orderer-of-{self.contract.pk}", organisation=self.contract.orderer)
        services.appoint_lead(
            self.contract, acting_user=services.system_account(), user=user, role=Role.ORDERER
        )
        return user

    @cached_property
    def report_request(self) -> Any:
        """Requested by the orderer, not answered yet."""
        from sekisho.oversight import services

        return services.create_report_request(
            self.contract,
            acting_user=self.oversight_orderer,
            subject=f"管理状況の報告 {self.marker}",
            detail="記録媒体の管理状況",
            due_on=dt.date(2026, 9, 30),
        )

    @cached_property
    def report_attachment(self) -> Any:
        """An attachment of another request's answer."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        from sekisho.oversight import services

        request = services.create_report_request(
            self.contract,
            acting_user=self.oversight_orderer,
            subject=f"台帳の写し {self.marker}",
            detail="台帳の写しを",
            due_on=dt.date(2026, 9, 30),
        )
        answer = services.answer_report_request(
            request,
            acting_user=self.manager,
            text="添付します",
            files=[SimpleUploadedFile("ledger.csv", b"ref,title\n", content_type="text/csv")],
        )
        return answer.attachments.get()

    @cached_property
    def inspection(self) -> Any:
        """In progress, with R1.1 found wanting and one corrective action requested (not answered)."""
        from sekisho.oversight import inspections
        from sekisho.oversight.models import ItemResult

        inspection = inspections.schedule_inspection(
            self.contract,
            acting_user=self.oversight_orderer,
            title=f"情報管理状況検査 {self.marker}",
            scheduled_on=dt.date(2026, 8, 3),
        )
        inspections.start_inspection(inspection, acting_user=self.oversight_orderer)
        item = inspection.items.get(clause_id="R1.1")
        inspections.record_item(
            item, acting_user=self.oversight_orderer, result=ItemResult.NONCONFORMING, note="不備"
        )
        inspections.add_finding(
            item,
            acting_user=self.oversight_orderer,
            description="台帳の記載漏れ",
            corrective_request="台帳を更新すること",
            due_on=dt.date(2026, 9, 30),
        )
        return inspection

    @cached_property
    def inspection_item(self) -> Any:
        return self.inspection.items.get(clause_id="R1.1")

    @cached_property
    def inspection_finding(self) -> Any:
        return self.inspection.findings.get()

    @cached_property
    def inspector(self) -> Membership:
        """A time-limited inspector of the contract."""
        from sekisho.oversight import inspectors
        from tests.factories import UserFactory

        user = UserFactory(username=f"inspector-of-{self.contract.pk}", organisation=self.contract.orderer)
        return inspectors.grant_inspector(
            self.contract,
            acting_user=self.oversight_orderer,
            user=user,
            expires_at=timezone.now() + dt.timedelta(days=30),
        )

    def make_all(self, user: User | None) -> None:
        for param in PARAMS.values():
            param.value(self, user)

    # --- the person's own -------------------------------------------------------------------------------

    def notification_of(self, user: User) -> Any:
        from sekisho.notifications.services import notify

        if user.pk not in self._notifications:
            self._notifications[user.pk] = notify(
                [user], contract=self.contract, subject=f"お知らせ {self.marker}", body="本文", url="/"
            )[0]
        return self._notifications[user.pk]


@dataclass(frozen=True)
class Param:
    """How to fill one path parameter. *value* gets the contract's objects and the requesting user.

    *model* names the kind of object (None for values that are no object, such as a slug): the
    cross-contract check swaps in the other contract's object of the same kind and expects 404."""

    value: Callable[[Objects, User | None], Any]
    model: str | None


def _own_notification(objs: Objects, user: User | None) -> int:
    # Each person reads their own notification; a person with no membership reads the manager's (never theirs).
    member = (
        user is not None and Membership.objects.current().filter(user=user, contract=objs.contract).exists()
    )
    return objs.notification_of(user if member and user is not None else objs.manager).pk


PARAMS: dict[str, Param] = {
    "contract_id": Param(lambda o, u: o.contract.pk, "contract"),
    "asset_id": Param(lambda o, u: o.asset.pk, "asset"),
    "permit_id": Param(lambda o, u: o.permit.pk, "permit"),
    "incident_id": Param(lambda o, u: o.incident.pk, "incident"),
    "membership_id": Param(lambda o, u: o.membership.pk, "membership"),
    "uid": Param(lambda o, u: o.pc.device.uid, "device"),
    "medium_id": Param(lambda o, u: o.medium.pk, "medium"),
    "transfer_id": Param(lambda o, u: o.transfer.pk, "transfer"),
    "tree_head_id": Param(lambda o, u: o.tree_head.pk, "tree_head"),
    "notification_id": Param(_own_notification, "notification"),
    "entry_id": Param(lambda o, u: o.roster_entry.pk, "roster_entry"),
    "programme_id": Param(lambda o, u: o.programme.pk, "programme"),
    "version": Param(lambda o, u: o.pledge.version, None),  # a version number, the same in every contract
    "sub_id": Param(lambda o, u: o.subcontract.pk, "subcontract"),
    "token": Param(lambda o, u: o.login_link_token, "login_link"),
    "report_request_id": Param(lambda o, u: o.report_request.pk, "report_request"),
    "report_attachment_id": Param(lambda o, u: o.report_attachment.pk, "report_attachment"),
    "inspection_id": Param(lambda o, u: o.inspection.pk, "inspection"),
    "inspection_item_id": Param(lambda o, u: o.inspection_item.pk, "inspection_item"),
    "inspection_finding_id": Param(lambda o, u: o.inspection_finding.pk, "inspection_finding"),
    "inspector_id": Param(lambda o, u: o.inspector.pk, "inspector"),
    # Slugs: each route that has one names its value in its row (params=...).
    "action": Param(lambda o, u: "approve", None),
    "step": Param(lambda o, u: "investigation", None),
}


def fill(
    params: tuple[str, ...], objs: Objects, user: User | None, overrides: dict[str, Any]
) -> dict[str, Any]:
    missing = [p for p in params if p not in overrides and p not in PARAMS]
    if missing:
        raise LookupError(
            f"no factory for path parameter(s) {missing}: add an entry to PARAMS in tests/matrix/objects.py "
            "(and an Objects property that makes one such object in a contract)"
        )
    return {p: overrides[p] if p in overrides else PARAMS[p].value(objs, user) for p in params}


def object_params(params: tuple[str, ...], overrides: dict[str, Any]) -> list[str]:
    """The parameters that name an object of the contract (the cross-contract check swaps these)."""
    return [p for p in params if p not in overrides and p in PARAMS and PARAMS[p].model is not None]
