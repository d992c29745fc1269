"""R2.6.1 / P4: the information manager and the personal-information manager are appointed and report
themselves with the pledge (誓約書 様式1); no contract becomes active without it."""

from __future__ import annotations

import io
import subprocess

import pytest

from sekisho.audit.models import AuditEvent
from sekisho.core import services as core
from sekisho.core.errors import Conflict, Forbidden, Invalid
from sekisho.core.models import Contract, Role
from sekisho.people import documents, gates, pledges
from sekisho.people.models import AppointmentKind, Pledge, RosterEntry, StaffCategory

from ..factories import PERIOD
from ..tools import dark_fraction_of_pdf_page, require_tool
from .clearing import clear_contract, on_roster

pytestmark = pytest.mark.django_db

INFO, PI = AppointmentKind.INFO_MANAGER, AppointmentKind.PI_MANAGER


@pytest.fixture
def draft(world) -> Contract:
    """A new contract of the world's contractor, with its lead but nothing else."""
    contract = core.create_contract(
        acting_user=world.admin,
        number="T-010",
        title="雨水幹線詳細設計業務",
        orderer=world.orderer_org,
        contractor=world.contractor_org,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    core.appoint_lead(contract, acting_user=world.admin, user=world.manager, role=Role.MANAGER)
    return contract


def _activate(contract, world):
    return core.transition_contract(contract, acting_user=world.manager, to_status=Contract.Status.ACTIVE)


def test_activation_is_refused_without_the_appointments_and_the_pledge(world, draft):
    with pytest.raises(Conflict) as exc:
        _activate(draft, world)
    assert (exc.value.code, exc.value.clause) == ("appointment_required", "R2.6.1")
    assert "誓約書" in exc.value.message
    entry = on_roster(draft, world.manager, acting_user=world.manager)
    pledges.appoint(draft, acting_user=world.manager, kind=INFO, entry=entry)
    with pytest.raises(Conflict) as exc:
        _activate(draft, world)
    assert exc.value.clause == "P4", "the personal-information manager is missing"
    pledges.appoint(draft, acting_user=world.manager, kind=PI, entry=entry)
    with pytest.raises(Conflict) as exc:
        _activate(draft, world)
    assert (exc.value.code, exc.value.clause) == ("pledge_required", "R2.6.1")
    draft.refresh_from_db()
    assert draft.status == Contract.Status.DRAFT
    pledges.sign_pledge(
        draft,
        acting_user=world.manager,
        addressee="倉敷市長",
        representative="代表取締役 某",
        typed_name=entry.name,
    )
    _activate(draft, world)
    draft.refresh_from_db()
    assert draft.status == Contract.Status.ACTIVE


def test_a_change_of_manager_needs_a_new_pledge(world, draft):
    clear_contract(draft, world.manager, [])
    pledge = gates.current_pledge(draft)
    other = RosterEntry.objects.create(
        contract=draft,
        organisation=world.contractor_org,
        name="総務 部長",
        category=StaffCategory.DIRECTOR,
        started_on=PERIOD[0],
        created_by=world.manager,
    )
    pledges.appoint(draft, acting_user=world.manager, kind=PI, entry=other)
    pledge.refresh_from_db()
    assert not pledge.is_current and pledge.superseded_reason == "manager_changed"
    with pytest.raises(Conflict) as exc:
        _activate(draft, world)
    assert exc.value.clause == "R2.6.1"
    new = pledges.sign_pledge(
        draft,
        acting_user=world.manager,
        addressee="倉敷市長",
        representative="代表取締役 某",
        typed_name=world.manager.display_name,
    )
    assert new.version == pledge.version + 1
    assert new.content["pi_manager"]["name"] == "総務 部長"
    _activate(draft, world)


def test_the_same_person_may_hold_both_appointments(world):
    appointments = gates.current_appointments(world.contract)
    assert appointments[INFO].entry == appointments[PI].entry
    assert gates.readiness_problems(world.contract) == []


def test_the_information_manager_must_hold_the_managers_role(world):
    staff_entry = RosterEntry.objects.get(contract=world.contract, user=world.staff)
    with pytest.raises(Invalid) as exc:
        pledges.appoint(world.contract, acting_user=world.manager, kind=INFO, entry=staff_entry)
    assert exc.value.clause == "R2.6.1"


def test_a_subcontractors_person_cannot_be_appointed(world):
    sub_entry = RosterEntry.objects.get(contract=world.contract, user=world.sub_staff)
    with pytest.raises(Invalid) as exc:
        pledges.appoint(world.contract, acting_user=world.manager, kind=PI, entry=sub_entry)
    assert exc.value.clause == "P4"


def test_only_the_information_manager_signs_and_with_their_own_name(world):
    with pytest.raises(Forbidden):
        pledges.sign_pledge(
            world.contract,
            acting_user=world.staff,
            addressee="市長",
            representative="社長",
            typed_name=world.staff.display_name,
        )
    with pytest.raises(Invalid) as exc:
        pledges.sign_pledge(
            world.contract,
            acting_user=world.manager,
            addressee="市長",
            representative="社長",
            typed_name="代筆 太郎",
        )
    assert exc.value.clause == "R2.6.1"


def test_each_signing_is_a_new_version_with_the_hash_of_its_content(world):
    first = gates.current_pledge(world.contract)
    second = pledges.sign_pledge(
        world.contract,
        acting_user=world.manager,
        addressee="倉敷市長",
        representative="代表取締役 試験 太郎",
        typed_name=world.manager.display_name,
        seal_box=True,
    )
    first.refresh_from_db()
    assert (first.is_current, second.is_current, second.version) == (False, True, first.version + 1)
    assert pledges.verify_pledge(first) and pledges.verify_pledge(second)
    assert second.content_sha256 == pledges.content_hash(second.content)
    names = {r["name"] for r in second.content["roster"]}
    assert {world.manager.display_name, world.staff.display_name, world.sub_staff.display_name} <= names
    event = AuditEvent.objects.filter(contract=world.contract, action="pledge.sign").last()
    assert event.summary["sha256"] == second.content_sha256
    # Tampering with the stored content shows.
    Pledge.objects.filter(pk=second.pk).update(content={**second.content, "addressee": "誰か"})
    second.refresh_from_db()
    assert not pledges.verify_pledge(second)


@pytest.fixture
def pledge_pdf(world, tmp_path):
    pledge = pledges.sign_pledge(
        world.contract,
        acting_user=world.manager,
        addressee="倉敷市長",
        representative="代表取締役　試験 太郎",
        typed_name=world.manager.display_name,
        seal_box=True,
    )
    path = tmp_path / "pledge.pdf"
    path.write_bytes(documents.pledge_pdf(documents.pledge_data(pledge)))
    return pledge, path


def test_the_pledge_pdf_embeds_the_japanese_font(pledge_pdf):
    _pledge, path = pledge_pdf
    fonts = subprocess.run(
        [require_tool("pdffonts"), str(path)], check=True, capture_output=True, text=True
    ).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    assert {"IPAexMincho", "IPAexGothic"} <= {row[0].split("+")[-1] for row in rows}
    assert all("yes" in row for row in rows)


def test_the_pledge_pdf_carries_the_form_items(world, pledge_pdf):
    pledge, path = pledge_pdf
    text = subprocess.run(
        [require_tool("pdftotext"), str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    flat = "".join(text.split())
    for item in (
        "様式1",
        "誓約書",
        "倉敷市長",
        pledge.content["date_wareki"],
        world.contractor_org.name,
        "代表取締役",
        world.contract.number,
        "下水道管渠調査設計業務",
        "情報管理責任者",
        "個人情報保護管理責任者",
        "技術部",
        "086-000-0000",
        "社員等名簿",
        "印",
        pledge.content_sha256,
        "".join(world.sub_staff.display_name.split()),
        "退職後においても徹底させること",
    ):
        assert "".join(item.split()) in flat, item
    assert pledge.content["date_wareki"].startswith("令和")


def test_the_pledge_pdf_renders_both_pages(pledge_pdf):
    _pledge, path = pledge_pdf
    info = subprocess.run(
        [require_tool("pdfinfo"), str(path)], check=True, capture_output=True, text=True
    ).stdout
    assert "Pages:           2" in info, "the form on one page, the roster on the next"
    assert 0.01 < dark_fraction_of_pdf_page(str(path), 1) < 0.5
    assert 0.002 < dark_fraction_of_pdf_page(str(path), 2) < 0.5


def test_the_pledge_as_word(world):
    from docx import Document

    pledge = gates.current_pledge(world.contract)
    doc = Document(io.BytesIO(documents.pledge_docx(documents.pledge_data(pledge))))
    text = "\n".join(p.text for p in doc.paragraphs) + "\n".join(
        cell.text for table in doc.tables for row in table.rows for cell in row.cells
    )
    assert "誓　約　書" in text
    assert world.contract.number in text
    assert pledge.content_sha256 in text
    assert world.staff.display_name in text


def test_the_draft_preview_is_marked_unsigned(world, tmp_path):
    content = pledges.pledge_content(world.contract, addressee="倉敷市長", representative="", seal_box=False)
    path = tmp_path / "draft.pdf"
    path.write_bytes(documents.pledge_pdf(documents.draft_data(content)))
    text = subprocess.run(
        [require_tool("pdftotext"), str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "署名されていません" in text
