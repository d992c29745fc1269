"""The demo contract: a Kurashiki City sewerage pipe-inspection design contract with one person per role."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.db import transaction

from . import services
from .models import Contract, Role, User

ORDERER = "倉敷市環境局下水道部下水道建設課"
CONTRACTOR = "株式会社水島技術コンサルタント"
SUBCONTRACTOR = "有限会社児島測量設計"
OTHER_CONTRACTOR = "玉島建設コンサルタント株式会社"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    organisation: str
    role: str | None
    contract: str


DEMO_USERS = [
    DemoUser("orderer", "岡山 花子", ORDERER, Role.ORDERER, "main"),
    DemoUser("manager", "水島 健一", CONTRACTOR, Role.MANAGER, "main"),
    DemoUser("staff", "連島 美咲", CONTRACTOR, Role.STAFF, "main"),
    DemoUser("staff2", "福田 大輔", CONTRACTOR, Role.STAFF, "main"),
    DemoUser("sub_staff", "児島 翔太", SUBCONTRACTOR, Role.STAFF, "main"),
    DemoUser("auditor", "真備 恵子", ORDERER, Role.AUDITOR, "main"),
    DemoUser("outsider", "玉島 誠", OTHER_CONTRACTOR, Role.MANAGER, "other"),
]


def generate_password() -> str:
    return secrets.token_urlsafe(12)


@transaction.atomic
def load_demo(password: str | None = None) -> list[tuple[DemoUser, str]]:
    """Create the demo organisations, contracts and users. Returns each user with the password it got.

    The demo is set up by the system account (a superuser without a usable password) through the services,
    so the audit trail shows how the contract came to be.
    """
    admin = services.system_account()
    orgs = {
        ORDERER: services.create_organisation(
            acting_user=admin, name=ORDERER, kind="orderer", address="岡山県倉敷市西中新田640"
        ),
        CONTRACTOR: services.create_organisation(
            acting_user=admin, name=CONTRACTOR, kind="contractor", address="岡山県倉敷市水島東栄町"
        ),
        SUBCONTRACTOR: services.create_organisation(
            acting_user=admin, name=SUBCONTRACTOR, kind="subcontractor", address="岡山県倉敷市児島駅前"
        ),
        OTHER_CONTRACTOR: services.create_organisation(
            acting_user=admin, name=OTHER_CONTRACTOR, kind="contractor", address="岡山県倉敷市玉島"
        ),
    }
    contracts: dict[str, Contract] = {
        "main": services.create_contract(
            acting_user=admin,
            number="倉下建第2026-118号",
            title="令和8年度 倉敷処理区下水道管渠調査設計業務委託",
            purpose="倉敷処理区の下水道管渠（延長約12.4km）のテレビカメラ調査、劣化診断及び改築実施設計",
            orderer=orgs[ORDERER],
            contractor=orgs[CONTRACTOR],
            period_start=dt.date(2026, 6, 1),
            period_end=dt.date(2027, 3, 19),
        ),
        "other": services.create_contract(
            acting_user=admin,
            number="倉下建第2026-131号",
            title="令和8年度 玉島処理区マンホールポンプ場設計業務委託",
            purpose="玉島処理区のマンホールポンプ場3箇所の更新設計",
            orderer=orgs[ORDERER],
            contractor=orgs[OTHER_CONTRACTOR],
            period_start=dt.date(2026, 7, 1),
            period_end=dt.date(2027, 2, 26),
        ),
    }
    created: list[tuple[DemoUser, str]] = []
    users: dict[str, User] = {}
    for spec in DEMO_USERS:
        pw = password or generate_password()
        users[spec.username] = services.create_user(
            acting_user=admin,
            username=spec.username,
            password=pw,
            display_name=spec.display_name,
            email=f"{spec.username}@example.invalid",
            organisation=orgs[spec.organisation],
        )
        created.append((spec, pw))
    # The system administrator appoints each side's lead (orderer officer, information manager); then each
    # side adds its own people through the ordinary service.
    for key in ("main", "other"):
        for spec in DEMO_USERS:
            if spec.contract == key and spec.role in (Role.ORDERER, Role.MANAGER):
                services.appoint_lead(
                    contracts[key], acting_user=admin, user=users[spec.username], role=spec.role
                )
    for spec in DEMO_USERS:
        if spec.contract != "main" or spec.role in (Role.ORDERER, Role.MANAGER) or spec.role is None:
            continue
        appointer = users["orderer"] if spec.organisation == ORDERER else users["manager"]
        services.add_member(
            contracts["main"], acting_user=appointer, user=users[spec.username], role=spec.role
        )
    # The people: roster, training (all acknowledged but staff2), both managers and the signed pledge, the
    # subcontract permitted with its flow-down (R2.4.1, R2.4.3, R2.6.1).
    from sekisho.people.demo import load_people_demo

    load_people_demo(contracts, users)
    # Compliance: one breach more (important photos outside the vault, R2.7ウ) and a first evaluation.
    from sekisho.compliance.demo import load_compliance_demo

    load_compliance_demo(contracts, users)
    return created
