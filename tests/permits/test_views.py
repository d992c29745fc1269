"""The permit pages through the Django test client: the list, the decider's inbox with approve/deny in place
(with and without htmx), the request form, a permit's page and revoking; outsiders get 404 everywhere."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sekisho.ledger.services import register_asset
from sekisho.permits import selectors
from sekisho.permits import services as permits
from sekisho.permits.models import Permit, PermitState
from tests.assets import DAY, paper

from ..web.test_pages import assert_closed_network_safe, page

pytestmark = pytest.mark.django_db
END = dt.date(2026, 12, 28)
HX = {"HX-Request": "true"}


def _url(name: str, world, *args) -> str:
    return reverse(name, args=[world.contract.pk, *args])


def _request(world, asset, kind="copy", by=None, **over) -> Permit:
    kwargs = dict(
        kind=kind, assets=[asset], reason="現地調査用に1部スキャン", valid_from=DAY, valid_until=END
    )
    if kind == "copy":
        kwargs["copies"] = 1
    if kind in ("third_party", "transfer", "subcontract"):
        kwargs["recipient"] = "倉敷市下水道建設課 分室"
    kwargs.update(over)
    return permits.request_permit(world.contract, acting_user=by or world.staff, **kwargs)


def _queries(client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# --- access -----------------------------------------------------------------------------------------------------


def test_outsider_gets_404_on_every_permit_page(world, client_for, drawing, freeze_today) -> None:
    permit = _request(world, drawing)
    client = client_for("outsider")
    for url in (
        _url("permits:list", world),
        _url("permits:inbox", world),
        _url("permits:inbox-badge", world),
        _url("permits:request", world),
        _url("permits:detail", world, permit.pk),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        html = response.content.decode()
        assert world.contract.title not in html and drawing.title not in html
    for url in (_url("permits:decide", world, permit.pk), _url("permits:revoke", world, permit.pk)):
        assert client.post(url, {"decision": "approve", "note": "x"}).status_code == 404, url
        assert client.post(url, {"decision": "approve", "note": "x"}, headers=HX).status_code == 404, url
    assert client.post(_url("permits:request", world), {"kind": "copy"}).status_code == 404
    permit.refresh_from_db()
    assert permit.state == PermitState.REQUESTED


def test_a_permit_of_another_contract_is_not_found_under_this_one(world, client_for, drawing, freeze_today):
    permit = _request(world, drawing)
    url = reverse("permits:detail", args=[world.other_contract.pk, permit.pk])
    assert client_for("outsider").get(url).status_code == 404
    assert client_for("orderer").get(url).status_code == 404


@pytest.mark.parametrize("persona", ["staff", "sub_staff", "auditor"])
def test_roles_that_decide_nothing_get_403_on_the_inbox(world, client_for, persona) -> None:
    response = client_for(persona).get(_url("permits:inbox", world))
    assert response.status_code == 403
    assert "permit.decide" in response.content.decode()


@pytest.mark.parametrize("persona", ["orderer", "auditor"])
def test_the_orderer_and_auditor_do_not_request(world, client_for, drawing, persona) -> None:
    client = client_for(persona)
    assert client.get(_url("permits:request", world)).status_code == 403
    response = client.post(
        _url("permits:request", world),
        {
            "kind": "copy",
            "assets": [drawing.pk],
            "copies": "1",
            "reason": "r",
            "valid_from": DAY,
            "valid_until": END,
        },
    )
    assert response.status_code == 403
    assert not Permit.objects.filter(kind="copy").exists()
    assert "承諾・許可を申請" not in page(client, _url("permits:list", world))


# --- requesting -------------------------------------------------------------------------------------------------


def test_the_request_form_preselects_the_asset_and_defaults_the_validity(
    world, client_for, drawing, freeze_today
):
    returned = register_asset(world.contract, acting_user=world.manager, data=paper(world, title="別の図面"))
    html = page(client_for("staff"), _url("permits:request", world) + f"?kind=copy&asset={drawing.pk}")
    assert f'value="{drawing.pk}" id="id_assets_0" checked' in html
    assert f'value="{returned.pk}" id="id_assets_1">' in html
    assert '<option value="copy" selected>複写・電子化</option>' in html
    assert 'name="valid_from" value="2026-08-03"' in html, "today"
    assert 'name="valid_until" value="2027-03-19"' in html, "the end of the contract"
    assert 'data-show-if="kind=copy"' in html


def test_staff_request_a_scan_and_land_on_the_permit_page(world, client_for, drawing, freeze_today) -> None:
    client = client_for("staff")
    response = client.post(
        _url("permits:request", world),
        {
            "kind": "copy",
            "assets": [drawing.pk],
            "copies": "1",
            "reason": "現地調査用に1部スキャン",
            "valid_from": "2026-08-03",
            "valid_until": "2027-03-19",
        },
    )
    assert response.status_code == 302
    permit = Permit.objects.get(kind="copy")
    assert (permit.kind, permit.copies, permit.requester, permit.state) == (
        "copy",
        1,
        world.staff,
        "requested",
    )
    assert list(permit.assets.all()) == [drawing]
    html = page(client, response["Location"])
    assert f"承諾を申請しました（申請番号 {permit.pk}）。決定をお待ちください。" in html
    assert 'class="badge badge--permit-requested">申請中<' in html
    assert "根拠条項: R2.3" in html and drawing.title in html
    assert ">決定</h2>" not in html, "the requester does not decide"


def test_a_refused_request_keeps_the_form_and_says_why(world, client_for, drawing, freeze_today) -> None:
    response = client_for("staff").post(
        _url("permits:request", world),
        {
            "kind": "copy",
            "assets": [drawing.pk],
            "reason": "理由",
            "valid_from": "2026-08-03",
            "valid_until": "2027-03-19",
        },
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert_closed_network_safe(html)
    assert "複写・電子化の部数を1〜1000で入力してください。" in html
    assert ">\n理由</textarea>" in html
    assert not Permit.objects.filter(kind="copy").exists()


# --- the inbox and deciding in place ---------------------------------------------------------------------------


def test_the_inbox_holds_what_the_role_decides_and_not_ones_own(
    world, client_for, drawing, freeze_today
) -> None:
    copy = _request(world, drawing)
    transfer = _request(world, drawing, "transfer")
    own_transfer = _request(world, drawing, "transfer", by=world.manager)
    orderer = page(client_for("orderer"), _url("permits:inbox", world))
    assert f'id="permit-row-{copy.pk}"' in orderer
    assert f'id="permit-row-{transfer.pk}"' not in orderer
    manager = page(client_for("manager"), _url("permits:inbox", world))
    assert f'id="permit-row-{transfer.pk}"' in manager
    assert f'id="permit-row-{copy.pk}"' not in manager and f'id="permit-row-{own_transfer.pk}"' not in manager
    assert f'hx-post="{_url("permits:decide", world, copy.pk)}"' in orderer
    assert 'hx-target="closest tr"' in orderer and 'hx-swap="outerHTML"' in orderer


def test_approve_in_place_with_htmx_replaces_the_row(world, client_for, drawing, freeze_today) -> None:
    permit = _request(world, drawing)
    response = client_for("orderer").post(
        _url("permits:decide", world, permit.pk), {"decision": "approve", "note": "承諾します"}, headers=HX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith(f'<tr id="permit-row-{permit.pk}"') and "<html" not in html
    assert 'class="badge badge--permit-approved">承諾済<' in html and "承諾しました。" in html
    assert "<form" not in html
    permit.refresh_from_db()
    assert (permit.state, permit.decided_by, permit.decision_note) == (
        "approved",
        world.orderer,
        "承諾します",
    )


def test_deny_without_a_reason_shows_the_error_in_the_row(world, client_for, drawing, freeze_today) -> None:
    permit = _request(world, drawing)
    response = client_for("orderer").post(
        _url("permits:decide", world, permit.pk), {"decision": "deny", "note": ""}, headers=HX
    )
    assert response.status_code == 200, "htmx swaps only successful responses"
    html = response.content.decode()
    assert html.startswith(f'<tr id="permit-row-{permit.pk}"')
    assert 'role="alert"' in html and "不承諾の理由を入力してください。" in html
    assert 'name="decision" value="deny"' in html, "the form stays for a second try"
    permit.refresh_from_db()
    assert permit.state == PermitState.REQUESTED


def test_deny_with_a_reason_in_place(world, client_for, drawing, freeze_today) -> None:
    permit = _request(world, drawing)
    response = client_for("orderer").post(
        _url("permits:decide", world, permit.pk),
        {"decision": "deny", "note": "原本の閲覧で足ります"},
        headers=HX,
    )
    assert "不承諾としました。" in response.content.decode()
    permit.refresh_from_db()
    assert (permit.state, permit.decision_note) == ("denied", "原本の閲覧で足ります")


def test_approve_without_htmx_redirects_back_to_the_inbox(world, client_for, drawing, freeze_today) -> None:
    permit = _request(world, drawing)
    client = client_for("orderer")
    response = client.post(_url("permits:decide", world, permit.pk), {"decision": "approve", "next": "inbox"})
    assert response.status_code == 302 and response["Location"] == _url("permits:inbox", world)
    html = page(client, response["Location"])
    assert f"申請番号 {permit.pk}: 承諾しました。" in html
    assert "決定を待っている申請はありません。" in html


def test_deny_without_a_reason_and_without_htmx_shows_the_permit_page(
    world, client_for, drawing, freeze_today
):
    permit = _request(world, drawing)
    response = client_for("orderer").post(
        _url("permits:decide", world, permit.pk), {"decision": "deny", "conditions": "条件メモ"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert_closed_network_safe(html)
    assert "不承諾の理由を入力してください。" in html and ">条件メモ</textarea>" in html
    assert Permit.objects.get(pk=permit.pk).state == PermitState.REQUESTED


@pytest.mark.parametrize("persona", ["staff", "auditor"])
def test_roles_that_may_not_decide_are_refused(world, client_for, drawing, freeze_today, persona) -> None:
    permit = _request(world, drawing, by=world.sub_staff)
    client = client_for(persona)
    response = client.post(_url("permits:decide", world, permit.pk), {"decision": "approve"})
    assert response.status_code == 403
    assert "この操作（permit.decide）を行う権限がありません。" in response.content.decode()
    response = client.post(_url("permits:decide", world, permit.pk), {"decision": "approve"}, headers=HX)
    assert "権限がありません" in response.content.decode() and 'role="alert"' in response.content.decode()
    assert Permit.objects.get(pk=permit.pk).state == PermitState.REQUESTED
    assert ">決定</h2>" not in page(client, _url("permits:detail", world, permit.pk))


def test_the_manager_may_not_decide_a_copy_and_is_told_the_clause(world, client_for, drawing, freeze_today):
    permit = _request(world, drawing)
    client = client_for("manager")
    assert ">決定</h2>" not in page(client, _url("permits:detail", world, permit.pk))
    response = client.post(_url("permits:decide", world, permit.pk), {"decision": "approve"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "この種別の申請（複写・電子化）を決定できるのは発注者担当です。" in html
    assert "根拠条項: R2.3" in html


# --- the permit page and revoking -------------------------------------------------------------------------------


def test_the_decider_revokes_an_approved_permit_with_a_reason(
    world, client_for, drawing, copy_permit
) -> None:
    client = client_for("orderer")
    url = _url("permits:detail", world, copy_permit.pk)
    html = page(client, url)
    assert "承諾を取り消す" in html and ">決定</h2>" not in html
    for persona in ("staff", "manager", "auditor"):
        assert "承諾を取り消す" not in page(client_for(persona), url), persona

    response = client.post(_url("permits:revoke", world, copy_permit.pk), {"note": ""})
    assert response.status_code == 422
    assert "取消の理由を入力してください。" in response.content.decode()

    response = client.post(_url("permits:revoke", world, copy_permit.pk), {"note": "業務内容の変更"})
    assert response.status_code == 302
    html = page(client, response["Location"])
    assert "承諾を取り消しました。" in html and 'badge--permit-revoked">取消<' in html
    assert "permit.revoke" in html, "the history on the page"


def test_staff_cannot_revoke(world, client_for, drawing, copy_permit) -> None:
    response = client_for("staff").post(_url("permits:revoke", world, copy_permit.pk), {"note": "x"})
    assert response.status_code == 403
    copy_permit.refresh_from_db()
    assert copy_permit.state == PermitState.APPROVED


def test_the_permit_page_lists_what_was_made_under_it(world, client_for, drawing, copy_permit) -> None:
    from sekisho.ledger.models import LocationKind, Medium, Origin

    scan = register_asset(
        world.contract,
        acting_user=world.staff,
        data=paper(
            world,
            title="台帳図スキャン",
            origin=Origin.COPY,
            parent=drawing,
            medium=Medium.ELECTRONIC,
            location_kind=LocationKind.VAULT,
            quantity=None,
        ),
    )
    html = page(client_for("staff"), _url("permits:detail", world, copy_permit.pk))
    produced = html[html.index('id="produced-table"') :]
    assert scan.ref in produced and drawing.ref in produced
    assert 'badge--permit-used">使用済<' in html
    assert ">履歴</h2>" not in html, "staff do not read the audit"


# --- the list ---------------------------------------------------------------------------------------------------


def test_the_list_filters_by_state_and_kind_and_htmx_gets_the_table(world, client_for, drawing, freeze_today):
    copy = _request(world, drawing)
    transfer = _request(world, drawing, "transfer")
    permits.decide_permit(transfer, acting_user=world.manager, approve=True)
    client = client_for("auditor")
    url = _url("permits:list", world)
    html = page(client, url)
    assert f"#{copy.pk}<" in html and f"#{transfer.pk}<" in html
    html = page(client, url + "?state=approved")
    assert f"#{copy.pk}<" not in html and f"#{transfer.pk}<" in html
    html = page(client, url + "?kind=copy", **HX)
    assert "<html" not in html and f"#{copy.pk}<" in html and f"#{transfer.pk}<" not in html
    assert "R2.3" in html and drawing.ref in html


def test_list_and_inbox_cost_the_same_queries_for_few_and_many_permits(
    world, client_for, drawing, freeze_today
):
    client = client_for("orderer")
    list_url, inbox_url = _url("permits:list", world), _url("permits:inbox", world)
    for _ in range(3):
        _request(world, drawing)
    few = (_queries(client, list_url), _queries(client, inbox_url))
    for _ in range(30):
        _request(world, drawing)
    assert (_queries(client, list_url), _queries(client, inbox_url)) == few


# --- the contract page --------------------------------------------------------------------------------------


def test_the_contract_page_links_the_ledger_and_permits_and_loads_the_inbox_count(
    world, client_for, drawing, freeze_today
) -> None:
    _request(world, drawing)
    _request(world, drawing)
    html = page(client_for("staff"), reverse("web:contract-detail", args=[world.contract.pk]))
    assert f'href="{_url("ledger:list", world)}"' in html and f'href="{_url("permits:list", world)}"' in html
    assert f'hx-get="{_url("permits:inbox-badge", world)}"' in html and 'hx-trigger="load"' in html

    awaiting = selectors.awaiting_decision(world.orderer, world.contract, "orderer_officer").count()
    assert awaiting >= 2
    badge = page(client_for("orderer"), _url("permits:inbox-badge", world), **HX)
    assert f'href="{_url("permits:inbox", world)}"' in badge and f">{awaiting}</span>" in badge
    assert page(client_for("staff"), _url("permits:inbox-badge", world), **HX).strip() == ""
    manager = page(client_for("manager"), _url("permits:inbox-badge", world), **HX)
    assert 'class="count-pill"' in manager, "the manager decides transfers"
