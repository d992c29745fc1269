from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from sekisho.core import services as core
from sekisho.core.models import Organisation, Role, User
from sekisho.people.models import Programme, RosterEntry, StaffCategory
from sekisho.people.texts import DEFAULT_PROGRAMME_CODE

from ..factories import OrganisationFactory, UserFactory
from .clearing import on_roster


@pytest.fixture
def clock(monkeypatch) -> Callable[[dt.datetime], None]:
    """Set the time everything (the gate, the services, the tick) reads as now."""
    from django.utils import timezone

    def set_now(moment: dt.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return set_now


@pytest.fixture
def programme(world) -> Programme:
    return Programme.objects.get(contract=world.contract, code=DEFAULT_PROGRAMME_CODE)


@pytest.fixture
def newcomer(world) -> Callable[..., User]:
    """A new member of the main contract, not cleared: no roster entry, nothing acknowledged."""

    def make(org: Organisation | None = None, *, role: str = Role.STAFF, **kw: Any) -> User:
        user = UserFactory(organisation=org or world.contractor_org, **kw)
        core.add_member(world.contract, acting_user=world.manager, user=user, role=role)
        return user

    return make


@pytest.fixture
def listed(world, newcomer) -> Callable[..., tuple[User, RosterEntry]]:
    """A new member on the roster, who has not acknowledged the training yet."""

    def make(
        org: Organisation | None = None, *, category: str = StaffCategory.EMPLOYEE
    ) -> tuple[User, RosterEntry]:
        user = newcomer(org)
        return user, on_roster(world.contract, user, acting_user=world.manager, category=category)

    return make


@pytest.fixture
def other_sub_org(db) -> Organisation:
    return OrganisationFactory(name="株式会社別の下請", kind=Organisation.Kind.SUBCONTRACTOR)
