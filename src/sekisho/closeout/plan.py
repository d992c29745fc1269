"""The construction plan's 「情報流出防止対策」 section (施工計画書, R1.2), written from the contract's live
configuration — the appointments, the roster, the approved PCs and media, the vault and transfer rules, the
training, the incident contacts and deadlines, the subcontractors — so it says what the system enforces, not
what someone once typed. Regenerated on every download.

PDF through Typst (IPAex fonts embedded) and DOCX through python-docx, from one ``content()``, in Japanese
whatever the screen's language, dates in 和暦. It lives in the close-out app for file-ownership reasons only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone, translation

from sekisho.core.models import Contract, Membership, Role
from sekisho.core.wareki import to_wareki
from sekisho.devices.models import Device, Medium
from sekisho.devices.selectors import policy_values
from sekisho.documents.pdf import render_pdf
from sekisho.incidents import deadlines
from sekisho.incidents.models import IncidentSettings
from sekisho.ledger.models import Asset
from sekisho.ledger.models import Medium as AssetMedium
from sekisho.people import selectors as people
from sekisho.people.gates import current_appointments, current_pledge
from sekisho.people.models import Acknowledgement, AppointmentKind, StaffCategory, TrainingSession
from sekisho.permits.models import Permit, PermitKind, PermitState
from sekisho.vault.models import TransferPackage, VaultObject

from .docxkit import Writer

TEMPLATE = "construction_plan.typ"


@dataclass
class Table:
    header: list[str] | None
    rows: list[list[str]]
    widths: list[float]  # millimetres on A4 portrait (the PDF uses them as proportions)


@dataclass
class Section:
    number: str
    title: str
    clauses: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass
class PlanContent:
    title: str
    subtitle: str
    date: str
    contractor: str
    lead: str
    header_rows: list[list[str]]
    sections: list[Section]
    footer: str

    @property
    def filename_stem(self) -> str:
        return "construction-plan-information-security"


def _date(moment: dt.datetime | dt.date | None) -> str:
    if moment is None:
        return "—"
    if isinstance(moment, dt.datetime):
        moment = timezone.localtime(moment).date()
    return to_wareki(moment)


def _name(user: object) -> str:
    if user is None:
        return "—"
    return str(getattr(user, "display_name", "") or user.get_username())  # type: ignore[attr-defined]


def _role_label(role: str) -> str:
    return str(Role(role).label) if role in Role.values else role


def content(contract: Contract) -> PlanContent:
    with translation.override("ja"):
        return _content(contract)


def _content(contract: Contract) -> PlanContent:
    now = timezone.now()
    sections = [
        _organisation(contract),
        _staff(contract, now),
        _devices(contract, now),
        _media(contract),
        _storage(contract),
        _transfer(contract),
        _permissions(),
        _training(contract, now),
        _incidents(contract),
        _subcontracts(contract),
        _closeout(),
    ]
    return PlanContent(
        title="施工計画書（情報流出防止対策）",
        subtitle="行政情報流出防止対策に係る取扱規定 1 に基づく記載",
        date=_date(timezone.localdate()),
        contractor=contract.contractor.name,
        lead=(
            f"「{contract.title}」の履行に当たり、本業務に関するすべての行政情報について、次の流出防止対策を"
            "実施する。本書は関所（行政情報流出防止対策システム）に登録された現在の体制・設定から作成したもので"
            "あり、記載の対策はシステムにより実施・記録される。"
        ),
        header_rows=[
            ["契約番号", contract.number],
            ["業務名", contract.title],
            ["業務の目的", contract.purpose or "—"],
            ["発注者", contract.orderer.name],
            ["受注者", contract.contractor.name],
            ["履行期間", f"{to_wareki(contract.period_start)}〜{to_wareki(contract.period_end)}"],
            ["契約の状態", str(Contract.Status(contract.status).label)],
        ],
        sections=sections,
        footer=f"関所 Sekisho により {_date(now)} {timezone.localtime(now):%H:%M} 作成・契約 #{contract.pk}",
    )


def _organisation(contract: Contract) -> Section:
    appointments = current_appointments(contract)
    rows = []
    for kind, clause in ((AppointmentKind.INFO_MANAGER, "R2.6.1"), (AppointmentKind.PI_MANAGER, "P4")):
        a = appointments.get(kind)
        if a is None:
            rows.append([str(AppointmentKind(kind).label), "未選任", "—", "—", clause])
            continue
        entry = a.entry
        rows.append(
            [
                str(AppointmentKind(kind).label),
                entry.name,
                " ".join(x for x in (entry.department, entry.position) if x) or "—",
                entry.contact or "—",
                f"{clause}（{_date(a.appointed_at)} 選任）",
            ]
        )
    pledge = current_pledge(contract)
    pledge_text = (
        f"誓約書（様式1）第{pledge.version}版を{_date(pledge.signed_at)}に{pledge.typed_name}が署名し、発注者に報告済み。"
        if pledge is not None
        else "誓約書（様式1）は未提出。提出されるまで契約は履行開始（有効化）できない。"
    )
    return Section(
        "1",
        "管理体制",
        "R2.6.1、P4",
        [
            "電子情報を適正に管理し責務を負う情報管理責任者、及び個人情報保護管理責任者を次のとおり選任・配置する。",
            pledge_text,
        ],
        [Table(["区分", "氏名", "所属・役職", "連絡先", "根拠・選任日"], rows, [34, 30, 40, 34, 36])],
    )


def _staff(contract: Contract, now: dt.datetime) -> Section:
    entries = list(people.roster(contract))
    current = [e for e in entries if not e.has_left(now)]
    left = len(entries) - len(current)
    counts = {c: 0 for c in StaffCategory.values}
    for e in current:
        counts[e.category] = counts.get(e.category, 0) + 1
    return Section(
        "2",
        "社員等に対する指導",
        "R2.4.1、R2.4.2、P3",
        [
            "本業務に従事する社員等（社員、短時間特別社員、特別臨時作業員、臨時雇い、嘱託及び派遣労働者並びに取締役、"
            "相談役及び顧問、その他全ての従業員）を名簿に登録し、研修の受講と確認の署名を終えるまで行政情報に"
            "アクセスさせない。",
            f"離任・退職した者は直ちにアクセスを停止し、退職後も義務が続くことの確認を記録する（離任・退職者 {left}名）。",
        ],
        [
            Table(
                ["区分", "人数"],
                [[str(StaffCategory(c).label), f"{n}名"] for c, n in counts.items()],
                [60, 30],
            ),
            Table(
                ["氏名", "区分", "所属組織", "所属・役職", "従事開始日"],
                [
                    [
                        e.name,
                        str(StaffCategory(e.category).label),
                        e.organisation.name,
                        " ".join(x for x in (e.department, e.position) if x) or "—",
                        _date(e.started_on),
                    ]
                    for e in current
                ],
                [30, 26, 48, 40, 30],
            ),
        ],
    )


def _devices(contract: Contract, now: dt.datetime) -> Section:
    approved = list(
        Device.objects.filter(contract=contract, status=Device.Status.APPROVED, approved_until__gt=now)
        .select_related("owner", "organisation")
        .order_by("name", "pk")
    )
    values = policy_values(contract)
    requirements = [
        "ディスク暗号化" if values.require_disk_encryption else "",
        f"ウイルス対策ソフト（定義ファイルは{values.max_definitions_age_days}日以内に更新）"
        if values.require_antivirus
        else "",
        f"OSの更新（{values.max_os_update_age_days}日以内）",
        "ファイアウォール" if values.require_firewall else "",
        f"画面ロック（{values.max_screen_lock_minutes}分以内）",
    ]
    return Section(
        "3",
        "使用するパソコン等のセキュリティ対策",
        "R2.6.2ア、R2.7ア、R2.7イ",
        [
            "本業務で使用するパソコンは、情報管理責任者が承認した次の端末に限る。承認のない端末からは保管庫の"
            "行政情報にアクセスできない。",
            "各端末はエージェントにより次の対策の状態を報告し（報告の有効期間"
            f" {values.max_report_age_hours}時間）、満たさない端末は是正されるまでアクセスできない: "
            + "、".join(r for r in requirements if r)
            + "。",
        ],
        [
            Table(
                ["端末名", "種別・OS", "資産番号", "使用者", "承認期限"],
                [
                    [
                        d.name,
                        f"{Device.Kind(d.kind).label}・{Device.OS(d.os).label}",
                        d.asset_tag or "—",
                        _name(d.owner),
                        _date(d.approved_until),
                    ]
                    for d in approved
                ]
                or [["（承認済みの端末はありません）", "", "", "", ""]],
                [42, 40, 28, 34, 30],
            )
        ],
    )


def _media(contract: Contract) -> Section:
    media = list(
        Medium.objects.filter(contract=contract, status=Medium.Status.APPROVED)
        .select_related("custodian")
        .order_by("label", "pk")
    )
    return Section(
        "4",
        "電磁的記録媒体",
        "R2.7エ",
        [
            "重要情報の移送に用いる電磁的記録媒体は、セキュリティ機能（暗号化）を備え、情報管理責任者が承認した"
            "次のものに限る。承認のない媒体、セキュリティ機能のない媒体は移送に指定できない。"
        ],
        [
            Table(
                ["管理名", "種別", "セキュリティ機能", "製造番号", "保管者"],
                [
                    [
                        m.label,
                        str(Medium.Kind(m.kind).label),
                        str(Medium.SecurityFunction(m.security_function).label),
                        m.serial_number,
                        _name(m.custodian),
                    ]
                    for m in media
                ]
                or [["（承認済みの媒体はありません）", "", "", "", ""]],
                [36, 30, 38, 36, 34],
            )
        ],
    )


def _storage(contract: Contract) -> Section:
    ledger = Asset.objects.filter(contract=contract).aggregate(
        total=Count("id"),
        electronic=Count("id", filter=Q(medium=AssetMedium.ELECTRONIC)),
        important=Count("id", filter=Q(important=True)),
        personal=Count("id", filter=Q(has_personal_info=True)),
    )
    vault = VaultObject.objects.filter(contract=contract).aggregate(
        n=Count("id"), assets=Count("asset", distinct=True)
    )
    backend = {"filesystem": "サーバーのファイル保管領域", "s3": "S3互換オブジェクトストレージ"}.get(
        settings.SEKISHO_VAULT_BACKEND, settings.SEKISHO_VAULT_BACKEND
    )
    return Section(
        "5",
        "電子情報の保存に関するセキュリティ対策",
        "R1.1、R2.6.2イ、R2.7ウ",
        [
            "本業務のすべての行政情報を行政情報管理台帳に登録し、原本・複写・加工したものの系譜を記録する。",
            "電子情報は暗号化された保管庫に保存する。ファイルごとのデータ鍵で AES-256-GCM により暗号化し、"
            "データ鍵は契約ごとの鍵で保護する。契約鍵はデータのバックアップとは別の鍵保管庫に置く。"
            f"保存先: {backend}。重要情報の電子データは保管庫以外に保存できない。",
        ],
        [
            Table(
                None,
                [
                    ["台帳の件数", f"{ledger['total']}件（うち電子 {ledger['electronic']}件）"],
                    ["重要情報", f"{ledger['important']}件"],
                    ["個人情報を含むもの", f"{ledger['personal']}件"],
                    ["保管庫に保存した情報", f"{vault['assets']}件（{vault['n']}版）"],
                ],
                [60, 114],
            )
        ],
    )


def _transfer(contract: Contract) -> Section:
    permits = Permit.objects.filter(contract=contract, kind=PermitKind.TRANSFER).aggregate(
        approved=Count("id", filter=Q(state=PermitState.APPROVED)), total=Count("id")
    )
    packages = TransferPackage.objects.filter(contract=contract).count()
    return Section(
        "6",
        "電子情報を移送する際のセキュリティ対策",
        "R2.6.2ウ、R2.7エ、R2.7オ",
        [
            "重要情報の移送は、情報管理責任者の許可（持出し・移送の承諾）を得たものに限る。許可のない移送はシステムが拒否する。",
            "移送する電子情報は受取人の公開鍵で暗号化したパッケージ（age形式）とし、記録媒体を用いる場合は承認済みの"
            "暗号化媒体に限る。移送先での受領確認を記録する。",
        ],
        [
            Table(
                None,
                [
                    [
                        "持出し・移送の承諾",
                        f"承諾中 {permits['approved']}件（申請の累計 {permits['total']}件）",
                    ],
                    ["作成した移送パッケージ", f"{packages}件"],
                ],
                [60, 114],
            )
        ],
    )


def _permissions() -> Section:
    return Section(
        "7",
        "目的外使用・複製等の制限",
        "R2.1、R2.2、R2.3、P5〜P8",
        [
            "行政情報は本業務の目的以外に使用しない。目的外使用、紙で提供された行政情報の複製・電子化、個人情報が"
            "記録された資料の複写、第三者への提供は、発注者の承諾を得たものに限り、承諾の範囲（部数・期間・提供先）を"
            "超える操作はシステムが拒否する。",
            "個人情報は業務に必要な範囲で適正に収集し、台帳に収集・利用の目的と必要性を記録する。",
        ],
    )


def _training(contract: Contract, now: dt.datetime) -> Section:
    programmes = list(people.programmes(contract))
    acks = dict(
        Acknowledgement.objects.filter(contract=contract)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values("programme_id")
        .annotate(n=Count("entry", distinct=True))
        .values_list("programme_id", "n")
    )
    sessions = dict(
        TrainingSession.objects.filter(contract=contract)
        .values("programme_id")
        .annotate(n=Count("id"))
        .values_list("programme_id", "n")
    )
    rows = []
    for p in programmes:
        version = p.current_version
        rows.append(
            [
                p.title,
                f"第{version.number}版（{_date(version.published_at)}）" if version else "未公開",
                "、".join(_role_label(r) for r in p.required_roles) or "—",
                f"{p.recurrence_months}か月ごと" if p.recurrence_months else "1回",
                f"{acks.get(p.pk, 0)}名／集合研修等 {sessions.get(p.pk, 0)}回",
            ]
        )
    return Section(
        "8",
        "研修の計画",
        "R2.4.1、R2.4.2、R2.4.3、P2、P3",
        [
            "社員等には従事前に次の研修を行い、内容の確認と署名を記録する。研修の内容を改訂したときは全員が新しい版を"
            "確認し直すまで行政情報にアクセスできない。再受講の期限が近づいた者には通知する。"
        ],
        [
            Table(
                ["研修", "現行の版", "対象の役割", "再受講", "確認済み"],
                rows or [["（研修は登録されていません）", "", "", "", ""]],
                [44, 36, 36, 24, 34],
            )
        ],
    )


def _incidents(contract: Contract) -> Section:
    row = IncidentSettings.objects.filter(contract=contract).first()
    notice = row.orderer_notice_days if row else deadlines.DEFAULT_ORDERER_NOTICE_DAYS
    prompt = row.prompt_report_business_days if row else deadlines.DEFAULT_PROMPT_BUSINESS_DAYS
    members = (
        Membership.objects.current()
        .filter(contract=contract, role__in=[Role.ORDERER, Role.MANAGER])
        .select_related("user", "organisation")
        .order_by("role", "user__username")
    )
    appointments = current_appointments(contract)
    pi = appointments.get(AppointmentKind.PI_MANAGER)
    contacts = [
        [_role_label(m.role), _name(m.user), m.organisation.name, m.user.email or "—"] for m in members
    ]
    if pi is not None:
        contacts.append(
            [
                str(AppointmentKind.PI_MANAGER.label),
                pi.entry.name,
                contract.contractor.name,
                pi.entry.contact or "—",
            ]
        )
    return Section(
        "9",
        "事故発生時の措置",
        "R2.8.1、R2.8.2、P10",
        [
            "情報流出事故（そのおそれを含む）及びヒヤリハットは、覚知した者が直ちにシステムに報告し、発注者担当へ"
            "即時に通知される。原因を明確にし、補完措置と再発防止策を講じ、発注者の確認をもって完了とする。",
            "個人情報の漏えい等で報告対象となる事態は、個人情報保護委員会への速報・確報の期限を管理する。",
        ],
        [
            Table(
                ["期限", "基準"],
                [
                    ["発注者への報告", "覚知の当日" if notice == 0 else f"覚知日から{notice}日以内"],
                    ["速報（個人情報保護委員会）", f"覚知日から{prompt}営業日以内（概ね3〜5日以内）"],
                    [
                        "確報（個人情報保護委員会）",
                        f"覚知日から{deadlines.FINAL_REPORT_DAYS}日以内"
                        f"（不正の目的によるおそれがある場合 {deadlines.FINAL_REPORT_DAYS_WRONGFUL}日以内）",
                    ],
                ],
                [60, 114],
            ),
            Table(["連絡先", "氏名", "所属", "メール・電話"], contacts, [40, 32, 58, 44]),
        ],
    )


def _subcontracts(contract: Contract) -> Section:
    rows = []
    for s in people.subcontracts(contract):
        rows.append(
            [
                s.organisation.name,
                s.scope,
                f"{s.responsible_name}{(' ' + s.responsible_title) if s.responsible_title else ''}",
                str(PermitState(s.permit.state).label),
                _date(s.flowdown_at) if s.flowdown_at else "未確認",
                str(PermitState(s.pi_permit.state).label) if s.pi_permit else "取り扱わない",
            ]
        )
    return Section(
        "10",
        "再委託（下請負）",
        "R2.4.3、P8",
        [
            "再委託は発注者の承諾を得た場合に限る。再委託先には本規定に準じた流出防止対策を確認・指導し、その責任者の"
            "確認（署名）を記録する。再委託先の社員等も研修と確認を終えるまでアクセスできない。再委託先が個人情報を"
            "取り扱うには発注者の別の承諾を要する。"
        ],
        [
            Table(
                ["再委託先", "業務の範囲", "責任者", "発注者の承諾", "確認・指導", "個人情報"],
                rows or [["（再委託はありません）", "", "", "", "", ""]],
                [32, 42, 28, 24, 24, 24],
            )
        ],
    )


def _closeout() -> Section:
    return Section(
        "11",
        "契約終了時等における行政情報の返却",
        "R2.5、P9",
        [
            "業務の完了後又は発注者から返還を求められたときは、台帳のすべての行政情報（複製、付加・変更・作成したものを"
            "含む）を速やかに直接発注者に返却し、発注者の受領確認を記録する。発注者の指示により廃棄するものは方法・日付・"
            "立会者を記録し、保管庫の電子情報は契約鍵の削除（クリプトシュレッディング）により読めなくする。法令等により"
            "保存を要するものは根拠を記録して発注者の確認を受ける（個人情報は発注者の指示がある場合に限る）。",
            "すべての処理が済み、返却・廃棄証明書を発注者が確認するまで、契約は完了できない。",
        ],
    )


def pdf(report: PlanContent) -> bytes:
    return render_pdf(TEMPLATE, asdict(report))


def docx(report: PlanContent) -> bytes:
    w = Writer(report.title)
    w.para(report.date, align="right")
    w.para(report.contractor, align="right")
    w.title(report.title)
    w.para(report.subtitle, align="center", size=9)
    w.para(report.lead)
    w.table(None, report.header_rows, [40, 134])
    for section in report.sections:
        w.heading(f"{section.number}　{section.title}（{section.clauses}）")
        for text in section.paragraphs:
            w.para(text)
        for table in section.tables:
            w.table(table.header, table.rows, table.widths)
    w.para(report.footer, align="right", size=8)
    return w.bytes()
