"""The people pages through the test client: the training redirect, every page for the roles that may see it,
the downloads, and the closed-network rules (no inline script or style, nothing external)."""

from __future__ import annotations

import gettext
import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from sekisho.audit.models import AuditEvent
from sekisho.people.models import Acknowledgement, Programme, RosterEntry, Subcontract

from ..conftest import verified_client
from ..web.test_pages import assert_closed_network_safe, page

pytestmark = pytest.mark.django_db

PEOPLE = Path(__file__).resolve().parents[2] / "src" / "sekisho" / "people"
TEMPLATES = sorted((PEOPLE / "templates").rglob("*.html"))
CATALOG = PEOPLE.parent / "locale" / "en" / "LC_MESSAGES" / "django.mo"


def _ids(world) -> dict[str, int]:
    return {
        "entry": RosterEntry.objects.get(contract=world.contract, user=world.staff).pk,
        "programme": Programme.objects.get(contract=world.contract).pk,
        "sub": Subcontract.objects.get(contract=world.contract).pk,
    }


def test_an_untrained_member_opening_the_ledger_is_sent_to_the_training(world, listed):
    user, entry = listed()
    client = verified_client(user)
    ledger = reverse("ledger:list", args=[world.contract.pk])
    response = client.get(ledger)
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == reverse("people:training", args=[world.contract.pk])
    assert parse_qs(target.query)["next"] == [ledger]

    html = page(client, response["Location"])
    assert "R2.4.1" in html, "the message names the clause"
    assert "内容を読んで確認する" in html

    programme = Programme.objects.get(contract=world.contract)
    reading = page(
        client, reverse("people:programme", args=[world.contract.pk, programme.pk]) + f"?next={ledger}"
    )
    assert "社員等" in reading and "確認して署名する" in reading
    done = client.post(
        reverse("people:programme-acknowledge", args=[world.contract.pk, programme.pk]),
        {"typed_name": entry.name, "version": programme.current_version_id, "next": ledger},
    )
    assert done.status_code == 302 and done["Location"] == ledger
    assert client.get(ledger).status_code == 200
    assert Acknowledgement.objects.filter(user=user).count() == 1


def test_a_wrong_name_stays_on_the_page_with_the_message(world, listed):
    user, _entry = listed()
    client = verified_client(user)
    programme = Programme.objects.get(contract=world.contract)
    response = client.post(
        reverse("people:programme-acknowledge", args=[world.contract.pk, programme.pk]),
        {"typed_name": "別人", "version": programme.current_version_id},
    )
    html = page(client, response["Location"])
    assert "署名欄には氏名" in html and "R2.4.1" in html


def test_the_api_is_never_redirected(world, newcomer):
    user = newcomer()
    response = verified_client(user).get(f"/api/v1/contracts/{world.contract.pk}/assets")
    assert response.status_code == 403 and response.json()["clause"] == "R2.4.1"


def test_other_refusals_still_render_the_refusal_page(world, listed, clock):
    import datetime as dt

    from django.utils import timezone

    from sekisho.people import services

    user, entry = listed()
    services.acknowledge(
        Programme.objects.get(contract=world.contract), acting_user=user, typed_name=entry.name
    )
    moment = timezone.now() + dt.timedelta(minutes=5)
    services.record_leaving(entry, acting_user=world.manager, left_at=moment, kind="retired")
    client = verified_client(user)
    clock(moment)
    response = client.get(reverse("ledger:list", args=[world.contract.pk]))
    assert response.status_code == 403
    assert "R2.4.2" in response.content.decode()


PAGES = [
    ("people:roster", ()),
    ("people:entry", ("entry",)),
    ("people:training", ()),
    ("people:programme", ("programme",)),
    ("people:training-status", ()),
    ("people:pledge", ()),
    ("people:subcontracts", ()),
    ("people:subcontract", ("sub",)),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
@pytest.mark.parametrize("persona", ["manager", "orderer", "auditor"])
def test_every_page_renders_for_the_readers(world, client_for, name, args, persona):
    ids = _ids(world)
    html = page(client_for(persona), reverse(name, args=[world.contract.pk, *(ids[a] for a in args)]))
    assert world.contract.number in html


@pytest.mark.parametrize(
    ("name", "args"), [p for p in PAGES if p[0] in ("people:roster", "people:pledge", "people:entry")]
)
def test_staff_are_refused_the_roster_and_the_pledge(world, client_for, name, args):
    ids = _ids(world)
    response = client_for("staff").get(reverse(name, args=[world.contract.pk, *(ids[a] for a in args)]))
    assert response.status_code == 403


def test_the_outsider_gets_404_on_every_page(world, client_for):
    ids = _ids(world)
    client = client_for("outsider")
    for name, args in PAGES:
        assert client.get(reverse(name, args=[world.contract.pk, *(ids[a] for a in args)])).status_code == 404


def test_people_index_sends_each_role_to_its_first_page(world, client_for):
    index = reverse("people:index", args=[world.contract.pk])
    assert client_for("manager").get(index)["Location"] == reverse("people:roster", args=[world.contract.pk])
    assert client_for("staff").get(index)["Location"] == reverse("people:training", args=[world.contract.pk])


def test_the_manager_adds_a_person_who_never_logs_in(world, client_for):
    client = client_for("manager")
    response = client.post(
        reverse("people:roster-add", args=[world.contract.pk]),
        {
            "name": "玉野 由美",
            "organisation": world.contractor_org.pk,
            "category": "dispatched",
            "started_on": "2026-07-01",
            "username": "",
        },
    )
    assert response.status_code == 302
    assert RosterEntry.objects.filter(contract=world.contract, name="玉野 由美", user=None).exists()
    assert "玉野 由美" in page(client, reverse("people:roster", args=[world.contract.pk]))


def test_the_subcontractors_responsible_person_signs_the_flowdown_page(world, client_for):
    sub = Subcontract.objects.get(contract=world.contract)
    client = client_for("sub_staff")
    url = reverse("people:subcontract", args=[world.contract.pk, sub.pk])
    html = page(client, url)
    assert "本規定" in html or "取扱規定" in html
    response = client.post(
        reverse("people:subcontract-flowdown", args=[world.contract.pk, sub.pk]),
        {"typed_name": world.sub_staff.display_name},
    )
    assert response["Location"] == url
    assert AuditEvent.objects.filter(contract=world.contract, action="subcontract.flowdown").count() == 2


@pytest.mark.parametrize(
    ("name", "sheet", "header"),
    [("people:roster-xlsx", "社員等名簿", "区分"), ("people:training-xlsx", "研修受講状況", "状態")],
)
def test_the_workbooks_download_and_are_recorded(world, client_for, name, sheet, header):
    response = client_for("orderer").get(reverse(name, args=[world.contract.pk]))
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(wb[sheet].iter_rows(values_only=True))
    assert header in rows[1]
    assert any(world.staff.display_name in row for row in rows[2:])
    assert AuditEvent.objects.filter(contract=world.contract, action="people.export").exists()
    assert client_for("staff").get(reverse(name, args=[world.contract.pk])).status_code == 403


def test_the_pledge_downloads_as_pdf_and_word(world, client_for):
    from sekisho.people.gates import current_pledge

    version = current_pledge(world.contract).version
    client = client_for("orderer")
    pdf = client.get(reverse("people:pledge-pdf", args=[world.contract.pk, version]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    docx = client.get(reverse("people:pledge-docx", args=[world.contract.pk, version]))
    assert docx.status_code == 200 and docx.content.startswith(b"PK")
    preview = client_for("manager").get(reverse("people:pledge-preview", args=[world.contract.pk]))
    assert preview.content.startswith(b"%PDF-")


def test_the_contract_page_links_to_the_people_pages(world, client_for):
    html = page(client_for("staff"), reverse("web:contract-detail", args=[world.contract.pk]))
    assert reverse("people:training", args=[world.contract.pk]) in html


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_templates_have_no_inline_script_or_style(template):
    assert_closed_network_safe(template.read_text(encoding="utf-8"), rendered=False)


def test_every_people_template_string_has_an_english_translation():
    with CATALOG.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    ids: set[str] = set()
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        ids.update(re.findall(r"""{%\s*translate\s+["']([^"']+)["']""", text))
        for body in re.findall(
            r"{%\s*blocktranslate(?:\s+with[^%]*)?\s*%}(.*?){%\s*endblocktranslate\s*%}", text, re.S
        ):
            ids.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body))
    assert len(ids) > 40
    assert sorted(m for m in ids if catalog.gettext(m) == m) == []
