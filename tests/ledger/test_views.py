"""The ledger's browser pages through the Django test client: who sees what, the refusals with their clause,
the htmx fragment, and a number of queries that does not grow with the ledger."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sekisho.core.errors import Invalid
from sekisho.ledger import views as ledger_views
from sekisho.ledger.models import Asset, Origin, PersonalCategory
from sekisho.ledger.services import register_asset
from sekisho.permits import services as permits
from tests.assets import DAY, electronic, paper

from ..web.test_pages import assert_closed_network_safe, page

pytestmark = pytest.mark.django_db

SRC = Path(__file__).resolve().parents[2] / "src" / "sekisho"
OWN_TEMPLATES = sorted(
    [*(SRC / "ledger" / "templates").rglob("*.html"), *(SRC / "permits" / "templates").rglob("*.html")]
)
CATALOG = SRC / "locale" / "en" / "LC_MESSAGES" / "django.mo"


def _url(name: str, world, *args) -> str:
    return reverse(name, args=[world.contract.pk, *args])


def _form(world, **over) -> dict[str, object]:
    """What a person types into the register form for a lent paper drawing."""
    values: dict[str, object] = {
        "title": "下水道台帳図 第12号（紙）",
        "medium": "paper",
        "origin": "provided",
        "received_on": DAY.isoformat(),
        "custodian": world.staff.pk,
        "location_kind": "cabinet",
        "location": "3階書庫A-2",
        "quantity": "1",
        "confidentiality": "2",
        "integrity": "1",
        "availability": "1",
    }
    values.update(over)
    return values


def _scan(world, drawing, **over) -> dict[str, object]:
    values: dict[str, object] = {
        "title": "下水道台帳図 第12号（スキャン）",
        "medium": "electronic",
        "origin": "copy",
        "parent": drawing.ref,
        "location_kind": "vault",
        "location": "",
        "quantity": "",
    }
    return _form(world, **{**values, **over})


def _many(world, count: int) -> None:
    for n in range(count):
        data = paper(world, title=f"図面{n:03d}") if n % 2 else electronic(world, title=f"データ{n:03d}")
        register_asset(world.contract, acting_user=world.manager, data=data)


# --- templates ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("template", OWN_TEMPLATES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ledger_and_permit_templates_have_no_inline_script_or_style(template: Path) -> None:
    assert_closed_network_safe(template.read_text(encoding="utf-8"), rendered=False)


def test_every_ledger_and_permit_template_string_has_an_english_translation() -> None:
    with CATALOG.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    ids: set[str] = set()
    for template in OWN_TEMPLATES:
        text = template.read_text(encoding="utf-8")
        ids.update(re.findall(r"""{%\s*translate\s+["']([^"']+)["']""", text))
        for body in re.findall(
            r"{%\s*blocktranslate\s+with[^%]*%}(.*?){%\s*endblocktranslate\s*%}", text, re.S
        ):
            ids.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body))
    assert len(ids) > 50
    assert sorted(m for m in ids if catalog.gettext(m) == m) == []


# --- access -----------------------------------------------------------------------------------------------------


def test_outsider_gets_404_on_every_ledger_page(world, client_for, drawing) -> None:
    client = client_for("outsider")
    for url in (
        _url("ledger:list", world),
        _url("ledger:register", world),
        _url("ledger:detail", world, drawing.pk),
        _url("ledger:list", world) + "?q=台帳図",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        html = response.content.decode()
        assert world.contract.title not in html and drawing.title not in html
    assert client.post(_url("ledger:register", world), _form(world)).status_code == 404
    assert client.post(_url("ledger:import", world), {}).status_code == 404
    assert Asset.objects.count() == 1


def test_an_asset_of_another_contract_is_not_found_under_this_one(world, client_for, drawing) -> None:
    response = client_for("manager").get(reverse("ledger:detail", args=[world.other_contract.pk, drawing.pk]))
    assert response.status_code == 404
    response = client_for("outsider").get(
        reverse("ledger:detail", args=[world.other_contract.pk, drawing.pk])
    )
    assert response.status_code == 404


@pytest.mark.parametrize("persona", ["orderer", "auditor"])
def test_orderer_and_auditor_get_403_on_the_register_form(world, client_for, persona) -> None:
    client = client_for(persona)
    response = client.get(_url("ledger:register", world))
    assert response.status_code == 403
    assert "asset.register" in response.content.decode()
    assert client.post(_url("ledger:register", world), _form(world)).status_code == 403
    assert Asset.objects.count() == 0


@pytest.mark.parametrize(
    ("persona", "register", "export", "import_"),
    [
        ("orderer", False, True, False),
        ("manager", True, True, True),
        ("staff", True, False, False),
        ("auditor", False, True, False),
    ],
)
def test_the_list_offers_only_the_buttons_of_the_role(world, client_for, persona, register, export, import_):
    html = page(client_for(persona), _url("ledger:list", world))
    assert ("情報を登録" in html) is register
    assert (f'href="/api/v1/contracts/{world.contract.pk}/ledger.xlsx"' in html) is export
    assert (f'href="/api/v1/contracts/{world.contract.pk}/ledger.xlsx?wareki=true"' in html) is export
    assert ("Excel/CSVから取込" in html) is import_


# --- the list ---------------------------------------------------------------------------------------------------


def test_the_list_shows_the_ledger_columns_in_wareki_with_badges(world, client_for, drawing) -> None:
    register_asset(
        world.contract,
        acting_user=world.manager,
        data=electronic(
            world,
            title="受益者負担金 賦課名簿",
            important=True,
            confidentiality=3,
            integrity=2,
            availability=2,
            has_personal_info=True,
            personal_categories=[PersonalCategory.NAME, PersonalCategory.SENSITIVE],
            personal_count=120,
            personal_purpose="賦課の確認",
            personal_necessity="設計に必要",
        ),
    )
    html = page(client_for("auditor"), _url("ledger:list", world))
    for header in ("台帳番号", "名称", "媒体", "由来", "元の情報", "受領・作成日", "管理者", "保管場所"):
        assert f">{header}</th>" in html, header
    assert "重要/機密性-完全性-可用性" in html and ">個人情報</th>" in html
    assert "A-000001" in html and "A-000002" in html
    assert "令和8年7月1日" in html
    assert world.staff.display_name in html
    assert "3階書庫A-2" in html
    assert 'class="tag tag--important">重要<' in html and ">3-2-2<" in html
    assert 'class="tag tag--sensitive">要配慮<' in html
    assert html.count('class="badge badge--asset-held">保管中<') == 2


def test_search_and_filters_narrow_the_list(world, client_for, drawing) -> None:
    register_asset(world.contract, acting_user=world.manager, data=electronic(world, title="管渠調査結果CSV"))
    client = client_for("manager")
    base = _url("ledger:list", world)
    html = page(client, base + "?medium=electronic")
    assert "管渠調査結果CSV" in html and drawing.title not in html
    html = page(client, base + "?q=台帳図")
    assert drawing.title in html and "管渠調査結果CSV" not in html
    html = page(client, base + "?q=A-000002")
    assert "管渠調査結果CSV" in html and drawing.title not in html
    html = page(client, base + "?personal=yes")
    assert "条件に合う情報はありません。" in html
    html = page(client, base + "?state=held&confidentiality=2&important=no")
    assert drawing.title in html and "管渠調査結果CSV" in html
    html = page(client, base + "?medium=nonsense")
    assert drawing.title in html, "a bad filter value is ignored, not an error"


def test_htmx_gets_only_the_table_and_the_pager_keeps_the_filters(world, client_for) -> None:
    _many(world, 110)
    client = client_for("manager")
    url = _url("ledger:list", world)
    full = page(client, url + "?medium=paper")
    assert full.startswith("<!doctype html>")
    assert (
        f'hx-get="{url}"' in full and 'hx-target="#ledger-results"' in full and 'hx-push-url="true"' in full
    )
    assert full.count('<tr>\n          <td class="nowrap mono">') == 50
    assert "1 / 2 ページ（全 55 件）" in full
    assert 'href="?medium=paper&amp;page=2"' in full

    fragment = page(client, url + "?medium=paper&page=2", HX_Request="true")
    assert "<html" not in fragment and "<header" not in fragment and 'id="ledger-results"' not in fragment
    assert "<table" in fragment and "2 / 2 ページ（全 55 件）" in fragment
    assert 'hx-get="?medium=paper&amp;page=1"' in fragment
    assert "データ" not in fragment, "the filter still applies on page 2"

    restored = page(client, url + "?page=2", HX_Request="true", HX_History_Restore_Request="true")
    assert restored.startswith("<!doctype html>")


def _queries(client, url: str) -> int:
    client.get(url)  # warm up the session and caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_list_costs_the_same_number_of_queries_for_5_and_60_assets(world, client_for) -> None:
    client = client_for("manager")
    url = _url("ledger:list", world)
    _many(world, 5)
    few = _queries(client, url)
    _many(world, 55)
    assert Asset.objects.count() == 60
    assert _queries(client, url) == few
    assert few <= 20, few


# --- registering ------------------------------------------------------------------------------------------------


def test_staff_registers_a_paper_drawing_and_lands_on_its_page(world, client_for) -> None:
    client = client_for("staff")
    form = page(client, _url("ledger:register", world))
    assert 'type="date"' in form and f'value="{world.staff.pk}" selected' in form
    response = client.post(_url("ledger:register", world), _form(world))
    assert response.status_code == 302
    asset = Asset.objects.get()
    assert response["Location"] == _url("ledger:detail", world, asset.pk)
    html = page(client, response["Location"])
    assert "台帳に登録しました（台帳番号 A-000001）。" in html
    assert (asset.medium, asset.origin, asset.quantity, asset.custodian) == (
        "paper",
        "provided",
        1,
        world.staff,
    )


def test_the_services_findings_are_shown_next_to_their_fields(world, client_for) -> None:
    response = client_for("staff").post(
        _url("ledger:register", world), _form(world, title="", quantity="", location_kind="vault")
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert_closed_network_safe(html)
    assert "入力内容に誤りがあります。各項目の表示を確認してください。" in html
    title_field = html[html.index('name="title"') - 600 : html.index('name="title"') + 400]
    assert "名称を入力してください。" in title_field
    assert "紙の情報は数量（1以上）を入力してください。" in html
    assert "紙の情報の保管場所は書庫・保管室にしてください。" in html
    assert 'value="3階書庫A-2"' in html, "what was typed is kept"
    assert Asset.objects.count() == 0


def test_personal_information_needs_purpose_with_its_clause_and_its_fields_reveal(world, client_for) -> None:
    client = client_for("staff")
    form = page(client, _url("ledger:register", world))
    assert 'data-show-if="has_personal_info"' in form and "/static/web/forms.js" in form
    response = client.post(
        _url("ledger:register", world), _form(world, has_personal_info="on", personal_categories=["name"])
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "個人情報の収集・利用の目的を入力してください。（根拠条項: P5）" in html
    assert "本人の数（1以上）を入力してください。（根拠条項: P1）" in html


def test_a_scan_without_permit_is_refused_with_the_clause_and_the_form_keeps_its_data(
    world, client_for, drawing, freeze_today
) -> None:
    client = client_for("staff")
    preset = page(client, _url("ledger:register", world) + f"?parent={drawing.ref}")
    assert f'value="{drawing.ref}"' in preset and 'value="copy"' in preset
    assert "複写・電子化を登録" in preset and drawing.title in preset

    response = client.post(_url("ledger:register", world), _scan(world, drawing))
    assert response.status_code == 403
    html = response.content.decode()
    assert_closed_network_safe(html)
    assert "「下水道台帳図（紙）」の複写・電子化には発注者の承諾が必要です。" in html
    assert "根拠条項: R2.3" in html
    assert 'value="下水道台帳図 第12号（スキャン）"' in html
    request_link = _url("permits:request", world) + f"?kind=copy&amp;asset={drawing.pk}"
    assert f'href="{request_link}"' in html and "承諾を申請する" in html
    assert Asset.objects.count() == 1


def test_a_scan_under_the_permit_is_a_child_and_a_second_is_refused(
    world, client_for, drawing, copy_permit
) -> None:
    client = client_for("staff")
    response = client.post(_url("ledger:register", world), _scan(world, drawing))
    assert response.status_code == 302
    scan = Asset.objects.get(parent=drawing)
    assert (scan.origin, scan.permit, scan.root) == (Origin.COPY, copy_permit, drawing)

    response = client.post(_url("ledger:register", world), _scan(world, drawing, title="二枚目"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "承諾された部数・期間を超えるため登録できません" in html
    assert "根拠条項: R2.3" in html
    assert Asset.objects.filter(parent=drawing).count() == 1


def test_an_unknown_parent_ref_is_a_field_error(world, client_for) -> None:
    response = client_for("staff").post(
        _url("ledger:register", world), _form(world, origin="copy", parent="A-9")
    )
    assert response.status_code == 422
    assert "台帳番号「A-9」の情報が見つかりません。" in response.content.decode()


# --- the asset page ---------------------------------------------------------------------------------------------


def test_the_asset_page_draws_the_lineage_and_names_the_permits(
    world, client_for, drawing, copy_permit
) -> None:
    scan = register_asset(
        world.contract,
        acting_user=world.staff,
        data=electronic(world, origin=Origin.COPY, parent=drawing, title="台帳図スキャン"),
    )
    derived = register_asset(
        world.contract,
        acting_user=world.staff,
        data=electronic(world, origin=Origin.DERIVED, parent=scan, title="改築計画図（加工）"),
    )
    html = page(client_for("manager"), _url("ledger:detail", world, scan.pk))
    tree = html[html.index('id="lineage-tree"') : html.index('id="permits-heading"')]
    assert tree.index(drawing.ref) < tree.index(scan.ref) < tree.index(derived.ref)
    assert tree.count('class="tree__children"') == 2, "original → scan → derivative, nested"
    current = tree[tree.index('aria-current="true"') :]
    assert current.index(scan.ref) < current.index("この情報") < current.index("</div>\n    <div")
    assert f'href="{_url("permits:detail", world, copy_permit.pk)}"' in tree
    assert f"#{copy_permit.pk} 複写・電子化" in tree
    assert "電子" in tree and "複写・電子化（他の台帳情報から）" in tree and "受注者が作成・加工" in tree
    assert tree.count("badge--asset-held") == 3

    original = page(client_for("manager"), _url("ledger:detail", world, drawing.pk))
    permits_table = original[original.index('id="asset-permits"') :]
    assert f"#{copy_permit.pk}" in permits_table and "使用済" in permits_table


def test_history_is_shown_only_to_roles_that_read_the_audit(world, client_for, drawing) -> None:
    url = _url("ledger:detail", world, drawing.pk)
    for persona in ("orderer", "manager", "auditor"):
        html = page(client_for(persona), url)
        assert ">履歴</h2>" in html and "asset.register" in html, persona
    for persona in ("staff", "sub_staff"):
        html = page(client_for(persona), url)
        assert ">履歴</h2>" not in html and "asset.register" not in html, persona


def test_the_asset_page_offers_copy_actions_only_to_those_who_may(world, client_for, drawing) -> None:
    url = _url("ledger:detail", world, drawing.pk)
    staff = page(client_for("staff"), url)
    assert "複写・電子化を申請" in staff and "複写・電子化を登録" in staff
    assert "この情報の複写・電子化には発注者の承諾が必要です（根拠条項: R2.3）。" in staff
    assert f"?kind=copy&amp;asset={drawing.pk}" in staff
    for persona in ("orderer", "auditor"):
        html = page(client_for(persona), url)
        assert "複写・電子化を申請" not in html and "複写・電子化を登録" not in html, persona


def test_the_asset_page_costs_the_same_queries_for_a_small_and_a_large_lineage(
    world, client_for, drawing, freeze_today
) -> None:
    def copies(count: int) -> None:
        permit = permits.request_permit(
            world.contract,
            acting_user=world.staff,
            kind="copy",
            assets=[drawing],
            reason="r",
            copies=count,
            valid_from=DAY,
            valid_until=DAY.replace(month=12),
        )
        permits.decide_permit(permit, acting_user=world.orderer, approve=True)
        for n in range(count):
            register_asset(
                world.contract,
                acting_user=world.staff,
                data=electronic(world, origin=Origin.COPY, parent=drawing, title=f"写し{n}"),
            )

    client = client_for("manager")
    url = _url("ledger:detail", world, drawing.pk)
    copies(2)
    small = _queries(client, url)
    copies(12)
    assert _queries(client, url) == small


# --- importing --------------------------------------------------------------------------------------------------


class _RowError:
    def __init__(self, row: int, column: str, message: str, clause: str | None) -> None:
        self.row, self.column, self.message, self.clause = row, column, message, clause


class _FakeImporter:
    def __init__(self, *, error: Exception | None = None, result: object = ()) -> None:
        self.error, self.result, self.calls = error, result, []

    def import_assets(self, contract, *, acting_user, filename, stream):
        self.calls.append((contract, acting_user, filename, stream.read()))
        if self.error is not None:
            raise self.error
        return self.result


def _upload(name: str = "台帳.csv", content: bytes = b"title\n"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_import_errors_are_listed_by_row_column_and_clause(world, client_for, monkeypatch) -> None:
    error = Invalid("取込むファイルに誤りがあります。", code="import_rejected")
    error.row_errors = [  # type: ignore[attr-defined]
        _RowError(3, "数量", "紙の情報は数量（1以上）を入力してください。", None),
        {
            "row": 7,
            "column": "保管場所",
            "message": "重要情報の電子データは暗号化された保管庫以外に保管できません。",
            "clause": "R2.7ウ",
        },
    ]
    fake = _FakeImporter(error=error)
    monkeypatch.setattr(ledger_views, "_load_importer", lambda: fake)
    response = client_for("manager").post(_url("ledger:import", world), {"file": _upload()})
    assert response.status_code == 422
    html = response.content.decode()
    assert_closed_network_safe(html)
    table = html[html.index('id="import-errors"') :]
    assert ">3</td>" in table and "数量" in table and "紙の情報は数量（1以上）を入力してください。" in table
    assert ">7</td>" in table and ">R2.7ウ</td>" in table
    assert "「台帳.csv」は取り込めませんでした。台帳には何も登録されていません。" in html
    (contract, user, filename, body) = fake.calls[0]
    assert (contract, user, filename, body) == (world.contract, world.manager, "台帳.csv", b"title\n")


def test_a_successful_import_says_how_many_rows_were_entered(world, client_for, monkeypatch) -> None:
    monkeypatch.setattr(ledger_views, "_load_importer", lambda: _FakeImporter(result=[1, 2, 3]))
    client = client_for("manager")
    response = client.post(_url("ledger:import", world), {"file": _upload()})
    assert response.status_code == 302
    assert "「台帳.csv」から3件を台帳に登録しました。" in page(client, response["Location"])


def test_import_is_for_the_information_manager_only(world, client_for, monkeypatch) -> None:
    fake = _FakeImporter()
    monkeypatch.setattr(ledger_views, "_load_importer", lambda: fake)
    for persona in ("staff", "orderer", "auditor"):
        response = client_for(persona).post(_url("ledger:import", world), {"file": _upload()})
        assert response.status_code == 403, persona
    assert fake.calls == []


def test_without_an_importer_the_page_says_so(world, client_for, monkeypatch) -> None:
    monkeypatch.setattr(ledger_views, "_load_importer", lambda: None)
    client = client_for("manager")
    response = client.post(_url("ledger:import", world), {"file": _upload()})
    assert response.status_code == 302
    assert "Excel・CSVからの取込は、このシステムではまだ利用できません。" in page(
        client, response["Location"]
    )


def test_an_import_without_a_file_asks_for_one(world, client_for, monkeypatch) -> None:
    monkeypatch.setattr(ledger_views, "_load_importer", lambda: _FakeImporter())
    response = client_for("manager").post(_url("ledger:import", world), {})
    assert response.status_code == 422
    assert 'type="file"' in response.content.decode()


def _csv(world, rows: list[dict[str, str]]) -> bytes:
    from sekisho.ledger.xlsx_export import HEADERS

    lines = [",".join(HEADERS)]
    for row in rows:
        lines.append(",".join(row.get(h, "") for h in HEADERS))
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_the_real_importer_lists_the_rows_it_refuses_and_enters_a_clean_file(world, client_for) -> None:
    pytest.importorskip("sekisho.ledger.importer")
    good = {
        "名称": "下水道台帳図 第3号",
        "媒体": "紙",
        "由来": "発注者から貸与・提供",
        "受領・作成日": "2026-07-01",
        "管理者": world.staff.username,
        "保管場所の種別": "書庫・保管室",
        "数量": "1",
        "数量（紙）": "1",
    }
    bad = {**good, "名称": ""}
    client = client_for("manager")
    response = client.post(
        _url("ledger:import", world), {"file": _upload("ledger.csv", _csv(world, [good, bad]))}
    )
    assert response.status_code == 422, response.content.decode()[:2000]
    html = response.content.decode()
    table = html[html.index('id="import-errors"') :]
    assert ">3</td>" in table, "the second data row, as Excel numbers it"
    assert Asset.objects.count() == 0

    response = client.post(_url("ledger:import", world), {"file": _upload("ledger.csv", _csv(world, [good]))})
    assert response.status_code == 302, re.findall(r"<td>([^<]*)</td>", response.content.decode())
    assert "「ledger.csv」から1件を台帳に登録しました。" in page(client, response["Location"])
    assert Asset.objects.get().title == "下水道台帳図 第3号"


def test_the_ledger_pages_speak_english_when_chosen(world, client_for, drawing) -> None:
    client = client_for("manager")
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = page(client, _url("ledger:list", world))
    assert "Administrative information ledger" in html and "Register information" in html
    assert "Export to Excel" in html and "July 1, 2026 (Reiwa 8)" in html
    html = page(client, _url("ledger:detail", world, drawing.pk))
    assert "Lineage (original → copies and scans → derivatives)" in html
    assert "Copying or scanning this information needs the orderer's permission (clause R2.3)." in html
