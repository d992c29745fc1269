from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from sekisho.oversight import inspections, services

from ..factories import UserFactory


@pytest.fixture(autouse=True)
def vault_dirs(settings, tmp_path):
    """Each test its own vault storage and key store (attachments are sealed like vault content)."""
    settings.VAULT_DIR = tmp_path / "vault"
    settings.SEKISHO_VAULT_KEY_DIR = tmp_path / "keys"
    settings.SEKISHO_MASTER_KEY_FILE = tmp_path / "master.key"
    settings.SEKISHO_VAULT_KEY_BACKUPS = [tmp_path / "key-backup"]
    settings.SEKISHO_VAULT_SEGMENT_SIZE = 4096
    settings.SEKISHO_VAULT_BACKEND = "filesystem"
    return tmp_path


def in_days(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


def upload(name: str = "報告書.pdf", content: bytes = b"%PDF-1.4 report", kind: str = "application/pdf"):
    return SimpleUploadedFile(name, content, content_type=kind)


@pytest.fixture
def report_request(world):
    return services.create_report_request(
        world.contract,
        acting_user=world.orderer,
        subject="USBメモリの管理状況",
        detail="記録媒体の管理台帳の写しと、持出し記録を報告してください。",
        due_on=in_days(14),
    )


@pytest.fixture
def answered(world, report_request):
    services.answer_report_request(
        report_request,
        acting_user=world.manager,
        text="管理台帳の写しを添付します。",
        files=[upload(), upload("持出し記録.csv", "日付,件数\n2026-08-01,2\n".encode(), "text/csv")],
    )
    report_request.refresh_from_db()
    return report_request


@pytest.fixture
def inspection(world):
    return inspections.schedule_inspection(
        world.contract,
        acting_user=world.orderer,
        title="令和8年度 第1回 情報管理状況検査",
        scheduled_on=timezone.localdate(),
        place="受注者事務所",
        scope="台帳・端末・記録媒体の実地確認",
    )


@pytest.fixture
def started(world, inspection):
    return inspections.start_inspection(inspection, acting_user=world.orderer)


@pytest.fixture
def inspector_user(world):
    """A person of the orderer, not yet a member (the world's auditor is a member already)."""
    return UserFactory(username="inspector", display_name="検査 花子", organisation=world.orderer_org)
