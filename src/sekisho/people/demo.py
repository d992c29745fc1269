"""The people of the demo contract, set up through the services as the information manager would.

Everyone has acknowledged the training except 福田 大輔 (staff2), who is sent to the training when he opens
the ledger. Two people who never log in (a director and a dispatched worker) were trained in a session; the
personal-information manager is the director. The subcontractor is permitted by the orderer and its
responsible person has acknowledged the flow-down; it has no consent for personal information (P8).

The other contract is left as it was set up (no programme yet): its information manager would be asked to set
up training before reaching information there.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from sekisho.core.models import Contract, User
from sekisho.permits import services as permits

from . import pledges, services, subcontracts
from .models import AppointmentKind, SessionMethod, StaffCategory

# (username or None, name, category, department, position, contact)
MAIN_ROSTER: list[tuple[str | None, str, str, str, str, str]] = [
    ("manager", "水島 健一", StaffCategory.EMPLOYEE, "技術部", "部長", "086-444-0001"),
    ("staff", "連島 美咲", StaffCategory.EMPLOYEE, "技術部 調査課", "主任", "086-444-0002"),
    ("staff2", "福田 大輔", StaffCategory.CONTRACT_STAFF, "技術部 調査課", "", "086-444-0003"),
    (None, "倉敷 太郎", StaffCategory.DIRECTOR, "管理部", "取締役", "086-444-0010"),
    (None, "玉野 由美", StaffCategory.DISPATCHED, "技術部 調査課", "", ""),
]
SUB_ROSTER = [("sub_staff", "児島 翔太", StaffCategory.EMPLOYEE, "測量課", "課長", "086-472-0001")]


def load_people_demo(contracts: dict[str, Contract], users: dict[str, User]) -> None:
    contract = contracts["main"]
    manager, orderer = users["manager"], users["orderer"]
    programme = services.install_default_programme(contract, acting_user=manager)
    entries = {}
    for username, name, category, department, position, contact in MAIN_ROSTER + SUB_ROSTER:
        user = users[username] if username else None
        entries[name] = services.add_to_roster(
            contract,
            acting_user=manager,
            organisation=user.organisation if user else contract.contractor,  # type: ignore[arg-type]
            user=user,
            name=name,
            category=category,
            department=department,
            position=position,
            contact=contact,
            started_on=contract.period_start,
        )
    for username in ("manager", "staff", "sub_staff"):
        services.acknowledge(programme, acting_user=users[username], typed_name=entries_name(username))
    services.record_session(
        programme,
        acting_user=manager,
        held_at=timezone.now() - dt.timedelta(hours=1),
        method=SessionMethod.CLASSROOM,
        instructor="水島 健一",
        place="本社 会議室",
        attendees=[(entries["倉敷 太郎"], "倉敷 太郎"), (entries["玉野 由美"], "玉野 由美")],
    )
    pledges.appoint(
        contract, acting_user=manager, kind=AppointmentKind.INFO_MANAGER, entry=entries["水島 健一"]
    )
    pledges.appoint(
        contract, acting_user=manager, kind=AppointmentKind.PI_MANAGER, entry=entries["倉敷 太郎"]
    )
    pledges.sign_pledge(
        contract,
        acting_user=manager,
        addressee="倉敷市長",
        representative="代表取締役　水島 一郎",
        typed_name="水島 健一",
        seal_box=True,
    )
    _subcontract(contract, manager, orderer, users["sub_staff"])


def entries_name(username: str) -> str:
    return next(name for u, name, *_rest in MAIN_ROSTER + SUB_ROSTER if u == username)


def _subcontract(contract: Contract, manager: User, orderer: User, responsible: User) -> None:
    sub_org = responsible.organisation
    assert sub_org is not None
    sub = subcontracts.request_subcontract(
        contract,
        acting_user=manager,
        organisation=sub_org,
        scope="管渠調査の現地測量（マンホール位置・管路延長の測量）",
        responsible_name=entries_name(responsible.username),
        responsible_title="測量課長",
        reason="測量の専門業者に現地測量を委託するため",
        valid_from=contract.period_start,
        valid_until=contract.period_end,
    )
    if contract.period_end >= timezone.localdate():  # an ended period cannot be approved any more
        permits.decide_permit(sub.permit, acting_user=orderer, approve=True, note="現地測量に限り承諾します")
    subcontracts.acknowledge_flowdown(
        sub, acting_user=responsible, typed_name=entries_name(responsible.username)
    )
