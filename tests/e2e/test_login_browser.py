"""Logging in and moving around in a real browser, against the real server (see conftest.py).

The tests share one server, so each uses its own demo user; only the first changes the contract's state.
"""

from __future__ import annotations

import re

import pytest

from .conftest import Watched, submit_password, totp_now

pytestmark = pytest.mark.browser

CONTRACT_TITLE = "令和8年度 倉敷処理区下水道管渠調査設計業務委託"
CONTRACT_NUMBER = "倉下建第2026-118号"
OTHER_CONTRACT_TITLE = "令和8年度 玉島処理区マンホールポンプ場設計業務委託"


def _enrol_totp(seen: Watched, screenshot: str | None = None) -> None:
    """On the set-up page: read the key shown as text, type the current code, land on the contract list."""
    page = seen.page
    assert page.url.endswith("/login/otp/setup/")
    assert page.get_by_role("heading", name="認証アプリの登録").is_visible()
    assert page.locator(".qr svg").is_visible()
    secret = re.sub(r"\s", "", page.locator("#totp-secret").inner_text())
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    if screenshot:
        seen.screenshot(screenshot)
    page.get_by_label("確認コード（6桁）").fill(totp_now(secret))
    page.get_by_role("button", name="登録してログイン").click()
    page.wait_for_url(seen.base_url + "/")


def _contract_link(seen: Watched, title: str = CONTRACT_TITLE) -> str:
    href = seen.page.get_by_role("link", name=title).get_attribute("href")
    assert href and re.fullmatch(r"/contracts/\d+/", href), href
    return href


def test_information_manager_enrols_totp_and_reads_the_audit_history(watched: Watched) -> None:
    page = watched.page
    watched.goto("/")
    assert page.url.startswith(watched.base_url + "/login/"), "an anonymous visitor is sent to the login page"
    assert page.locator("header").get_by_text("行政情報流出防止対策システム").is_visible()
    watched.screenshot("01-login-ja")

    submit_password(watched, "manager")
    _enrol_totp(watched, screenshot="02-totp-setup-ja")

    # Contract list, with the header naming who is logged in.
    assert page.get_by_text("認証アプリを登録しました。").is_visible()
    header = page.locator("header")
    assert header.get_by_text("水島 健一").is_visible()
    assert header.get_by_text("株式会社水島技術コンサルタント").is_visible()
    assert header.get_by_role("button", name="ログアウト").is_visible()
    assert page.get_by_role("heading", name="契約一覧").is_visible()
    row = page.locator("#contract-table tbody tr", has_text=CONTRACT_TITLE)
    assert row.get_by_text("準備中").is_visible()
    assert row.get_by_text("情報管理責任者").is_visible()
    assert row.get_by_text("令和8年6月1日").is_visible(), "contract periods are shown in 和暦"
    assert page.get_by_text(OTHER_CONTRACT_TITLE).count() == 0, "another contractor's contract is not listed"
    watched.screenshot("03-contract-list-ja")

    # Contract detail: facts, members, the recent audit trail, and the move the manager may make.
    page.get_by_role("link", name=CONTRACT_TITLE).click()
    assert page.get_by_role("heading", name=CONTRACT_TITLE).is_visible()
    assert page.locator(".breadcrumbs").get_by_role("link", name="契約一覧").is_visible()
    assert page.get_by_text("あなたの役割: 情報管理責任者").is_visible()
    members = page.locator("#member-table")
    for name in ("岡山 花子", "水島 健一", "連島 美咲", "児島 翔太", "真備 恵子"):
        assert members.get_by_text(name).is_visible(), name
    assert members.get_by_text("玉島 誠").count() == 0
    assert page.get_by_role("heading", name="最近の監査記録").is_visible()
    page.get_by_label("備考（任意）").fill("誓約書の提出を確認")
    watched.screenshot("04-contract-detail-ja")

    # Starting the work: a POST form with CSRF, confirmed in a dialog, done through the service.
    page.get_by_role("button", name="「履行中」に変更").click()
    page.wait_for_load_state()
    assert page.get_by_text("契約の状態を変更しました。").is_visible()
    assert page.locator(".page-heading .badge").inner_text() == "履行中"

    # The full audit history, newest first, including the change just made.
    page.get_by_role("link", name="監査記録をすべて表示").click()
    assert page.get_by_role("heading", name="監査記録").is_visible()
    table = page.locator("#audit-page table")
    for header_text in ("連番", "日時", "実行者", "操作", "対象", "内容", "ハッシュ"):
        assert table.get_by_role("columnheader", name=header_text).is_visible(), header_text
    first = table.locator("tbody tr").first
    assert first.get_by_text("contract.transition").is_visible()
    assert first.get_by_text("manager", exact=True).is_visible()
    assert first.get_by_text("誓約書の提出を確認").is_visible()
    assert table.get_by_text("contract.create").is_visible()
    assert re.fullmatch(r"[0-9a-f]{12}", first.locator(".hash").inner_text())
    assert page.locator(".breadcrumbs").get_by_role("link", name=CONTRACT_NUMBER).is_visible()
    watched.screenshot("05-audit-history-ja")

    # Logging out ends the session.
    page.locator("header").get_by_role("button", name="ログアウト").click()
    page.wait_for_url(watched.base_url + "/login/")
    watched.goto("/")
    assert page.url.startswith(watched.base_url + "/login/")


def test_staff_opens_the_contract_but_is_refused_the_audit_history(watched: Watched) -> None:
    page = watched.page
    submit_password(watched, "staff")  # staff have no second factor
    assert page.url == watched.base_url + "/"
    assert page.locator("header").get_by_text("連島 美咲").is_visible()
    href = _contract_link(watched)

    page.get_by_role("link", name=CONTRACT_TITLE).click()
    assert page.get_by_text("あなたの役割: 社員等").is_visible()
    assert page.get_by_role("heading", name="最近の監査記録").count() == 0
    assert page.get_by_role("link", name="監査記録をすべて表示").count() == 0
    assert page.get_by_role("heading", name="状態の変更").count() == 0, "staff may not change the state"

    response = watched.goto(f"{href}audit/")
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", name="この操作は許可されていません").is_visible()
    assert page.get_by_text("この操作（audit.view）を行う権限がありません。").is_visible()
    assert page.get_by_text("エラーコード: forbidden").is_visible()
    watched.screenshot("06-audit-refused-403-ja")


def test_outsider_does_not_learn_that_the_contract_exists(watched: Watched) -> None:
    page = watched.page
    submit_password(watched, "outsider")
    _enrol_totp(watched)
    assert page.get_by_role("link", name=OTHER_CONTRACT_TITLE).is_visible()
    assert page.get_by_text(CONTRACT_TITLE).count() == 0
    other = _contract_link(watched, OTHER_CONTRACT_TITLE)
    main_id = int(other.strip("/").split("/")[-1]) - 1  # the demo creates the main contract first
    for path in (f"/contracts/{main_id}/", f"/contracts/{main_id}/audit/"):
        response = watched.goto(path)
        assert response is not None and response.status == 404, path
        assert page.get_by_role("heading", name="見つかりません").is_visible()
        assert page.get_by_text(CONTRACT_TITLE).count() == 0

    # Their own contract's audit history pages with htmx: the table is swapped in place and the URL pushed.
    watched.goto(f"{other}audit/")
    # The demo's event count changes as the demo grows; what matters is that there is more than one page.
    first = page.get_by_text(re.compile(r"^1 / \d+ ページ（全 \d+ 件）$"))
    assert first.is_visible()
    found = re.search(r"1 / (\d+) ページ（全 (\d+) 件）", first.inner_text())
    assert found is not None
    pages, total = int(found[1]), int(found[2])
    assert pages >= 2 and total > 50
    page.evaluate("() => { window.__sameDocument = true; }")
    page.get_by_role("link", name="古い記録 →").click()
    page.wait_for_url(re.compile(r".*/audit/\?page=2$"))
    page.get_by_text(f"2 / {pages} ページ（全 {total} 件）").wait_for()
    assert page.evaluate("() => window.__sameDocument === true"), "paging reloaded the whole page"
    if pages == 2:  # the oldest event, number 0, ends the last page
        assert page.locator("#audit-page tbody tr").last.locator("td").first.inner_text() == "0"
    assert page.get_by_role("heading", name="監査記録").count() == 1, "the fragment did not nest a page"
    watched.screenshot("09-audit-history-page2-htmx-ja")


def test_wrong_password_is_refused_with_the_same_message_for_every_case(watched: Watched) -> None:
    page = watched.page
    submit_password(watched, "staff2", "not-the-password")
    assert page.url.startswith(watched.base_url + "/login/")
    message = "ユーザー名またはパスワードが正しくないか、アカウントがロックされています。"
    assert page.get_by_role("alert").get_by_text(message).is_visible()
    assert page.get_by_label("ユーザー名").input_value() == "staff2"
    assert page.get_by_label("パスワード").input_value() == "", "the password is not sent back"
    watched.screenshot("07-login-failed-ja")

    submit_password(watched, "no-such-user", "whatever-it-is")
    assert page.get_by_role("alert").get_by_text(message).is_visible()


def test_auditor_switches_to_english(watched: Watched) -> None:
    page = watched.page
    submit_password(watched, "auditor")
    assert page.get_by_role("heading", name="契約一覧").is_visible()

    page.locator("header").get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Contracts").is_visible()
    assert (
        page.locator("header")
        .get_by_text("Administrative Information Leakage Prevention System")
        .is_visible()
    )
    assert page.locator("header").get_by_role("button", name="Log out").is_visible()
    row = page.locator("#contract-table tbody tr", has_text=CONTRACT_TITLE)
    assert row.get_by_text("Auditor").is_visible()
    assert row.get_by_text("June 1, 2026 (Reiwa 8)").is_visible()

    page.get_by_role("link", name=CONTRACT_TITLE).click()
    assert page.get_by_text("Your role: Auditor").is_visible()
    page.get_by_role("link", name="Show the full audit history").click()
    assert page.get_by_role("heading", name="Audit history").is_visible()
    assert page.get_by_role("columnheader", name="Actor").is_visible()
    watched.screenshot("08-audit-history-en")

    # The choice sticks for the session and can be switched back.
    page.locator("header").get_by_role("button", name="日本語").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="監査記録").is_visible()


def test_the_csp_watch_catches_an_inline_style(watched: Watched) -> None:
    """Guards the guard: an inline <style> injected into a page is blocked and shows up as a CSP error, so
    the other tests' "no CSP violation" would notice one in a template."""
    watched.goto("/login/")
    watched.page.evaluate(
        "() => { const s = document.createElement('style'); s.textContent = 'body{color:red}';"
        " document.head.appendChild(s); }"
    )
    watched.page.wait_for_timeout(200)
    assert watched.csp_violations(), "the inline style was not reported as a CSP violation"
    watched.console_errors.clear()
