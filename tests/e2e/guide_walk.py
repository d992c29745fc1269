"""The walk through the demo contract that test_guide_screenshots.py photographs for the user guide.

Each step does the real task in the Japanese page of the actor (asserting what the page must show), then
shows the same page in the actor's English context. The names in SHOTS are the file names of the guide's
images; the guides (docs/guide/*.md) may show these and nothing else.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from .conftest import DEMO_PASSWORD

CONTRACT_TITLE = "令和8年度 倉敷処理区下水道管渠調査設計業務委託"
DRAWING = "下水道台帳図 第12号（倉敷処理区 本管）"
SCAN = "下水道台帳図 第12号（スキャン）"
DEVICE = "KS-PC-014"
MEDIUM = "USB-暗号化-01"
INCIDENT = "USBメモリの紛失（管渠調査の使用者名簿）"
LEAVER = "玉野 由美"

# In the order the walk takes them (and the guides show them).
_SHOTS_BY_PART = (
    "login otp-setup otp-code contracts contract-staff training-required training-sign",
    "asset-register asset-paper scan-refused permit-request permit-requested",
    "contract-orderer permit-inbox permit-approved asset-lineage ledger",
    "vault-unbound device-register device-approve device-enrolment-code device-failing device-bound vault-upload",
    "media-register medium-approve",
    "incident-form incident-reported orderer-incidents orderer-incident notifications",
    "roster leaving left training-status pledge subcontracts contract-manager",
    "compliance-contract compliance-overview report-request oversight audit plan closeout",
)
SHOTS: tuple[str, ...] = tuple(name for part in _SHOTS_BY_PART for name in part.split())

Check = str | Callable[[Any], None]


def _check(page: Any, check: Check) -> None:
    """A heading's text, or a function that asserts on the page."""
    if isinstance(check, str):
        expect(page.get_by_role("heading", name=check).first).to_be_visible()
    else:
        check(page)


def _visible(text: str | re.Pattern[str]) -> Callable[[Any], None]:
    return lambda page: expect(page.get_by_text(text).first).to_be_visible()


def _refusal(clause: str) -> Callable[[Any], None]:
    def check(page: Any) -> None:
        expect(page.get_by_text(re.compile(re.escape(clause))).first).to_be_visible()

    return check


@dataclass
class Actor:
    """One login session seen through two browser contexts: Japanese (`ja`) and English (`en`)."""

    username: str
    base: str
    camera: Any
    ja: Any
    en: Any

    def go(self, path: str) -> None:
        response = self.ja.goto(self.base + path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"

    @property
    def path(self) -> str:
        return str(self.ja.url).removeprefix(self.base)

    def sync(self) -> None:
        """Give the English context the session cookie again (login and device binding renew it)."""
        cookies = [c for c in self.ja.context.cookies() if c["name"] != "django_language"]
        self.en.context.add_cookies(cookies)

    def shot(
        self,
        name: str,
        ja: Check,
        en: Check,
        *,
        en_from: Callable[[Any], None] | None = None,
        mask: tuple[str, ...] = (),
        scroll: str = "",
    ) -> None:
        """Assert and photograph the Japanese page; bring the English page to the same place (the same URL
        unless *en_from* says how), assert and photograph it. *scroll* names an element to bring to the
        middle of the screen first."""
        _check(self.ja, ja)
        _scroll(self.ja, scroll)
        for selector in mask:  # what must not be photographed is there, to be painted over
            expect(self.ja.locator(selector)).to_be_visible()
        self.camera.take(self.ja, "ja", name, mask)
        if en_from is None:
            self.en.goto(self.ja.url)
        else:
            en_from(self.en)
        self.en.wait_for_load_state()
        expect(self.en.locator("html")).to_have_attribute("lang", "en")
        expect(self.en.locator(".lang-switch button[value=en]")).to_have_attribute("aria-pressed", "true")
        _check(self.en, en)
        _scroll(self.en, scroll)
        self.camera.take(self.en, "en", name, mask)


def _scroll(page: Any, selector: str) -> None:
    if selector:
        page.locator(selector).first.evaluate("e => e.scrollIntoView({block: 'center'})")


def _to_english(page: Any) -> None:
    """The language buttons in the page header (Django's set_language), as a user switches."""
    page.locator(".lang-switch").get_by_role("button", name="English").click()
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def _totp(secret: str, *, ahead: int) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(base64.b32decode(secret + "=" * (-len(secret) % 8)), step=30, t0=0, digits=6)
    totp.drift = ahead  # one step ahead is within the server's tolerance and newer than any code used
    return f"{totp.token():06d}"


class Walk:
    def __init__(self, base: str, camera: Any, new_context: Any, watch: Any, tmp: Path) -> None:
        self.base, self.camera, self.new_context, self.watch, self.tmp = base, camera, new_context, watch, tmp
        self.secrets: dict[str, str] = {}

    def page(self, lang: str) -> Any:
        return self.watch(self.new_context(lang).new_page())

    def log_in(
        self, username: str, *, shoot: str | None = None, en_page: Any = None, again: bool = False
    ) -> Actor:
        """Password, then the second factor where the role has one (enrolled at the first login). With
        *shoot*, photograph the second-factor page in both languages before completing it."""
        ja = self.page("ja")
        en = en_page or self.page("en")
        actor = Actor(username, self.base, self.camera, ja, en)
        actor.go("/login/")
        ja.get_by_label("ユーザー名").fill(username)
        ja.get_by_label("パスワード").fill(DEMO_PASSWORD)
        ja.get_by_role("button", name="ログイン").click()
        ja.wait_for_load_state()
        if ja.url.endswith("/login/otp/setup/") or ja.url.endswith("/login/otp/"):
            setup = ja.url.endswith("/setup/")
            if setup:
                self.secrets[username] = "".join(ja.locator("#totp-secret").inner_text().split())
            if shoot:
                actor.sync()
                en.goto(ja.url)
                _to_english(en)
                actor.shot(
                    shoot,
                    "認証アプリの登録" if setup else "確認コードの入力",
                    "Set up an authenticator app" if setup else "Verification code",
                    en_from=lambda page: None,
                    mask=("#totp-secret", "figure.qr") if setup else (),
                )
            code = _totp(self.secrets[username], ahead=1 if again else 0)
            ja.get_by_label("確認コード（6桁）").fill(code)
            ja.get_by_role("button", name="登録してログイン" if setup else "確認してログイン").click()
        ja.wait_for_url(self.base + "/")
        actor.sync()
        if en_page is None:
            en.goto(self.base + "/")
            _to_english(en)
        return actor


def walk(base: str, camera: Any, new_context: Any, watch: Any, tmp: Path) -> None:
    w = Walk(base, camera, new_context, watch, tmp)

    # --- logging in -----------------------------------------------------------------------------------------
    staff = Actor("staff", base, camera, w.page("ja"), w.page("en"))
    staff.go("/login/")
    staff.en.goto(base + "/login/")
    _to_english(staff.en)
    staff.shot("login", "ログイン", "Log in", en_from=lambda page: None)
    staff = w.log_in("staff", en_page=staff.en)
    manager = w.log_in("manager", shoot="otp-setup")
    w.log_in("orderer")  # enrols the authenticator; the next login asks for its code
    orderer = w.log_in("orderer", shoot="otp-code", again=True)
    staff.shot(
        "contracts",
        lambda p: expect(
            p.locator("#contract-table").get_by_role("link", name=CONTRACT_TITLE)
        ).to_be_visible(),
        "Contracts",
    )
    staff.ja.get_by_role("link", name=CONTRACT_TITLE).click()
    expect(staff.ja.get_by_role("heading", name=CONTRACT_TITLE)).to_be_visible()
    contract = staff.path  # /contracts/<id>/
    staff.shot("contract-staff", "台帳と承諾", "Ledger and permissions")

    # --- training before any information (R2.4.1): 福田 大輔 has not acknowledged yet -------------------------
    newcomer = w.log_in("staff2")
    newcomer.go(f"{contract}ledger/")
    newcomer.ja.wait_for_url(re.compile(r".*/people/training/\?next="))
    newcomer.shot(
        "training-required",
        lambda p: expect(p.locator("#clearance").get_by_text("根拠条項: R2.4.1")).to_be_visible(),
        _refusal("R2.4.1"),
        en_from=lambda page: page.goto(f"{base}{contract}ledger/"),
    )
    newcomer.ja.locator("#programme-table").get_by_role("link", name="内容を読んで確認する").click()
    newcomer.ja.get_by_label("署名（氏名を入力）").fill("福田 大輔")
    newcomer.shot(
        "training-sign",
        _visible("退職した後も続きます"),
        lambda p: expect(p.get_by_role("button", name="Acknowledge and sign")).to_be_visible(),
        scroll="#id_typed_name",
    )
    newcomer.ja.get_by_role("button", name="確認して署名する").click()
    newcomer.ja.wait_for_url(f"{base}{contract}ledger/")
    expect(newcomer.ja.get_by_text("研修の内容を確認したことを記録しました。")).to_be_visible()

    # --- staff register a lent drawing; scanning it needs the orderer's permit (R2.3) ----------------------
    staff.go(f"{contract}ledger/new/")
    page = staff.ja
    page.locator("#id_title").fill(DRAWING)
    page.get_by_label("紙", exact=True).check()
    page.get_by_label("発注者から貸与・提供").check()
    page.get_by_label("書庫・保管室").check()
    page.locator("#id_location").fill("本社3階 書庫A-2")
    page.locator("#id_quantity").fill("1")
    staff.shot("asset-register", "情報を登録", "Register information")
    page.get_by_role("button", name="台帳に登録").click()
    expect(page.get_by_text(re.compile(r"台帳に登録しました（台帳番号 A-\d{6}）。"))).to_be_visible()
    staff.shot(
        "asset-paper",
        _visible("この情報の複写・電子化には発注者の承諾が必要です（根拠条項: R2.3）。"),
        DRAWING,
    )
    scan_form = page.get_by_role("link", name="複写・電子化を登録").get_attribute("href")

    def fill_scan(p: Any, title: str) -> None:
        p.goto(base + scan_form)
        p.locator("#id_title").fill(title)
        p.locator("input[name=medium][value=electronic]").check()
        p.locator("input[name=location_kind][value=vault]").check()
        p.locator("form:has(#id_title) button[type=submit]").click()
        p.wait_for_load_state()

    fill_scan(page, SCAN)
    staff.shot(
        "scan-refused",
        lambda p: expect(p.locator("#refusal").get_by_text("根拠条項: R2.3")).to_be_visible(),
        _refusal("R2.3"),
        en_from=lambda p: fill_scan(p, SCAN),
    )
    page.locator("#refusal").get_by_role("link", name="承諾を申請する").click()
    expect(page.get_by_role("heading", name="承諾・許可を申請")).to_be_visible()
    page.get_by_label("部数").fill("1")
    page.get_by_label("申請の理由").fill("現地調査に携行するため、1部をスキャンして保管庫で管理する。")
    staff.shot("permit-request", "承諾・許可を申請", "Request a permission")
    page.get_by_role("button", name="申請する").click()
    expect(page.get_by_text(re.compile(r"承諾を申請しました（申請番号 \d+）。"))).to_be_visible()
    permit_id = re.search(r"/permits/(\d+)/$", page.url).group(1)  # type: ignore[union-attr]
    staff.shot(
        "permit-requested",
        lambda p: expect(p.locator(".page-heading .badge")).to_have_text("申請中"),
        lambda p: expect(p.locator(".page-heading .badge")).to_be_visible(),
    )

    # --- the orderer decides it, in place in the inbox --------------------------------------------------------
    orderer.go(contract)
    expect(orderer.ja.locator("#inbox-link")).to_contain_text("承諾待ち")
    orderer.shot(
        "contract-orderer",
        lambda p: expect(p.locator("#inbox-link")).to_contain_text("1"),
        lambda p: expect(p.locator("#inbox-link")).to_be_visible(),
    )
    orderer.ja.locator("#inbox-link").click()
    row = orderer.ja.locator(f"#permit-row-{permit_id}")
    expect(row.get_by_text(DRAWING)).to_be_visible()
    row.get_by_label("決定理由（不承諾の場合は必須）").fill("現地調査用として1部に限り承諾します。")
    orderer.shot("permit-inbox", "承諾待ち", "Awaiting decision")
    row.get_by_role("button", name="承諾する").click()
    expect(row.get_by_text("承諾しました。")).to_be_visible()
    orderer.shot(
        "permit-approved",
        lambda p: expect(p.locator(f"#permit-row-{permit_id} .badge")).to_have_text("承諾済"),
        lambda p: expect(p.locator(".page-heading .badge")).to_be_visible(),
        en_from=lambda p: p.goto(f"{base}{contract}permits/{permit_id}/"),
    )

    # --- staff register the scan as the drawing's child; the ledger shows both --------------------------------
    fill_scan(page, SCAN)
    expect(page.get_by_role("heading", name=SCAN)).to_be_visible()
    staff.shot(
        "asset-lineage",
        lambda p: expect(
            p.locator("#lineage-tree .tree__children .tree__node", has_text=SCAN)
        ).to_be_visible(),
        lambda p: expect(p.locator("#lineage-tree")).to_be_visible(),
    )
    staff.go(f"{contract}ledger/")
    staff.shot(
        "ledger",
        lambda p: expect(p.locator("#ledger-table").get_by_role("link", name=SCAN)).to_be_visible(),
        "Administrative information ledger",
    )

    # --- devices: the vault refuses a browser not bound to an approved PC (R2.7ア) ---------------------------
    staff.go(contract)
    page.get_by_role("link", name="保管庫（暗号化）").click()
    staff.shot("vault-unbound", _refusal("R2.7ア"), "Vault (encrypted)")
    staff.go(f"{contract}devices/")
    page.get_by_label("端末名（ホスト名）").fill(DEVICE)
    page.get_by_label("種別").select_option("laptop")
    page.get_by_label("OS", exact=True).select_option("windows")
    page.get_by_label("OSのバージョン").fill("11 Pro 23H2")
    page.get_by_label("資産番号").fill("MTC-2026-014")
    page.get_by_label("ディスク暗号化（製品名）").fill("BitLocker")
    page.get_by_label("ウイルス対策ソフト・EDR（製品名）").fill("Microsoft Defender")
    staff.shot(
        "device-register",
        "端末の登録（承認の申請）",
        lambda p: expect(p.locator("#id_name")).to_be_visible(),
        scroll="#register-heading",
    )
    page.get_by_role("button", name="登録して承認を申請").click()
    expect(page.get_by_text("端末を登録しました。情報管理責任者の承認を待っています。")).to_be_visible()
    device_path = staff.path

    manager.go(device_path)
    manager.ja.locator("#id_note").fill("暗号化・ウイルス対策を確認した。")
    manager.shot("device-approve", DEVICE, DEVICE)
    manager.ja.get_by_role("button", name="承認する", exact=True).click()
    expect(manager.ja.get_by_text("端末を承認しました。")).to_be_visible()

    def issue_code(p: Any) -> None:
        p.goto(base + device_path)
        p.locator("form[action$='/enrollment-code/'] button[type=submit]").click()
        p.wait_for_load_state()

    issue_code(manager.ja)
    manager.shot(
        "device-enrolment-code",
        lambda p: expect(p.locator("#enrollment-code")).to_be_visible(),
        lambda p: expect(p.locator("#enrollment-code")).to_be_visible(),
        en_from=issue_code,
    )
    code = manager.en.locator("#enrollment-code").inner_text().strip()  # the newest code is the valid one
    agent = _Agent(base, code)
    agent.report(firewall=False)
    staff.go(device_path)
    staff.shot("device-failing", _refusal("R2.7イ"), _refusal("R2.7イ"))
    agent.report(firewall=True)
    staff.ja.goto(agent.login_link())
    staff.ja.wait_for_url(f"{base}{contract}devices/")
    staff.sync()
    staff.shot(
        "device-bound",
        _visible(f"このブラウザを端末「{DEVICE}」に結び付けました。"),
        lambda p: expect(p.locator("#binding-heading + .alert--success")).to_be_visible(),
    )
    staff.go(f"{contract}vault/")
    upload = _scan_file(w.tmp)
    scan_row = page.locator("#vault-assets tbody tr", has_text=SCAN)
    scan_row.locator("input[type=file]").set_input_files(str(upload))
    scan_row.get_by_role("button", name="新しい版を登録").click()
    expect(scan_row.get_by_text("v1")).to_be_visible()
    with page.expect_download() as download:
        scan_row.get_by_role("link", name="取出し").click()
    assert Path(download.value.path()).read_bytes() == upload.read_bytes()
    staff.shot(
        "vault-upload",
        lambda p: expect(p.locator("#device-binding.alert--success")).to_be_visible(),
        lambda p: expect(p.locator("#vault-assets").get_by_text(upload.name)).to_be_visible(),
    )

    # --- media: an encrypted USB memory, approved by the information manager (R2.7エ) -------------------------
    staff.go(f"{contract}media/")
    page.get_by_label("管理名").fill(MEDIUM)
    page.get_by_label("種別").select_option("usb")
    page.get_by_label("セキュリティ機能").select_option("hardware_encryption")
    page.get_by_label("製造番号").fill("KS-2026-0815")
    page.get_by_label("製品名").fill("暗号化USBメモリ 32GB")
    staff.shot(
        "media-register",
        "記録媒体",
        lambda p: expect(p.locator("#id_label")).to_be_visible(),
        scroll="#id_label",
    )
    page.locator("form:has(#id_label) button[type=submit]").click()
    expect(page.get_by_text("記録媒体を登録しました。")).to_be_visible()
    manager.go(staff.path)
    manager.shot("medium-approve", MEDIUM, MEDIUM)
    manager.ja.get_by_role("button", name="承認する", exact=True).click()
    expect(manager.ja.get_by_text("記録媒体を承認しました。")).to_be_visible()

    # --- an incident, reported by staff and seen by the orderer at once (R2.8.1, P10) -------------------------
    staff.go(f"{contract}incidents/new/")
    page.get_by_label("種別").select_option(label="紛失")
    page.get_by_label("件名").fill(INCIDENT)
    page.get_by_label("概要（発生・発覚の経緯）").fill(
        "現地調査から帰庁後、鞄に入れていたUSBメモリ（暗号化機能なし）がないことに気付いた。"
    )
    page.get_by_label("個人情報を含む", exact=True).check()
    personal = page.locator("[data-show-if='has_personal_info']")
    personal.get_by_label("氏名").check()
    personal.get_by_label("住所").check()
    personal.get_by_label("本人の数").fill("150")
    staff.shot("incident-form", "事故・ヒヤリハットの報告", "Report an incident or near miss")
    page.get_by_role("button", name="報告して発注者へ通知").click()
    expect(page.get_by_text(re.compile(r"発注者担当へ通知しました。"))).to_be_visible()
    incident = staff.path
    staff.shot(
        "incident-reported",
        lambda p: expect(p.locator(".page-heading .badge")).to_have_text("発注者へ通知済"),
        INCIDENT,
    )
    orderer.go("/incidents/")
    orderer.shot(
        "orderer-incidents",
        lambda p: expect(p.locator("#incident-table tbody tr", has_text=INCIDENT)).to_be_visible(),
        "Incident reports (orderer)",
    )
    orderer.go(incident)
    orderer.shot(
        "orderer-incident",
        lambda p: expect(p.locator("#deadline-table")).to_be_visible(),
        INCIDENT,
    )
    orderer.go("/notifications/")
    orderer.shot(
        "notifications",
        lambda p: expect(p.locator("#notification-list li", has_text="事故の報告").first).to_be_visible(),
        "Notifications",
    )

    # --- the information manager's people: roster, leaving (R2.4.2), training, pledge, subcontract ------------
    manager.go(f"{contract}people/roster/")
    manager.shot(
        "roster",
        lambda p: expect(p.locator("#roster-table tbody tr", has_text=LEAVER)).to_be_visible(),
        "Staff roster",
    )
    manager.ja.locator("#roster-table").get_by_role("link", name=LEAVER).click()
    mpage = manager.ja
    mpage.get_by_label("離任の区分").select_option(index=1)
    mpage.get_by_label("理由・備考").fill("派遣契約の終了")
    mpage.get_by_label("本人の署名（退職後の義務を確認した氏名）").fill(LEAVER)
    manager.shot("leaving", "離任・退職（R2.4.2）", "Leaving (R2.4.2)", scroll=".obligations")
    mpage.get_by_role("button", name="離任・退職を記録する").click()
    mpage.wait_for_load_state()
    manager.shot(
        "left",
        lambda p: expect(p.get_by_role("link", name="退職後の義務についての通知（PDF）")).to_be_visible(),
        "Leaving (R2.4.2)",
    )
    manager.go(f"{contract}people/training/status/")
    manager.shot("training-status", "受講状況", "Training status")
    manager.go(f"{contract}people/pledge/")
    manager.shot(
        "pledge",
        lambda p: expect(p.locator("#pledge-table tbody tr").first.get_by_text("現行")).to_be_visible(),
        "pledge (Form 1)",
    )
    manager.go(f"{contract}people/subcontracts/")
    manager.shot("subcontracts", "再委託先・下請負者", "Subcontractors")
    manager.go(contract)
    manager.shot(
        "contract-manager",
        lambda p: expect(p.get_by_role("button", name="「履行中」に変更")).to_be_visible(),
        "Contract summary",
    )
    manager.ja.get_by_role("button", name="「履行中」に変更").click()  # the confirm dialog is accepted
    expect(manager.ja.locator(".page-heading .badge").first).to_contain_text("履行中")

    # --- the orderer oversees: compliance by clause, report requests and inspections (R3), the audit trail ---
    orderer.go(f"{contract}compliance/")
    orderer.ja.get_by_role("button", name="今すぐ評価する").click()
    orderer.ja.wait_for_load_state()
    orderer.shot(
        "compliance-contract",
        "遵守状況（条項ごと）",
        lambda p: expect(p.locator("#clauses-heading")).to_be_visible(),
    )
    orderer.go("/compliance/")
    orderer.shot(
        "compliance-overview",
        "遵守状況（発注者）",
        lambda p: expect(p.locator("#overview-heading")).to_be_visible(),
    )
    orderer.go(f"{contract}oversight/requests/new/")
    opage = orderer.ja
    opage.get_by_label("件名").fill("端末のセキュリティ状態についての報告")
    opage.get_by_label("求める報告の内容").fill(
        "業務に使用している端末の一覧と、直近のセキュリティ状態の報告結果を報告してください。"
    )
    opage.get_by_label("報告期限").fill((_today() + dt.timedelta(days=14)).isoformat())
    orderer.shot("report-request", "報告を求める", lambda p: expect(p.locator("#id_subject")).to_be_visible())
    opage.locator("form:has(#id_subject) button[type=submit]").click()
    expect(opage.get_by_role("heading", name="端末のセキュリティ状態についての報告")).to_be_visible()
    orderer.go(f"{contract}oversight/")
    orderer.shot(
        "oversight",
        lambda p: expect(p.get_by_text("端末のセキュリティ状態についての報告").first).to_be_visible(),
        lambda p: expect(p.locator("#requests-heading")).to_be_visible(),
    )
    orderer.go(f"{contract}audit/")
    orderer.shot("audit", "監査記録", "Audit history")

    # --- the end of the contract: the plan section (R1.2), then return and destruction (R2.5, P9) ---------
    manager.go(f"{contract}plan/")
    manager.shot("plan", "施工計画書（情報流出防止対策）", lambda p: expect(p.locator("h1")).to_be_visible())
    manager.go(contract)
    manager.ja.get_by_role("button", name="「完了手続中」に変更").click()
    expect(manager.ja.locator(".page-heading .badge").first).to_contain_text("完了手続中")
    manager.go(f"{contract}closeout/")
    manager.ja.get_by_role("button", name="チェックリストを作成する").click()
    manager.ja.wait_for_load_state()
    manager.shot(
        "closeout",
        lambda p: expect(p.locator("#summary-heading")).to_be_visible(),
        lambda p: expect(p.locator("#summary-heading")).to_be_visible(),
    )


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Tokyo")).date()


def _scan_file(tmp: Path) -> Path:
    path = tmp / "daichozu-12-scan.pdf"
    path.write_bytes(
        b"%PDF-1.4\n% scan of the sewer ledger drawing No.12 (guide walk)\n" + bytes(range(256)) * 64
    )
    return path


class _Agent:
    """The PC's agent: enrolled with the real CLI; its reports are this guide's Windows laptop, signed with
    the device key like any report."""

    def __init__(self, base: str, code: str) -> None:
        from sekisho.agent import cli

        assert cli.main(["enroll", "--server", base, "--code", code]) == 0

    def _client(self) -> Any:
        from sekisho.agent import config
        from sekisho.agent.client import AgentClient

        cfg = config.load()
        enrollment = cfg.find(None)
        return AgentClient(enrollment.server, config.load_key(cfg), enrollment.device)

    def report(self, *, firewall: bool) -> None:
        now = dt.datetime.now(dt.UTC)
        facts = {
            "platform": "windows",
            "hostname": DEVICE,
            "os_name": "Windows 11 Pro",
            "os_version": "23H2",
            "disk_encryption": True,
            "antivirus_enabled": True,
            "antivirus_product": "Microsoft Defender",
            "antivirus_definitions_updated": (now - dt.timedelta(hours=6)).isoformat(),
            "os_updated": (now - dt.timedelta(days=5)).isoformat(),
            "firewall_enabled": firewall,
            "screen_lock_enabled": True,
            "screen_lock_minutes": 5,
        }
        answer = self._client().request(
            "POST",
            "/agent/report",
            {"collected_at": now.isoformat(timespec="seconds"), "agent_version": "0.1.0", "facts": facts},
        )
        assert answer["passed"] is firewall, answer

    def login_link(self) -> str:
        from sekisho.agent import config

        answer = self._client().request("POST", "/agent/login-link", {})
        return str(config.load().find(None).server + answer["path"])
