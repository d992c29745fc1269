"""Clearing the shared personas for information (R2.4.1, R2.4.3, R2.6.1), through the services.

The ``world`` fixture calls ``clear_world`` so that every test written before the people gates keeps its
meaning: the world's contractor-side members are on the roster and have acknowledged the default programme,
the subcontract of ``sub_org`` is permitted by the orderer and its flow-down acknowledged (no P8 consent:
personal information stays closed to ``sub_staff``), and both managers are appointed with a signed pledge,
so the contract can become active. Tests of the refusals use new, uncleared people.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

from sekisho.core.models import Contract, User
from sekisho.people import pledges, subcontracts
from sekisho.people import services as people
from sekisho.people.models import AppointmentKind, RosterEntry, StaffCategory
from sekisho.permits import services as permits

from ..factories import PERIOD

IN_PERIOD = dt.date(2026, 8, 3)


def on_roster(
    contract: Contract, user: User, *, acting_user: Any, category: str = StaffCategory.EMPLOYEE
) -> RosterEntry:
    return people.add_to_roster(
        contract,
        acting_user=acting_user,
        organisation=user.organisation,
        user=user,
        name=user.display_name,
        category=category,
        started_on=PERIOD[0],
        department="技術部",
        position="主任",
        contact="086-000-0000",
    )


def clear_contract(contract: Contract, manager: User, members: list[User]) -> dict[User, RosterEntry]:
    programme = people.install_default_programme(contract, acting_user=manager)
    entries = {user: on_roster(contract, user, acting_user=manager) for user in [manager, *members]}
    for user in entries:
        people.acknowledge(programme, acting_user=user, typed_name=user.display_name)
    for kind in (AppointmentKind.INFO_MANAGER, AppointmentKind.PI_MANAGER):
        pledges.appoint(contract, acting_user=manager, kind=kind, entry=entries[manager])
    pledges.sign_pledge(
        contract,
        acting_user=manager,
        addressee="倉敷市長",
        representative="代表取締役 試験 太郎",
        typed_name=manager.display_name,
    )
    return entries


def permit_subcontract(
    world: Any, organisation: Any, responsible: User, *, personal_info: bool = False
) -> Any:
    sub = subcontracts.request_subcontract(
        world.contract,
        acting_user=world.manager,
        organisation=organisation,
        scope="管渠調査の現地測量",
        responsible_name=responsible.display_name,
        reason="測量の専門業者に委託するため",
        valid_from=PERIOD[0],
        valid_until=PERIOD[1],
        personal_info=personal_info,
    )
    # Approving needs "today" within the permit's validity; the world's contract period is fixed.
    with mock.patch("django.utils.timezone.localdate", return_value=IN_PERIOD):
        for permit in filter(None, (sub.permit, sub.pi_permit)):
            permits.decide_permit(permit, acting_user=world.orderer, approve=True, note="承諾します")
    sub.refresh_from_db()
    return sub


def clear_world(world: Any) -> None:
    clear_contract(world.contract, world.manager, [world.staff, world.sub_staff])
    clear_contract(world.other_contract, world.outsider, [])
    sub = permit_subcontract(world, world.sub_org, world.sub_staff)
    subcontracts.acknowledge_flowdown(
        sub, acting_user=world.sub_staff, typed_name=world.sub_staff.display_name
    )
