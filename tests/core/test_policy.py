from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from sekisho.audit.models import AuditEvent
from sekisho.core import policy, services
from sekisho.core.errors import Forbidden, NotFound
from sekisho.core.models import Contract, Membership, Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("persona", ["orderer", "manager", "staff", "sub_staff", "auditor"])
def test_members_see_their_contract_and_not_the_other(world, persona):
    user = getattr(world, persona)
    assert list(policy.visible(user, Contract)) == [world.contract]


def test_outsider_sees_only_their_own_contract(world):
    assert list(policy.visible(world.outsider, Contract)) == [world.other_contract]


def test_outsider_gets_not_found_for_another_contracts_object(world):
    with pytest.raises(NotFound):
        policy.get_visible(world.outsider, Contract, pk=world.contract.pk)
    with pytest.raises(NotFound):
        policy.require(world.outsider, "contract.view", world.contract)


def test_not_found_for_outsider_is_the_same_as_for_a_missing_object(world):
    with pytest.raises(NotFound) as missing:
        policy.get_visible(world.outsider, Contract, pk=999_999)
    with pytest.raises(NotFound) as hidden:
        policy.get_visible(world.outsider, Contract, pk=world.contract.pk)
    assert missing.value.as_dict() == hidden.value.as_dict()


def test_member_without_the_right_gets_forbidden(world):
    with pytest.raises(Forbidden):
        policy.require(world.staff, "audit.view", world.contract)
    assert policy.require(world.auditor, "audit.view", world.contract) == Role.AUDITOR


def test_visible_scopes_related_models_by_contract(world):
    memberships = policy.visible(world.outsider, Membership)
    assert {m.contract_id for m in memberships} == {world.other_contract.pk}
    events = policy.visible(world.outsider, AuditEvent)
    assert events.exists()
    assert not events.filter(contract=world.contract).exists()


def test_ended_membership_loses_access_at_once(world):
    membership = Membership.objects.get(user=world.staff, contract=world.contract)
    services.end_membership(membership, acting_user=world.manager, reason="異動")
    assert not policy.visible(world.staff, Contract).exists()
    with pytest.raises(NotFound):
        policy.require(world.staff, "contract.view", world.contract)


def test_deactivated_user_and_anonymous_see_nothing(world):
    world.staff.is_active = False
    world.staff.save()
    assert not policy.visible(world.staff, Contract).exists()
    assert not policy.visible(AnonymousUser(), Contract).exists()
    with pytest.raises(NotFound):
        policy.require(AnonymousUser(), "contract.view", world.contract)


def test_system_administrator_is_not_a_member_and_sees_no_contract(world):
    assert not policy.visible(world.admin, Contract).exists()


def test_unknown_action_is_a_programming_error(world):
    with pytest.raises(KeyError):
        policy.require(world.manager, "contract.teleport", world.contract)


def test_model_without_contract_path_cannot_be_scoped(world):
    from sekisho.core.models import Organisation

    with pytest.raises(TypeError):
        policy.visible(world.manager, Organisation)
