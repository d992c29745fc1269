"""R2.4.1 in a real browser: a staff member who has not acknowledged the training opens the ledger, is sent to
the training, reads it, signs it with their typed name, and is brought back to the ledger.

The demo's 福田 大輔 (staff2) is the one member who has not acknowledged yet (see sekisho.people.demo); only
this test uses him for that, and the acknowledgement it makes is the only state it changes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import Watched, submit_password

pytestmark = pytest.mark.browser

CONTRACT_TITLE = "令和8年度 倉敷処理区下水道管渠調査設計業務委託"
PROGRAMME = "行政情報流出防止対策に係る取扱規定及び個人情報取扱特記事項の周知"


def test_new_staff_member_is_sent_to_the_training_acknowledges_it_and_sees_the_ledger(
    watched: Watched,
) -> None:
    page = watched.page
    submit_password(watched, "staff2")
    assert page.locator("header").get_by_text("福田 大輔").is_visible()
    contract_href = page.get_by_role("link", name=CONTRACT_TITLE).get_attribute("href")
    assert contract_href and re.fullmatch(r"/contracts/\d+/", contract_href)
    ledger = f"{contract_href}ledger/"

    # Opening the ledger before the training: sent to the contract's training page, with the clause.
    watched.goto(ledger)
    page.wait_for_url(re.compile(r".*/people/training/\?next="))
    assert page.get_by_role("heading", name="研修と受講の確認").is_visible()
    assert page.locator(".messages").get_by_text(re.compile(r"\[R2\.4\.1\]")).is_visible()
    clearance = page.locator("#clearance")
    assert clearance.get_by_text("根拠条項: R2.4.1").is_visible()
    row = page.locator("#programme-table tbody tr", has_text=PROGRAMME)
    assert row.get_by_text("未確認").is_visible()
    watched.screenshot("20-training-required-ja")

    # Reading the content, then signing with the typed name.
    row.get_by_role("link", name="内容を読んで確認する").click()
    page.wait_for_url(re.compile(r".*/people/training/\d+/\?next="))
    content = page.locator("#training-content")
    assert content.get_by_text("退職した後も続きます", exact=False).is_visible()
    assert content.get_by_text("短時間特別社員", exact=False).is_visible()
    page.get_by_label("署名（氏名を入力）").fill("別人 太郎")
    page.get_by_role("button", name="確認して署名する").click()
    page.wait_for_load_state()
    assert page.get_by_text("署名欄には氏名（福田 大輔）を入力してください。", exact=False).is_visible()
    assert page.url.startswith(watched.base_url + "/contracts/"), "still on the training page"

    content = page.locator("#training-content")
    content.scroll_into_view_if_needed()
    page.get_by_label("署名（氏名を入力）").fill("福田　大輔")
    watched.screenshot("21-training-acknowledge-ja")
    page.get_by_role("button", name="確認して署名する").click()

    # Back where he was going: the ledger.
    page.wait_for_url(watched.base_url + ledger)
    assert page.get_by_role("heading", name="行政情報管理台帳").is_visible()
    assert page.get_by_text("研修の内容を確認したことを記録しました。").is_visible()
    watched.screenshot("22-ledger-after-training-ja")

    # The training page now says so, with the date of the acknowledgement.
    watched.goto(f"{contract_href}people/training/")
    assert page.locator("#clearance").get_by_text("研修の確認は済んでいます。", exact=False).is_visible()
    assert page.locator("#programme-table tbody tr", has_text=PROGRAMME).get_by_text("確認済").is_visible()


def test_the_auditor_reads_the_roster_and_the_signed_pledge(watched: Watched) -> None:
    """The people as the orderer's side sees them: the roster with its categories (including people who never
    log in), the two appointments, the signed pledge and its PDF."""
    page = watched.page
    submit_password(watched, "auditor")  # reads everything, changes nothing; no second factor in the demo
    contract_href = page.get_by_role("link", name=CONTRACT_TITLE).get_attribute("href")
    watched.goto(f"{contract_href}people/roster/")
    table = page.locator("#roster-table")
    for name, category in (
        ("水島 健一", "社員"),
        ("倉敷 太郎", "取締役"),
        ("玉野 由美", "派遣労働者"),
        ("児島 翔太", "社員"),
    ):
        row = table.locator("tbody tr", has_text=name)
        assert row.get_by_text(category, exact=True).is_visible(), name
    watched.screenshot("23-roster-ja")

    watched.goto(f"{contract_href}people/pledge/")
    assert page.locator("#readiness").get_by_text("両責任者が選任され", exact=False).is_visible()
    pledge_row = page.locator("#pledge-table tbody tr").first
    assert pledge_row.get_by_text("現行").is_visible()
    assert pledge_row.get_by_text("水島 健一").is_visible()
    appointments = page.locator("#appointment-table")
    assert appointments.get_by_text("倉敷 太郎").is_visible(), (
        "the director is the personal-information manager"
    )
    watched.screenshot("24-pledge-ja")
    with page.expect_download() as download:
        pledge_row.get_by_role("link", name="PDF").click()
    path = download.value.path()
    assert path is not None and Path(path).read_bytes().startswith(b"%PDF-")
