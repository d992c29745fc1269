"""The browser pages rendered through the Django test client: content, language, the htmx fragment, and
the rules every page must keep for the closed network (no inline script or style, nothing external)."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.db import transaction
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from sekisho.audit.services import record
from sekisho.core.errors import Forbidden
from sekisho.core.models import Contract

from ..factories import PASSWORD

WEB = Path(__file__).resolve().parents[2] / "src" / "sekisho" / "web"
TEMPLATES = sorted((WEB / "templates").rglob("*.html"))
CATALOG = WEB.parent / "locale" / "en" / "LC_MESSAGES" / "django.mo"

INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
URL_ATTR = re.compile(r"""\s(?:src|href|action|hx-get|hx-post)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def assert_closed_network_safe(html: str, *, rendered: bool = True) -> None:
    """What the CSP would block, and what would reach outside, must not be in the page at all."""
    assert not INLINE_STYLE.search(html), "inline style"
    assert not INLINE_HANDLER.search(html), "inline event handler"
    for tag in SCRIPT_TAG.findall(html):
        assert " src=" in tag, f"inline script: {tag}"
    for url in URL_ATTR.findall(html) if rendered else ():
        assert url.startswith(("/", "?", "#")), f"not a same-origin URL: {url}"


def page(client: Client, url: str, **headers: str) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.status_code
    html = response.content.decode()
    assert_closed_network_safe(html)
    return html


def add_events(contract: Contract, actor, count: int) -> None:
    with transaction.atomic():
        for n in range(count):
            record(actor=actor, action="test.event", contract=contract, obj=contract, summary={"n": n})


# --- templates as files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_templates_have_no_inline_script_or_style(template: Path) -> None:
    assert_closed_network_safe(template.read_text(encoding="utf-8"), rendered=False)


def _template_msgids() -> set[str]:
    ids: set[str] = set()
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        ids.update(re.findall(r"""{%\s*translate\s+["']([^"']+)["']""", text))
        for body in re.findall(
            r"{%\s*blocktranslate\s+with[^%]*%}(.*?){%\s*endblocktranslate\s*%}", text, re.S
        ):
            ids.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body))
    return ids


def test_every_template_string_has_a_compiled_english_translation() -> None:
    with CATALOG.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    ids = _template_msgids()
    assert len(ids) > 50
    untranslated = sorted(m for m in ids if catalog.gettext(m) == m and m != "関所 Sekisho")
    assert untranslated == [], "run makemessages, translate, and msgfmt the catalog"


# --- pages ------------------------------------------------------------------------------------------------------


def test_login_page_is_japanese_by_default_and_keeps_next(db) -> None:
    html = page(Client(), reverse("web:login") + "?next=/contracts/1/")
    assert '<html lang="ja">' in html
    assert "関所 Sekisho" in html and "行政情報流出防止対策システム" in html
    assert 'name="next" value="/contracts/1/"' in html
    assert 'name="language" value="en"' in html, "the language switch is on every page"


def test_login_failure_shows_the_refusal_without_echoing_the_password(world) -> None:
    response = Client().post(reverse("web:login"), {"username": "staff", "password": "wrong-password-x"})
    html = response.content.decode()
    assert "ユーザー名またはパスワードが正しくないか、アカウントがロックされています。" in html
    assert "wrong-password-x" not in html


def test_totp_setup_shows_the_key_and_a_qr_code_that_keep_the_csp(world) -> None:
    client = Client()
    client.post(reverse("web:login"), {"username": "manager", "password": PASSWORD})
    html = page(client, reverse("web:login-otp-setup"))
    assert re.search(r'id="totp-secret">[A-Z2-7]{16,}<', html)
    assert "<svg" in html


def test_contract_list_shows_status_role_and_period_in_wareki(world, client_for) -> None:
    html = page(client_for("manager"), reverse("web:contract-list"))
    assert world.contract.title in html
    assert world.other_contract.title not in html
    assert 'class="badge badge--draft">準備中<' in html
    assert "情報管理責任者" in html
    assert "令和8年6月1日" in html and "令和9年3月19日" in html
    assert world.manager.display_name in html, "the header names the user"
    assert world.contractor_org.name in html


def test_contract_list_in_english_after_choosing_it(world, client_for) -> None:
    client = client_for("auditor")
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    html = page(client, reverse("web:contract-list"))
    assert '<html lang="en">' in html
    assert ">Contracts<" in html
    assert "June 1, 2026 (Reiwa 8)" in html
    assert "Auditor" in html
    assert "Log out" in html


def test_contract_detail_offers_only_the_moves_of_the_role(world, client_for) -> None:
    url = reverse("web:contract-detail", args=[world.contract.pk])
    manager_html = page(client_for("manager"), url)
    assert 'name="to" value="active"' in manager_html
    assert "最近の監査記録" in manager_html
    staff_html = page(client_for("staff"), url)
    assert 'name="to"' not in staff_html
    assert "最近の監査記録" not in staff_html
    assert world.sub_staff.display_name in staff_html


def test_a_transition_shows_its_message_and_appears_in_the_audit_history(world, client_for) -> None:
    client = client_for("manager")
    response = client.post(
        reverse("web:contract-transition", args=[world.contract.pk]), {"to": "active", "note": "誓約書受領"}
    )
    assert response.status_code == 302
    html = page(client, response["Location"])
    assert "契約の状態を変更しました。" in html
    assert 'class="badge badge--active">履行中<' in html
    audit = page(client, reverse("web:contract-audit", args=[world.contract.pk]))
    assert "contract.transition" in audit and "誓約書受領" in audit


def test_a_refused_transition_is_shown_as_a_message(world, client_for) -> None:
    client = client_for("staff")
    response = client.post(reverse("web:contract-transition", args=[world.contract.pk]), {"to": "active"})
    html = page(client, response["Location"])
    assert "権限がありません" in html
    assert 'class="alert alert--error"' in html


def test_audit_page_is_refused_to_staff_with_the_message(world, client_for) -> None:
    response = client_for("staff").get(reverse("web:contract-audit", args=[world.contract.pk]))
    assert response.status_code == 403
    html = response.content.decode()
    assert_closed_network_safe(html)
    assert "この操作は許可されていません" in html
    assert "この操作（audit.view）を行う権限がありません。" in html


@pytest.mark.parametrize("name", ["web:contract-detail", "web:contract-audit"])
def test_outsider_gets_not_found_without_a_hint(world, client_for, name: str) -> None:
    response = client_for("outsider").get(reverse(name, args=[world.contract.pk]))
    assert response.status_code == 404
    html = response.content.decode()
    assert "見つかりません" in html
    assert world.contract.title not in html and world.contract.number not in html


def test_refusal_page_names_the_clause() -> None:
    error = Forbidden("承認された端末からのみ行えます。", clause="R2.7ア")
    html = render_to_string("web/error.html", {"error": error})
    assert "承認された端末からのみ行えます。" in html
    assert "根拠条項: R2.7ア" in html
    assert_closed_network_safe(html)


def test_audit_pages_newest_first_and_htmx_gets_only_the_fragment(world, client_for) -> None:
    add_events(world.contract, world.manager, 60)
    client = client_for("auditor")
    url = reverse("web:contract-audit", args=[world.contract.pk])
    total = world.contract.audit_events.count()

    full = page(client, url)
    assert full.startswith("<!doctype html>")
    assert 'id="audit-page"' in full
    assert f">{total - 1}</td>" in full, "the newest event is on the first page"
    assert 'hx-get="?page=2"' in full and 'hx-target="#audit-page"' in full and 'hx-push-url="true"' in full

    fragment = page(client, url + "?page=2", HX_Request="true")
    assert "<html" not in fragment and "<header" not in fragment
    assert "<table" in fragment and 'hx-get="?page=1"' in fragment
    assert ">0</td>" in fragment, "the oldest event is on the last page"

    # htmx restoring history (a reload of a pushed URL) needs the whole page.
    restored = page(client, url + "?page=2", HX_Request="true", HX_History_Restore_Request="true")
    assert restored.startswith("<!doctype html>")


def test_unknown_address_gets_the_sekisho_404_page(db) -> None:
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert "ページが見つかりません。" in response.content.decode()


def test_a_post_without_csrf_token_gets_the_sekisho_403_page(world) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.staff)
    response = client.post(reverse("web:logout"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "送信を受け付けられませんでした" in html
    assert_closed_network_safe(html)


def test_second_login_asks_for_the_code_of_the_registered_app(world) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=world.manager, name="default", confirmed=True)
    client = Client()
    response = client.post(reverse("web:login"), {"username": "manager", "password": PASSWORD})
    assert response["Location"] == reverse("web:login-otp")
    html = page(client, reverse("web:login-otp"))
    assert "確認コードの入力" in html
    assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
    response = client.post(reverse("web:login-otp"), {"token": "000000"})
    assert "確認コードが正しくありません。" in response.content.decode()


def test_server_error_page_renders_without_a_request() -> None:
    # Django renders 500.html with an empty context: no request, no user, no CSRF token.
    html = render_to_string("500.html")
    assert "システムエラー" in html and "操作は完了していません" in html
    assert 'name="language"' not in html
    assert_closed_network_safe(html)
