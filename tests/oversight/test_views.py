"""The oversight pages through the test client: the orderer's and the contractor's side, refusals with their
clause, downloads, who sees what; the closed-network rules and the English catalog for every template string."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from sekisho.oversight.models import FindingState, InspectionState, ReportAttachment, RequestState

from ..web.test_pages import assert_closed_network_safe, page
from .conftest import in_days

pytestmark = pytest.mark.django_db

SRC = Path(__file__).resolve().parents[2] / "src" / "sekisho"
TEMPLATES = sorted((SRC / "oversight" / "templates").rglob("*.html"))
CATALOG = SRC / "locale" / "en" / "LC_MESSAGES" / "django.mo"


def url(name: str, world, *args) -> str:
    return reverse(f"oversight:{name}", args=[world.contract.pk, *args])


def test_the_orderer_requests_and_the_manager_answers_in_the_browser(world, client_for):
    orderer = client_for("orderer")
    assert "報告を求める" in page(orderer, url("index", world))
    response = orderer.post(
        url("request-new", world),
        {"subject": "記録媒体の管理", "detail": "台帳の写しを", "due_on": in_days(10).isoformat()},
    )
    assert response.status_code == 302
    detail = response["Location"]
    manager = client_for("manager")
    html = page(manager, detail)
    assert "記録媒体の管理" in html and "報告する" in html and 'enctype="multipart/form-data"' in html
    answered = manager.post(
        reverse("oversight:request-answer", args=[world.contract.pk, int(detail.rstrip("/").split("/")[-1])]),
        {
            "answer-text": "台帳の写しを添付します。",
            "answer-attachments": [
                SimpleUploadedFile("台帳.xlsx", b"PK-xlsx", content_type="application/vnd.ms-excel"),
                SimpleUploadedFile("写真.jpg", b"\xff\xd8jpeg", content_type="image/jpeg"),
            ],
        },
    )
    assert answered.status_code == 302
    assert ReportAttachment.objects.count() == 2
    html = page(orderer, detail)
    assert "台帳.xlsx" in html and "受理する" in html and "追加の報告を求める" in html
    attachment = ReportAttachment.objects.get(filename="写真.jpg")
    download = orderer.get(url("attachment", world, attachment.pk))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"\xff\xd8jpeg"
    assert "attachment;" in download["Content-Disposition"]
    accepted = orderer.post(
        reverse("oversight:request-step", args=[world.contract.pk, attachment.answer.request_id, "accept"]),
        {"accept-note": "確認しました"},
    )
    assert accepted.status_code == 302
    attachment.answer.request.refresh_from_db()
    assert attachment.answer.request.state == RequestState.ACCEPTED


def test_a_refused_step_is_shown_with_its_clause(world, client_for, report_request):
    response = client_for("orderer").post(
        reverse("oversight:request-step", args=[world.contract.pk, report_request.pk, "accept"]),
        {"accept-note": ""},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "根拠条項: R3" in html and "invalid_transition" in html
    assert_closed_network_safe(html)


def test_an_oversized_attachment_in_the_browser_is_413(world, client_for, report_request, settings):
    settings.SEKISHO_REPORT_ATTACHMENT_MAX_BYTES = 100
    response = client_for("manager").post(
        reverse("oversight:request-answer", args=[world.contract.pk, report_request.pk]),
        {"answer-text": "報告", "answer-attachments": [SimpleUploadedFile("big.bin", b"x" * 500)]},
    )
    assert response.status_code == 413
    assert "big.bin" in response.content.decode() and "大きすぎます" in response.content.decode()
    assert not ReportAttachment.objects.exists()


def test_the_answer_form_keeps_the_csrf_check(world, report_request):
    from django.test import Client

    from ..conftest import verified_client

    client = verified_client(world.manager)
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    response = strict.post(
        reverse("oversight:request-answer", args=[world.contract.pk, report_request.pk]),
        {"answer-text": "報告"},
    )
    assert response.status_code == 403
    report_request.refresh_from_db()
    assert report_request.state == RequestState.REQUESTED


def test_the_inspection_in_the_browser(world, client_for):
    orderer = client_for("orderer")
    response = orderer.post(
        url("inspection-new", world),
        {"title": "第1回検査", "scheduled_on": timezone.localdate().isoformat(), "place": "事務所"},
    )
    assert response.status_code == 302
    detail = response["Location"]
    inspection_id = int(detail.rstrip("/").split("/")[-1])
    html = page(orderer, detail)
    assert "R2.7ア" in html and "開始する" in html
    assert orderer.post(url("inspection-step", world, inspection_id, "start")).status_code == 302
    from sekisho.oversight.models import Inspection

    inspection = Inspection.objects.get(pk=inspection_id)
    for item in inspection.items.all():
        result = "nonconforming" if item.clause_id == "R2.4.1" else "not_applicable"
        response = orderer.post(
            url("item", world, inspection_id, item.pk),
            {
                f"item-{item.pk}-result": result,
                f"item-{item.pk}-note": "研修未受講者あり" if result == "nonconforming" else "",
            },
        )
        assert response.status_code == 302, item.clause_id
    item = inspection.items.get(clause_id="R2.4.1")
    assert "指摘事項（是正要求）を登録" in page(orderer, detail)
    response = orderer.post(
        url("finding-new", world, inspection_id, item.pk),
        {
            f"finding-{item.pk}-description": "研修を受けていない社員がいた",
            f"finding-{item.pk}-corrective_request": "受講させること",
            f"finding-{item.pk}-due_on": in_days(7).isoformat(),
        },
    )
    assert response.status_code == 302
    finding = inspection.findings.get()
    completed = orderer.post(
        url("inspection-step", world, inspection_id, "complete"), {"complete-summary": "良好"}
    )
    assert completed.status_code == 302
    manager = client_for("manager")
    html = page(manager, detail)
    assert "是正の内容を報告する" in html and "開始する" not in html
    assert (
        manager.post(
            url("finding-step", world, inspection_id, finding.pk, "response"),
            {f"response-{finding.pk}-response": "全員受講済み"},
        ).status_code
        == 302
    )
    assert (
        orderer.post(
            url("finding-step", world, inspection_id, finding.pk, "close"), {f"close-{finding.pk}-note": ""}
        ).status_code
        == 302
    )
    finding.refresh_from_db()
    inspection.refresh_from_db()
    assert finding.state == FindingState.CLOSED and inspection.state == InspectionState.COMPLETED
    for name, magic in (("inspection-pdf", b"%PDF-"), ("inspection-docx", b"PK")):
        download = client_for("auditor").get(url(name, world, inspection_id))
        assert download.status_code == 200 and download.content.startswith(magic)


def test_a_result_without_a_note_keeps_the_form_and_says_why(world, client_for, started):
    item = started.items.get(clause_id="R1.1")
    response = client_for("orderer").post(
        url("item", world, started.pk, item.pk), {f"item-{item.pk}-result": "nonconforming"}
    )
    assert response.status_code == 422
    assert "所見を入力してください" in response.content.decode()


def test_the_auditor_reads_without_forms_and_staff_are_refused(world, client_for, answered, started):
    auditor = client_for("auditor")
    html = page(auditor, url("request-detail", world, answered.pk))
    assert "受理する" not in html and "報告する" not in html
    html = page(auditor, url("inspection-detail", world, started.pk))
    assert "記録する" not in html and "完了する" not in html
    staff = client_for("staff")
    for target in (
        url("index", world),
        url("request-detail", world, answered.pk),
        url("inspection-detail", world, started.pk),
    ):
        assert staff.get(target).status_code == 403


def test_outsiders_get_404_everywhere(world, client_for, answered, started):
    outsider = client_for("outsider")
    attachment = ReportAttachment.objects.first()
    item = started.items.first()
    for target in (
        url("index", world),
        url("request-detail", world, answered.pk),
        url("attachment", world, attachment.pk),
        url("inspection-detail", world, started.pk),
        url("inspection-pdf", world, started.pk),
        url("inspectors", world),
    ):
        assert outsider.get(target).status_code == 404, target
    for target in (url("request-answer", world, answered.pk), url("item", world, started.pk, item.pk)):
        assert outsider.post(target, {}).status_code == 404, target


def test_the_contract_page_links_to_oversight_for_all_but_staff(world, client_for):
    target = reverse("web:contract-detail", args=[world.contract.pk])
    link = url("index", world)
    for persona in ("orderer", "manager", "auditor"):
        assert link in page(client_for(persona), target)
    assert link not in page(client_for("staff"), target)


def test_overdue_requests_are_marked_on_the_overview(world, client_for, report_request):
    type(report_request).objects.filter(pk=report_request.pk).update(
        due_on=timezone.localdate() - timezone.timedelta(days=10)
    )
    html = page(client_for("manager"), url("index", world))
    assert "row--overdue" in html and "期限超過" in html


def test_the_overview_costs_a_bounded_number_of_queries(world, client_for, django_assert_max_num_queries):
    from sekisho.oversight import services

    for n in range(5):
        services.create_report_request(
            world.contract, acting_user=world.orderer, subject=f"件名{n}", detail="内容", due_on=in_days(5)
        )
    client = client_for("orderer")
    with django_assert_max_num_queries(25):
        assert client.get(url("index", world)).status_code == 200


def test_the_pages_read_in_english(world, client_for, answered):
    client = client_for("orderer")
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = page(client, url("request-detail", world, answered.pk))
    assert "Accept" in html and "Ask for more" in html and "受理する" not in html


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_templates_have_no_inline_script_or_style(template: Path) -> None:
    assert_closed_network_safe(template.read_text(encoding="utf-8"), rendered=False)


def test_every_template_string_has_an_english_translation() -> None:
    with CATALOG.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    ids: set[str] = set()
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        ids.update(re.findall(r"""{%\s*translate\s+["']([^"']+)["']""", text))
        for body in re.findall(
            r"{%\s*blocktranslate\s+with[^%]*%}(.*?){%\s*endblocktranslate\s*%}", text, re.S
        ):
            ids.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body))
    assert len(ids) > 50
    missing = sorted(i for i in ids if catalog.gettext(i) == i)
    assert missing == []
