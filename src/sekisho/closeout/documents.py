"""The 返却・廃棄証明書 (return/destruction certificate, R2.5, P9): every asset of the ledger with how it was
resolved, the orderer's confirmation or instruction, and the proof of the crypto-shredding (the vault's
shredding record, the hash of its audit event and the SHA-256 of every version that became unreadable);
signed off by the information manager and confirmed by the orderer.

PDF through Typst (IPAex fonts embedded) and DOCX through python-docx, both from one ``content()``, in
Japanese whatever the screen's language, dates in 和暦.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from django.utils import timezone, translation

from sekisho.audit.models import AuditEvent
from sekisho.core.wareki import to_wareki
from sekisho.documents.pdf import render_pdf
from sekisho.ledger.models import Medium, Origin
from sekisho.vault.models import Shredding

from . import selectors
from .docxkit import Writer
from .models import CloseOut, CloseOutItem, CloseOutState, DestructionMethod, ItemState

TEMPLATE = "closeout_certificate.typ"
PENDING = "（確認待ち）"
RESOLUTION_TEXT = {
    ItemState.RETURNED: "返却",
    ItemState.DESTROYED: "廃棄",
    ItemState.RETAINED: "保存",
    ItemState.OPEN: "未処理",
    ItemState.HANDED_OVER: "返却（受領確認待ち）",
    ItemState.RETENTION_PROPOSED: "保存（確認待ち）",
}


def name_of(user: Any) -> str:
    if user is None:
        return "—"
    return str(getattr(user, "display_name", "") or user.get_username())


def wareki_date(moment: dt.datetime | dt.date | None) -> str:
    if moment is None:
        return "—"
    if isinstance(moment, dt.datetime):
        moment = timezone.localtime(moment).date()
    return to_wareki(moment)


@dataclass
class Content:
    title: str
    stage: str
    date: str
    addressee: str
    issuer: list[str]
    lead: str
    header_rows: list[list[str]]
    totals_header: list[str]
    totals: list[list[str]]
    item_header: list[str]
    items: list[list[str]]
    shredding_rows: list[list[str]]
    hash_header: list[str]
    hashes: list[list[str]]
    signoff_header: list[str]
    signoff: list[list[str]]
    reference: str

    @property
    def filename_stem(self) -> str:
        return "closeout-certificate"


def _medium_text(item: CloseOutItem) -> str:
    asset = item.asset
    medium = "紙" if asset.medium == Medium.PAPER else "電子"
    if asset.medium == Medium.PAPER and asset.quantity:
        medium += f" {asset.quantity}部"
    origin = {
        Origin.PROVIDED: "原本（貸与・提供）",
        Origin.COPY: "複写・電子化",
        Origin.DERIVED: "作成・加工",
    }[
        asset.origin  # type: ignore[index]
    ]
    parent = f"\n元: {asset.parent.ref}" if asset.parent_id and asset.parent else ""
    return f"{medium}\n{origin}{parent}"


def _personal_text(item: CloseOutItem) -> str:
    asset = item.asset
    if not asset.has_personal_info:
        return "なし"
    count = f"（{asset.personal_count:,}人）" if asset.personal_count else ""
    return "あり" + count + ("\n要配慮" if asset.personal_sensitive else "")


def _instruction_text(item: CloseOutItem) -> str:
    permit = item.instruction
    if permit is None:
        return ""
    kind = "廃棄" if permit.kind == "destruction" else "保存"
    return f"{kind}の指示 #{permit.pk}（{name_of(permit.decided_by)} {wareki_date(permit.decided_at)}）"


def _detail(item: CloseOutItem, hashes: dict[int, list[tuple[int, str]]]) -> str:
    if item.state in (ItemState.RETURNED, ItemState.HANDED_OVER):
        text = f"{wareki_date(item.handed_over_at)} 発注者へ直接返却"
        return text + (f"\n{item.handover_note}" if item.handover_note else "")
    if item.state == ItemState.DESTROYED:
        method = DestructionMethod(item.destruction_method).label if item.destruction_method else "—"
        text = f"{method}\n{wareki_date(item.destroyed_on)}"
        if item.witness:
            text += f"　立会: {item.witness}"
        if item.shredding_id:
            versions = hashes.get(item.asset_id, [])
            text += f"\n削除記録 #{item.shredding_id}、読めなくなった版 {len(versions)}（別表）"
        return text + (f"\n{item.note}" if item.note else "")
    if item.state in (ItemState.RETAINED, ItemState.RETENTION_PROPOSED):
        text = f"根拠: {item.retention_basis}\n法令等: {item.retention_law}"
        if item.retention_until:
            text += f"\n保存期限: {wareki_date(item.retention_until)}"
        return text
    return "—"


def _confirmation(item: CloseOutItem) -> str:
    if item.state == ItemState.RETURNED:
        return f"受領確認 {name_of(item.confirmed_by)}\n{wareki_date(item.confirmed_at)}"
    if item.state == ItemState.DESTROYED:
        return _instruction_text(item) or "—"
    if item.state == ItemState.RETAINED:
        text = f"保存の確認 {name_of(item.confirmed_by)}\n{wareki_date(item.confirmed_at)}"
        instruction = _instruction_text(item)
        return text + (f"\n{instruction}" if instruction else "")
    return PENDING


def _shredding_rows(shredding: Shredding | None) -> list[list[str]]:
    if shredding is None:
        return []
    event = (
        AuditEvent.objects.filter(
            contract_id=shredding.contract_id, action="vault.shred", object_id=str(shredding.pk)
        )
        .only("hash", "index")
        .first()
    )
    return [
        ["削除記録の番号", f"#{shredding.pk}"],
        [
            "実施日時",
            f"{wareki_date(shredding.executed_at)} {timezone.localtime(shredding.executed_at):%H:%M}",
        ],
        ["実施者", name_of(shredding.executed_by)],
        ["廃棄の指示（承諾）", f"#{shredding.permit_id}"],
        ["削除した契約鍵", "\n".join(str(k) for k in shredding.key_ids) or "—"],
        ["鍵を削除した保管場所の数", f"{len(shredding.locations)}（鍵保管庫とそのバックアップ）"],
        ["読めなくなった版", f"{shredding.objects_count}版（{shredding.objects_bytes:,}バイト）"],
        [
            "監査記録（vault.shred）",
            f"連番 {event.index}\nSHA-256 {event.hash[:32]}\n{event.hash[32:]}" if event is not None else "—",
        ],
    ]


def content(closeout: CloseOut) -> Content:
    with translation.override("ja"):
        return _content(closeout)


def _content(closeout: CloseOut) -> Content:
    contract = closeout.contract
    items = list(selectors.certificate_items(closeout).select_related("instruction__decided_by"))
    hashes = selectors.vault_hashes(closeout)
    shredding = Shredding.objects.filter(contract_id=contract.pk).select_related("executed_by").first()
    counts: dict[str, dict[str, int]] = {}
    for item in items:
        row = counts.setdefault(item.state, {Medium.PAPER: 0, Medium.ELECTRONIC: 0})
        row[item.asset.medium] += 1
    confirmed = closeout.state == CloseOutState.CONFIRMED
    issued_on = closeout.issued_at or timezone.now()
    by_ref = {item.asset_id: item.asset.ref for item in items}
    return Content(
        title="返却・廃棄証明書",
        stage="発注者確認済" if confirmed else "情報管理責任者発行（発注者の確認待ち）",
        date=wareki_date(issued_on),
        addressee=f"{contract.orderer.name}　御中",
        issuer=[contract.contractor.name, f"情報管理責任者　{name_of(closeout.issued_by)}"],
        lead=(
            f"契約「{contract.title}」の完了に当たり、本業務の履行に関し発注者から提供を受けた行政情報"
            "（発注者の許可を得て複製したものを含む。）及び本業務において付加、変更、作成した行政情報の"
            "すべてについて、次のとおり発注者に直接返却し、発注者の指示により廃棄し、又は法令等の定めにより"
            "保存したことを証明します（行政情報流出防止対策に係る取扱規定 2「契約終了時等における行政情報の返却」、"
            "個人情報取扱特記事項 第9）。"
        ),
        header_rows=[
            ["契約番号", contract.number],
            ["業務名", contract.title],
            ["受注者", contract.contractor.name],
            ["履行期間", f"{to_wareki(contract.period_start)}〜{to_wareki(contract.period_end)}"],
            ["返却・廃棄の手続の開始", f"{wareki_date(closeout.opened_at)}（{name_of(closeout.opened_by)}）"],
            [
                "対象の件数",
                f"{len(items):,}件（返却 {sum(counts.get(ItemState.RETURNED, {}).values()):,}件、"
                f"廃棄 {sum(counts.get(ItemState.DESTROYED, {}).values()):,}件、"
                f"保存 {sum(counts.get(ItemState.RETAINED, {}).values()):,}件）",
            ],
        ],
        totals_header=["処理", "紙", "電子", "計"],
        totals=[
            [
                RESOLUTION_TEXT[state],
                f"{counts[state][Medium.PAPER]:,}",
                f"{counts[state][Medium.ELECTRONIC]:,}",
                f"{counts[state][Medium.PAPER] + counts[state][Medium.ELECTRONIC]:,}",
            ]
            for state in (ItemState.RETURNED, ItemState.DESTROYED, ItemState.RETAINED)
            if state in counts
        ],
        item_header=[
            "台帳番号",
            "名称",
            "媒体・由来",
            "個人情報",
            "処理",
            "処理の内容",
            "発注者の確認・指示",
        ],
        items=[
            [
                item.asset.ref,
                item.asset.title,
                _medium_text(item),
                _personal_text(item),
                RESOLUTION_TEXT[item.state],  # type: ignore[index]
                _detail(item, hashes),
                _confirmation(item),
            ]
            for item in items
        ],
        shredding_rows=_shredding_rows(shredding),
        hash_header=["台帳番号", "版", "SHA-256（平文）"],
        hashes=[
            [by_ref.get(asset_id, str(asset_id)), str(version), sha]
            for asset_id, versions in hashes.items()
            for version, sha in versions
        ]
        if shredding is not None
        else [],
        signoff_header=["", "氏名", "日付"],
        signoff=[
            ["情報管理責任者（発行）", name_of(closeout.issued_by), wareki_date(closeout.issued_at)],
            [
                "発注者担当（確認）",
                name_of(closeout.confirmed_by) if confirmed else PENDING,
                wareki_date(closeout.confirmed_at) if confirmed else PENDING,
            ],
        ]
        + (
            [["発注者の確認の記録", closeout.confirmation_note, ""]]
            if confirmed and closeout.confirmation_note
            else []
        ),
        reference=f"Sekisho 完了手続 #{closeout.pk}・契約 #{contract.pk}",
    )


def pdf(report: Content) -> bytes:
    return render_pdf(TEMPLATE, asdict(report))


def docx(report: Content) -> bytes:
    w = Writer(report.title)
    w.para(report.date, align="right")
    w.para(report.addressee)
    w.para("\n".join(report.issuer), align="right")
    w.title(report.title)
    w.para(report.stage, align="center", size=9)
    w.para(report.lead)
    w.table(None, report.header_rows, [50, 124])
    if report.totals:
        w.heading("処理の内訳")
        w.table(report.totals_header, report.totals, [44, 40, 40, 40])
    w.heading("対象となった行政情報（台帳の全件）")
    w.table(report.item_header, report.items, [20, 34, 22, 14, 14, 38, 32], size=8)
    if report.shredding_rows:
        w.heading("暗号鍵の削除（クリプトシュレッディング）の記録")
        w.table(None, report.shredding_rows, [50, 124])
        w.heading("読めなくなった版（平文のSHA-256）", level=2)
        w.table(report.hash_header, report.hashes, [24, 12, 138], size=7.5)
    w.heading("確認")
    w.table(report.signoff_header, report.signoff, [50, 74, 50])
    w.para(report.reference, align="right", size=8)
    return w.bytes()
