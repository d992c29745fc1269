"""Reporting an incident in a real browser, against the real server (see conftest.py): staff reports a lost
USB memory; the orderer officer sees it at once, with the right deadlines, on the list of all its contracts.

The expected 速報 and 確報 dates are computed here from today's date (Japan time) with the same rules the
server uses, so the test holds on any day of the year — weekends, holidays and the year-end closure too.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest

from sekisho.core.wareki import to_wareki
from sekisho.incidents.deadlines import final_report_due, prompt_report_due

from .conftest import Watched, log_in, log_out

pytestmark = pytest.mark.browser

CONTRACT_TITLE = "令和8年度 倉敷処理区下水道管渠調査設計業務委託"
CONTRACT_NUMBER = "倉下建第2026-118号"
TITLE = "USBメモリの紛失（管渠調査の使用者名簿）"


def test_staff_reports_a_lost_usb_memory_and_the_orderer_sees_it_at_once(watched: Watched) -> None:
    page = watched.page
    today = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Tokyo")).date()
    prompt_due = to_wareki(prompt_report_due(today))
    final_due = to_wareki(final_report_due(today, wrongful_purpose=False))

    # Staff: from the contract page to the report form.
    log_in(watched, "staff")
    page.get_by_role("link", name=CONTRACT_TITLE).click()
    page.wait_for_url(re.compile(r".*/contracts/\d+/$"))
    page.get_by_role("link", name="事故・ヒヤリハットを報告").click()
    page.wait_for_url(re.compile(r".*/incidents/new/$"))
    assert page.get_by_role("heading", name="事故・ヒヤリハットの報告").is_visible()
    assert page.get_by_text("概ね3〜5日以内", exact=False).first.is_visible()
    personal = page.locator("[data-show-if='has_personal_info']")
    assert personal.is_hidden(), "the personal-information fields open only when needed"

    page.get_by_label("種別").select_option(label="紛失")
    page.get_by_label("件名").fill(TITLE)
    page.get_by_label("概要（発生・発覚の経緯）").fill(
        "現地調査から帰庁後、鞄に入れていたUSBメモリ（暗号化機能なし）がないことに気付いた。"
    )
    assert page.get_by_label("覚知日時").input_value().startswith(today.isoformat()), "defaults to now"
    page.get_by_label("個人情報を含む", exact=True).check()
    assert personal.is_visible()
    personal.get_by_label("氏名").check()
    personal.get_by_label("住所").check()
    personal.get_by_label("本人の数").fill("150")
    assert not personal.get_by_label("高度な暗号化等の保護措置あり（復号鍵は漏えいしていない）").is_checked()
    watched.screenshot("incident-01-report-form-ja")
    page.get_by_role("button", name="報告して発注者へ通知").click()
    page.wait_for_url(re.compile(r".*/incidents/\d+/$"))

    # The incident page: notified at once, the deadlines from today.
    assert page.get_by_text(
        re.compile(r"報告しました（事案番号 I-\d+）。発注者担当へ通知しました。")
    ).is_visible()
    assert page.get_by_role("heading", name=TITLE).is_visible()
    assert page.locator(".page-heading .badge").inner_text() == "発注者へ通知済"
    deadlines = page.locator("#deadline-table")
    assert deadlines.locator("#deadline-prompt_report").get_by_text(prompt_due).is_visible()
    assert deadlines.locator("#deadline-final_report").get_by_text(final_due).is_visible()
    assert deadlines.locator("#deadline-orderer_notice").get_by_text("期限内に実施").is_visible()
    assert page.locator("#trigger-table").get_by_text("報告義務あり", exact=True).is_visible()
    assert page.get_by_role("button", name="調査を開始").is_visible(), "the reporter investigates"
    watched.screenshot("incident-02-reported-staff-ja")
    log_out(watched)

    # The orderer officer: the list of all its contracts shows it, with the deadlines and the flags.
    log_in(watched, "orderer")
    watched.goto("/incidents/")
    assert page.get_by_role("heading", name="事故報告（発注者）").is_visible()
    row = page.locator("#incident-table tbody tr", has_text=TITLE)
    assert row.count() == 1
    assert row.get_by_text(CONTRACT_NUMBER).is_visible()
    assert row.get_by_text("株式会社水島技術コンサルタント").is_visible()
    assert row.get_by_text("個人情報 150人").is_visible()
    assert row.get_by_text("100人超").is_visible()
    assert row.get_by_text("要配慮").count() == 0
    assert row.get_by_text("委員会への報告義務").is_visible()
    assert row.locator("td").nth(6).get_by_text(prompt_due).is_visible(), "速報"
    assert row.locator("td").nth(7).get_by_text(final_due).is_visible(), "確報"
    assert row.get_by_text("発注者へ通知済").is_visible()
    watched.screenshot("incident-03-orderer-list-ja")

    # Told in the app too (and by e-mail, which the test server has nowhere to send).
    watched.goto("/notifications/")
    notice = page.locator("#notification-list li", has_text="事故の報告").first
    assert notice.get_by_text(CONTRACT_NUMBER).first.is_visible()
    watched.screenshot("incident-04-orderer-notifications-ja")
    notice.get_by_role("button", name="開く").click()
    page.wait_for_url(re.compile(r".*/incidents/\d+/$"))
    assert page.get_by_role("heading", name=TITLE).is_visible()
    assert page.locator("#deadline-prompt_report").get_by_text(prompt_due).is_visible()
    assert page.get_by_text(
        "受注者側（情報管理責任者又は報告者）による調査・記録を待っています。"
    ).is_visible()
    assert page.get_by_role("button", name="委員会への報告を記録").is_visible()
    timeline = page.locator("#timeline")
    assert timeline.get_by_text("発注者へ通知").is_visible()
    watched.screenshot("incident-05-orderer-incident-ja")

    # The contract's own list, with the rules and the orderer's deadline settings.
    page.locator(".breadcrumbs").get_by_role("link", name="事故・ヒヤリハット").click()
    page.wait_for_url(re.compile(r".*/contracts/\d+/incidents/$"))
    assert page.locator("#incident-table tbody tr", has_text=TITLE).count() == 1
    assert page.get_by_role("heading", name="報告期限の決まり").is_visible()
    assert page.get_by_label("速報の目標（営業日。覚知日を1日目とする）").input_value() == "3"
    watched.screenshot("incident-06-contract-list-orderer-ja")
    page.locator("#incident-table").get_by_role("link", name=TITLE).click()
    page.wait_for_url(re.compile(r".*/incidents/\d+/$"))

    # The report document downloads as PDF.
    pdf = page.request.get(
        watched.base_url + page.get_by_role("link", name="報告書（PDF）").get_attribute("href")
    )
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF-")
