"""One world for a whole matrix module, every request rolled back.

Building the shared personas takes a good part of a second; the matrix makes thousands of requests. So the
world is built once per module inside a transaction that is rolled back at the end of the module (what
Django's ``TestCase.setUpTestData`` does), and every single request runs in a savepoint of its own that is
rolled back after it: a POST by one persona never changes what the next persona sees. Nothing is ever
committed, so the append-only audit table (which refuses the flush of ``transactional_db``) is no obstacle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from sekisho.core.models import User

from .objects import MAIN_MARKER, OTHER_MARKER, Objects

TODAY = dt.date(2026, 8, 3)  # inside the world's contract period (tests/factories.PERIOD)
MEMBERS = ("orderer", "manager", "staff", "sub_staff", "auditor")
PERSONAS = (*MEMBERS, "outsider", "anonymous")
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Matrix:
    world: Any
    main: Objects
    other: Objects
    tokens: dict[str, str] = field(default_factory=dict)

    def user(self, persona: str) -> User | None:
        return None if persona == "anonymous" else getattr(self.world, persona)

    def api_client(self, persona: str) -> Client:
        if persona == "anonymous":
            return Client()
        return Client(headers={"Authorization": f"Bearer {self.tokens[persona]}"})

    def browser(self, persona: str) -> Client:
        """A browser session past the second factor. Make it inside the request's savepoint: a request
        may rotate the session key, and the rolled-back session must not outlive it."""
        from tests.conftest import verified_client

        user = self.user(persona)
        return Client() if user is None else verified_client(user)

    def secrets_of_main(self) -> list[str]:
        return [self.world.contract.number, self.world.contract.title, MAIN_MARKER]

    def secrets_of_other(self) -> list[str]:
        return [self.world.other_contract.number, self.world.other_contract.title, OTHER_MARKER]


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run a request in a savepoint and undo whatever it wrote."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _build_world() -> Any:
    # The shared personas, made exactly as tests/conftest.py's ``world`` fixture makes them (its function is
    # called directly here: a fixture is per test, this world is per module).
    from tests.conftest import world as world_fixture

    return world_fixture.__wrapped__(None)  # type: ignore[attr-defined]


def _other_staff(world: Any) -> User:
    """A cleared staff member of the other contract: some of its objects need two people (R2.7オ: nobody
    decides their own request)."""
    from sekisho.core import services
    from sekisho.core.models import Role
    from sekisho.people import services as people
    from sekisho.people.models import Programme
    from tests.factories import UserFactory
    from tests.people.clearing import on_roster

    user = UserFactory(username="other_staff", organisation=world.other_org)
    services.add_member(world.other_contract, acting_user=world.outsider, user=user, role=Role.STAFF)
    on_roster(world.other_contract, user, acting_user=world.outsider)
    for programme in Programme.objects.filter(contract=world.other_contract):
        people.acknowledge(programme, acting_user=user, typed_name=user.display_name)
    return user


@pytest.fixture(scope="module")
def matrix(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    from sekisho.core.auth import issue_api_token

    root = tmp_path_factory.mktemp("matrix-vault")
    with ExitStack() as stack:
        stack.enter_context(django_db_blocker.unblock())
        stack.enter_context(
            override_settings(
                PASSWORD_HASHERS=FAST_HASHER,
                VAULT_DIR=root / "vault",
                SEKISHO_VAULT_BACKEND="filesystem",
                SEKISHO_VAULT_KEY_DIR=root / "keys",
                SEKISHO_MASTER_KEY_FILE=root / "master.key",
                SEKISHO_VAULT_KEY_BACKUPS=[],
                SEKISHO_VAULT_SEGMENT_SIZE=4096,
            )
        )
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
        outer = transaction.atomic()
        outer.__enter__()
        try:
            world = _build_world()
            main = Objects(
                world.contract,
                manager=world.manager,
                staff=world.staff,
                orderer=world.orderer,
                marker=MAIN_MARKER,
            )
            other = Objects(
                world.other_contract,
                manager=world.outsider,
                staff=_other_staff(world),
                orderer=None,
                marker=OTHER_MARKER,
            )
            m = Matrix(world=world, main=main, other=other)
            for persona in PERSONAS:
                user = m.user(persona)
                if user is not None:
                    m.tokens[persona] = issue_api_token(user, acting_user=user, name="matrix")[1]
            # Every object now, in the module's transaction: one made lazily during a test would be rolled
            # back with that test (pytest-django's per-test savepoint) and leave a stale id behind.
            for persona in PERSONAS:
                main.make_all(m.user(persona))
            other.make_all(world.outsider)
            yield m
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
