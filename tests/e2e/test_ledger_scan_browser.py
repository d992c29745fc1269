"""A scan of a paper drawing, end to end in a real browser against the real server (see conftest.py).

Staff register a drawing the orderer lent; scanning it is refused until the orderer permits it (R2.3); the
orderer approves the request in place in the inbox; the scan is registered as the drawing's child; and a second
scan, beyond the one copy permitted, is refused with the clause again.
"""

from __future__ import annotations

import re

import pytest

from .conftest import Watched, log_in, log_out

pytestmark = pytest.mark.browser

CONTRACT_TITLE = "令和8年度 倉敷処理区下水道管渠調査設計業務委託"
DRAWING = "下水道台帳図 第12号（倉敷処理区 本管）"
SCAN = "下水道台帳図 第12号（スキャン）"


def _open_contract(seen: Watched) -> str:
    seen.page.get_by_role("link", name=CONTRACT_TITLE).click()
    seen.page.get_by_role("heading", name=CONTRACT_TITLE).wait_for()
    return seen.page.url.removeprefix(seen.base_url)


def _fill_scan(seen: Watched, title: str) -> None:
    """On the register form opened from the drawing's page: the parent and 「複写・電子化」 are preset."""
    page = seen.page
    assert page.get_by_role("heading", name="複写・電子化を登録").is_visible()
    assert page.get_by_label("複写・電子化（他の台帳情報から）").is_checked()
    page.locator("#id_title").fill(title)
    page.get_by_label("電子", exact=True).check()
    page.get_by_label("保管庫（暗号化）").check()
    assert page.locator("#id_quantity").is_hidden(), "a quantity is for paper only"
    page.get_by_role("button", name="台帳に登録").click()
    page.wait_for_load_state()


def _refusal(seen: Watched):
    alert = seen.page.locator("#refusal")
    assert alert.is_visible()
    assert alert.get_by_text("根拠条項: R2.3").is_visible()
    return alert


def test_staff_scan_a_lent_drawing_only_under_the_orderers_permit(watched: Watched) -> None:
    page = watched.page

    # --- staff register the paper drawing the orderer lent ---------------------------------------------------
    log_in(watched, "staff")
    contract_path = _open_contract(watched)
    page.locator(".contract-nav").get_by_role("link", name="台帳", exact=True).click()
    page.wait_for_load_state()
    refusal = page.locator(".refusal")
    if refusal.count():  # e.g. the demo's staff not cleared by the people gates (R2.4.1)
        pytest.fail(f"the ledger was refused to staff: {refusal.inner_text()}", pytrace=False)
    page.get_by_role("heading", name="行政情報管理台帳").wait_for()
    assert page.get_by_role("link", name="Excelで出力").count() == 0, "staff do not export"
    page.get_by_role("link", name="情報を登録").click()
    page.get_by_role("heading", name="情報を登録").wait_for()

    personal = page.locator('[data-show-if="has_personal_info"]')
    assert personal.is_hidden(), "personal-information fields wait for their checkbox"
    page.get_by_label("個人情報を含む").check()
    assert personal.is_visible() and page.get_by_label("本人の数").is_visible()
    page.get_by_label("個人情報を含む").uncheck()
    assert personal.is_hidden()

    page.locator("#id_title").fill(DRAWING)
    page.get_by_label("紙", exact=True).check()
    page.get_by_label("発注者から貸与・提供").check()
    page.get_by_label("書庫・保管室").check()
    page.locator("#id_location").fill("本社3階 書庫A-2")
    page.locator("#id_quantity").fill("1")
    page.get_by_role("button", name="台帳に登録").click()
    page.get_by_text(re.compile(r"台帳に登録しました（台帳番号 A-\d{6}）。")).wait_for()
    assert page.get_by_role("heading", name=DRAWING).is_visible()
    drawing_path = page.url.removeprefix(watched.base_url)
    drawing_ref = page.locator(".page-heading__kicker .mono").inner_text()
    assert page.get_by_text(
        "この情報の複写・電子化には発注者の承諾が必要です（根拠条項: R2.3）。"
    ).is_visible()

    # --- a scan without the permit is refused, with the clause, and the form keeps what was typed ------------
    page.get_by_role("link", name="複写・電子化を登録").click()
    assert page.locator("#id_parent").input_value() == drawing_ref
    _fill_scan(watched, SCAN)
    alert = _refusal(watched)
    assert alert.get_by_text(f"「{DRAWING}」の複写・電子化には発注者の承諾が必要です。").is_visible()
    assert page.locator("#id_title").input_value() == SCAN
    assert page.get_by_label("保管庫（暗号化）").is_checked()
    watched.screenshot("ledger-02-register-refused-R2.3")

    # --- the refusal leads to the request: one scan ---------------------------------------------------------
    alert.get_by_role("link", name="承諾を申請する").click()
    page.get_by_role("heading", name="承諾・許可を申請").wait_for()
    assert page.get_by_label("種別").input_value() == "copy"
    assert page.get_by_label(re.compile(re.escape(f"{drawing_ref} {DRAWING}"))).is_checked()
    page.get_by_label("部数").fill("1")
    page.get_by_label("申請の理由").fill("現地調査に携行するため、1部をスキャンして保管庫で管理する。")
    page.get_by_role("button", name="申請する").click()
    page.get_by_text(re.compile(r"承諾を申請しました（申請番号 \d+）。")).wait_for()
    permit_id = re.search(r"/permits/(\d+)/$", page.url).group(1)  # type: ignore[union-attr]
    assert page.locator(".page-heading .badge").inner_text() == "申請中"
    watched.screenshot("ledger-02b-permit-requested")
    log_out(watched)

    # --- the orderer approves it in place, in the inbox ---------------------------------------------------
    log_in(watched, "orderer")
    _open_contract(watched)
    inbox_link = page.locator("#inbox-link")
    inbox_link.wait_for()  # loaded by htmx after the page
    assert re.search(r"承諾待ち\s*\d+", inbox_link.inner_text())
    watched.screenshot("ledger-00-contract-page-with-inbox-count")
    inbox_link.click()
    page.get_by_role("heading", name="承諾待ち").wait_for()
    row = page.locator(f"#permit-row-{permit_id}")
    assert row.get_by_text(DRAWING).is_visible() and row.get_by_text("1部", exact=True).is_visible()
    assert row.get_by_text("連島 美咲").is_visible()
    row.get_by_label("決定理由（不承諾の場合は必須）").fill("現地調査用として1部に限り承諾します。")
    watched.screenshot("ledger-03-permit-inbox")
    page.evaluate("() => { window.__sameDocument = true; }")
    row.get_by_role("button", name="承諾する").click()
    row = page.locator(f"#permit-row-{permit_id}")
    row.get_by_text("承諾しました。").wait_for()
    assert row.locator(".badge").inner_text() == "承諾済"
    assert page.evaluate("() => window.__sameDocument === true"), "approving reloaded the page"
    watched.screenshot("ledger-04-permit-approved-in-place")
    log_out(watched)

    # --- staff register the scan as the drawing's child ------------------------------------------------------
    log_in(watched, "staff")
    watched.goto(drawing_path)
    page.get_by_role("link", name="複写・電子化を登録").click()
    _fill_scan(watched, SCAN)
    page.get_by_text(re.compile(r"台帳に登録しました（台帳番号 A-\d{6}）。")).wait_for()
    assert page.get_by_role("heading", name=SCAN).is_visible()
    tree = page.locator("#lineage-tree")
    original = tree.locator(".tree__node", has_text=DRAWING)
    child = tree.locator(".tree__children .tree__node", has_text=SCAN)
    assert original.is_visible() and child.is_visible()
    assert child.get_attribute("aria-current") == "true", "the page's own asset is highlighted"
    assert child.get_by_text("この情報").is_visible()
    assert child.get_by_text("保管中").is_visible() and original.get_by_text("保管中").is_visible()
    assert child.get_by_role("link", name=f"#{permit_id} 複写・電子化").is_visible()
    assert child.get_by_text("複写・電子化（他の台帳情報から）").is_visible()
    watched.screenshot("ledger-05-asset-lineage-tree")

    # --- a second scan goes beyond the one copy permitted ----------------------------------------------------
    original.get_by_role("link", name=drawing_ref).click()
    page.get_by_role("heading", name=DRAWING).wait_for()
    assert page.locator("#asset-permits").get_by_text("使用済").is_visible(), "the permit is used up"
    page.get_by_role("link", name="複写・電子化を登録").click()
    _fill_scan(watched, "下水道台帳図 第12号（スキャン2）")
    alert = _refusal(watched)
    assert alert.get_by_text("承諾された部数・期間を超えるため登録できません").is_visible()
    watched.screenshot("ledger-06-second-scan-refused-R2.3")

    # --- the ledger: both entries, searchable, with htmx filtering in place ----------------------------------
    watched.goto(f"{contract_path}ledger/")
    table = page.locator("#ledger-table")
    assert table.get_by_role("link", name=DRAWING).is_visible()
    assert table.get_by_role("link", name=SCAN).is_visible()
    assert table.locator("tr", has_text=SCAN).get_by_role("link", name=drawing_ref).is_visible()
    assert table.get_by_text("本社3階 書庫A-2").is_visible()
    watched.screenshot("ledger-01-ledger-list")
    page.evaluate("() => { window.__sameDocument = true; }")
    page.get_by_label("媒体").select_option(label="電子")
    page.wait_for_url(re.compile(r".*/ledger/\?.*medium=electronic"))
    table.get_by_role("link", name=DRAWING).wait_for(state="detached")
    assert table.get_by_role("link", name=SCAN).is_visible()
    assert page.evaluate("() => window.__sameDocument === true"), "filtering reloaded the page"
