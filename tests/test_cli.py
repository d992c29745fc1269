from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from sekisho.audit.models import AuditEvent
from sekisho.core.auth import user_for_token
from sekisho.core.demo import DEMO_USERS
from sekisho.core.models import ApiToken, Contract, Membership, User

pytestmark = pytest.mark.django_db


def test_demo_loads_the_contract_once_and_prints_each_user_with_a_password():
    out = io.StringIO()
    call_command("demo", stdout=out)
    text = out.getvalue()
    for spec in DEMO_USERS:
        assert spec.username in text
    main = Contract.objects.get(number="倉下建第2026-118号")
    roles = set(Membership.objects.filter(contract=main).values_list("user__username", "role"))
    assert roles == {
        ("orderer", "orderer_officer"),
        ("manager", "info_manager"),
        ("staff", "staff"),
        ("staff2", "staff"),
        ("sub_staff", "staff"),
        ("auditor", "auditor"),
    }
    assert User.objects.get(username="sub_staff").organisation.kind == "subcontractor"
    # Everything went through the services: the contract's history starts with its creation.
    assert AuditEvent.objects.filter(contract=main).order_by("index").first().action == "contract.create"
    again = io.StringIO()
    call_command("demo", stdout=again)
    assert "already present" in again.getvalue()
    assert Contract.objects.count() == 2


def test_demo_passwords_work_and_differ_between_users():
    out = io.StringIO()
    call_command("demo", stdout=out)
    passwords = {}
    for line in out.getvalue().splitlines():
        parts = line.split()
        if parts and parts[0] in {s.username for s in DEMO_USERS}:
            passwords[parts[0]] = parts[1]
    assert len(set(passwords.values())) == len(DEMO_USERS)
    assert User.objects.get(username="staff").check_password(passwords["staff"])


def test_token_create_prints_the_token_once_and_stores_its_hash(world):
    out = io.StringIO()
    call_command("token", "create", "staff", "--name", "nightly export", stdout=out, stderr=io.StringIO())
    text = out.getvalue().strip()
    assert user_for_token(text) == world.staff
    token = ApiToken.objects.get(user=world.staff)
    assert text.split("_", 2)[2] not in token.secret_hash
    assert token.expires_at is not None


def test_token_create_for_unknown_user_fails_clearly(world):
    with pytest.raises(CommandError, match="利用者が見つかりません"):
        call_command("token", "create", "ghost", "--name", "x")


def test_createuser_reads_the_password_file_and_refuses_weak_ones(world, tmp_path):
    good = tmp_path / "pw"
    good.write_text("a-very-long-passphrase-2026\n", encoding="utf-8")
    call_command(
        "createuser",
        "newperson",
        "--organisation",
        world.contractor_org.name,
        "--password-file",
        str(good),
        stdout=io.StringIO(),
    )
    assert User.objects.get(username="newperson").check_password("a-very-long-passphrase-2026")
    weak = tmp_path / "weak"
    weak.write_text("123", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("createuser", "weakling", "--password-file", str(weak))
    assert not User.objects.filter(username="weakling").exists()


def test_console_script_passes_through_to_django(capsys):
    from sekisho.cli import main

    main(["check"])
    assert "no issues" in capsys.readouterr().out
