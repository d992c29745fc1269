"""The close-out pages: the checklist with its filters (htmx fragment) and bulk actions, the orderer's inbox with
in-place decisions, the certificate downloads and the plan page; every template string translated."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.urls import reverse

from sekisho.closeout.models import CloseOutItem, ItemState
from sekisho.ledger.models import AssetState

from ..web.test_pages import assert_closed_network_safe
from .conftest import item_ids

pytestmark = pytest.mark.django_db

APP = Path(__file__).resolve().parents[2] / "src" / "sekisho" / "closeout"
TEMPLATES = sorted((APP / "templates").rglob("*.html"))
CATALOG = APP.parent / "locale" / "en" / "LC_MESSAGES" / "django.mo"


def url(name: str, world) -> str:
    return reverse(f"closeout:{name}", args=[world.contract.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def test_checklist_lists_every_item_and_filters_by_state_and_medium(world, opened, client_for):
    client = client_for("manager")
    html = client.get(url("checklist", world)).content.decode()
    assert_closed_network_safe(html)
    for asset in opened.all:
        assert asset.ref in html
    paper = client.get(url("checklist", world), {"medium": "paper"}, headers={"HX-Request": "true"})
    fragment = paper.content.decode()
    assert "<html" not in fragment and 'id="closeout-table"' in fragment
    assert opened.drawing.ref in fragment and opened.report.ref not in fragment
    handed = client.get(url("checklist", world), {"state": "handed_over"}).content.decode()
    assert opened.drawing.ref not in handed


def test_bulk_hand_over_of_everything_matching_the_filter(world, opened, client_for):
    from sekisho.closeout import services

    # One paper item is handed over already: "all matching" takes the open ones and leaves it alone.
    services.hand_over(world.contract, acting_user=world.manager, item_ids=item_ids(opened.drawing))
    response = client_for("manager").post(
        url("bulk", world),
        {"action": "hand-over", "all_matching": "on", "f-medium": "paper", "note": "窓口で手渡し"},
    )
    assert response.status_code == 302 and response["Location"].endswith("?medium=paper")
    assert any("2件を返却済み" in m for m in messages_of(response))
    states = dict(CloseOutItem.objects.values_list("asset__ref", "state"))
    assert states[opened.drawing.ref] == states[opened.residents.ref] == ItemState.HANDED_OVER
    assert states[opened.report.ref] == ItemState.OPEN


def test_a_refused_bulk_action_changes_nothing_and_says_why_with_the_clause(world, opened, client_for):
    response = client_for("manager").post(
        url("bulk", world),
        {
            "action": "retain",
            "item": item_ids(opened.drawing, opened.residents),
            "basis": "保存",
            "law": "会計法",
        },
    )
    assert response.status_code == 302
    [message] = messages_of(response)
    assert "発注者の指示がなければ保存できません" in message and "P9" in message
    assert not CloseOutItem.objects.exclude(state=ItemState.OPEN).exists()


def test_bulk_actions_are_refused_to_the_wrong_role(world, opened, client_for):
    ids = item_ids(opened.drawing)
    assert (
        client_for("orderer").post(url("bulk", world), {"action": "hand-over", "item": ids}).status_code
        == 403
    )
    assert (
        client_for("manager").post(url("bulk", world), {"action": "confirm-receipt", "item": ids}).status_code
        == 403
    )
    assert client_for("staff").get(url("checklist", world)).status_code == 403
    assert client_for("auditor").get(url("checklist", world)).status_code == 200


def test_the_orderers_inbox_confirms_a_row_in_place(world, opened, client_for):
    from sekisho.closeout import services

    ids = item_ids(opened.drawing)
    services.hand_over(world.contract, acting_user=world.manager, item_ids=ids, note="窓口で手渡し")
    orderer = client_for("orderer")
    html = orderer.get(url("inbox", world)).content.decode()
    assert_closed_network_safe(html)
    assert opened.drawing.ref in html and "窓口で手渡し" in html
    row = orderer.post(
        url("decide", world), {"item": ids[0], "decision": "confirm"}, headers={"HX-Request": "true"}
    )
    assert row.status_code == 200 and "受領を確認しました。" in row.content.decode()
    opened.drawing.refresh_from_db()
    assert opened.drawing.state == AssetState.RETURNED
    assert (
        client_for("manager").post(url("decide", world), {"item": ids[0], "decision": "confirm"}).status_code
        == 403
    )


def test_sending_back_without_a_reason_is_answered_in_the_row(world, opened, client_for):
    from sekisho.closeout import services

    ids = item_ids(opened.drawing)
    services.hand_over(world.contract, acting_user=world.manager, item_ids=ids)
    row = client_for("orderer").post(
        url("decide", world),
        {"item": ids[0], "decision": "send-back", "note": ""},
        headers={"HX-Request": "true"},
    )
    assert "差し戻す理由を入力してください。" in row.content.decode()
    assert CloseOutItem.objects.get(pk=ids[0]).state == ItemState.HANDED_OVER


def test_the_certificate_cannot_be_downloaded_before_it_is_issued(world, opened, client_for):
    response = client_for("auditor").get(url("certificate-pdf", world))
    assert response.status_code == 409 and "R2.5" in response.content.decode()


def test_the_plan_page_previews_the_section_and_offers_the_downloads(world, client_for):
    html = client_for("orderer").get(url("plan", world)).content.decode()
    assert_closed_network_safe(html)
    assert "管理体制" in html and world.manager.display_name in html
    pdf = client_for("auditor").get(url("plan-pdf", world))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert client_for("staff").get(url("plan", world)).status_code == 403


@pytest.mark.parametrize(
    "name", ["checklist", "inbox", "plan", "plan-pdf", "plan-docx", "certificate-pdf", "certificate-docx"]
)
def test_outsider_gets_not_found_without_a_hint(world, client_for, name):
    response = client_for("outsider").get(url(name, world))
    assert response.status_code == 404
    assert world.contract.number not in response.content.decode(errors="replace")


@pytest.mark.parametrize(
    "name", ["open", "bulk", "shred", "decide", "certificate-issue", "certificate-confirm"]
)
def test_outsider_posts_get_not_found(world, client_for, name):
    assert (
        client_for("outsider").post(url(name, world), {"action": "hand-over", "item": 1}).status_code == 404
    )


def test_the_contract_page_links_to_the_close_out_and_the_plan(world, client_for):
    html = (
        client_for("manager").get(reverse("web:contract-detail", args=[world.contract.pk])).content.decode()
    )
    assert url("checklist", world) in html and url("plan", world) in html
    staff = client_for("staff").get(reverse("web:contract-detail", args=[world.contract.pk])).content.decode()
    assert url("checklist", world) not in staff


def test_templates_have_no_inline_script_or_style():
    for template in TEMPLATES:
        assert_closed_network_safe(template.read_text(encoding="utf-8"), rendered=False)


def test_every_template_string_has_a_compiled_english_translation():
    with CATALOG.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    ids: set[str] = set()
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        ids.update(re.findall(r"""{%\s*translate\s+["']([^"']+)["']""", text))
        for body in re.findall(
            r"{%\s*blocktranslate\s+with[^%]*%}(.*?){%\s*endblocktranslate\s*%}", text, re.S
        ):
            ids.add(re.sub(r"%(?!\()", "%%", re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body)))
    assert len(ids) > 60
    missing = sorted(i for i in ids if catalog.gettext(i) == i)
    assert not missing, missing
