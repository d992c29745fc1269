"""The incident pages through the test client: the lists, the report form, the workflow forms, downloads;
who sees what; the closed-network rules and the English catalog for every template string."""

from __future__ import annotations

import datetime as dt
import gettext
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from sekisho.core.wareki import to_wareki
from sekisho.incidents import services
from sekisho.incidents.deadlines import final_report_due, prompt_report_due
from sekisho.incidents.models import Incident, IncidentState
from sekisho.notifications.models import Notification

from ..web.test_pages import assert_closed_network_safe, page
from .conftest import lost_usb, no_personal

pytestmark = pytest.mark.django_db

SRC = Path(__file__).resolve().parents[2] / "src" / "sekisho"
TEMPLATES = sorted((SRC / "incidents" / "templates").rglob("*.html")) + sorted(
    (SRC / "notifications" / "templates").rglob("*.html")
)
CATALOG = SRC / "locale" / "en" / "LC_MESSAGES" / "django.mo"


def report_form(**over) -> dict[str, object]:
    data: dict[str, object] = {
        "kind": "loss",
        "title": "USBメモリの紛失",
        "description": "現地調査の帰りに紛失",
        "detected_at": timezone.localtime(timezone.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "has_personal_info": "on",
        "personal_categories": ["name", "address"],
        "personal_count": "150",
    }
    data.update(over)
    return data


def test_staff_reports_in_the_browser_and_lands_on_the_incident(world, client_for):
    client = client_for("staff")
    form = page(client, reverse("incidents:report", args=[world.contract.pk]))
    assert "事故・ヒヤリハットの報告" in form and "概ね3〜5日以内" in form
    response = client.post(reverse("incidents:report", args=[world.contract.pk]), report_form())
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", args=[world.contract.pk, incident.pk])
    html = page(client, response["Location"])
    assert "発注者担当へ通知しました" in html
    aware = timezone.localdate(incident.detected_at)
    assert to_wareki(prompt_report_due(aware)) in html
    assert to_wareki(final_report_due(aware, wrongful_purpose=False)) in html
    assert "100人超" in html and "報告義務あり" in html
    assert "調査を開始" in html, "the staff member who reported may start the investigation"
    assert "確認して完了" not in html


def test_a_wrong_report_keeps_what_was_typed_and_names_the_field(world, client_for):
    client = client_for("staff")
    response = client.post(
        reverse("incidents:report", args=[world.contract.pk]), report_form(personal_count="")
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "本人の数を入力してください" in html and "根拠条項: P10" in html
    assert 'value="USBメモリの紛失"' in html
    assert not Incident.objects.exists()


def test_the_orderer_sees_the_incident_on_the_orderer_list_and_gets_a_notification(world, client_for):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    client = client_for("orderer")
    html = page(client, reverse("incidents:orderer-list"))
    assert incident.title in html and world.contract.number in html and world.contract.contractor.name in html
    assert to_wareki(prompt_report_due(incident.aware_on)) in html
    inbox = page(client, reverse("notifications:list"))
    assert incident.ref in inbox and "未読 1件" in inbox
    notification = Notification.objects.get(user=world.orderer)
    response = client.post(reverse("notifications:read", args=[notification.pk]))
    assert response["Location"] == reverse("incidents:detail", args=[world.contract.pk, incident.pk])
    assert Notification.objects.get(pk=notification.pk).read_at is not None


def test_members_who_are_not_orderers_see_an_empty_orderer_list(world, client_for):
    services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    html = page(client_for("manager"), reverse("incidents:orderer-list"))
    assert "発注者担当として参加している契約はありません" in html
    assert "USBメモリの紛失" not in html


def test_the_workflow_in_the_browser_up_to_the_orderers_close(world, client_for):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=no_personal())
    manager, orderer = client_for("manager"), client_for("orderer")

    def step(client, name, **data):
        url = reverse("incidents:step", args=[world.contract.pk, incident.pk, name])
        return client.post(url, {f"{name}-{k}": v for k, v in data.items()})

    assert step(manager, "investigation", note="").status_code == 302
    assert step(manager, "cause", cause="宛先の確認漏れ", secondary_damage="").status_code == 302
    assert step(manager, "corrective-measures", measures="回収済み").status_code == 302
    assert step(manager, "prevention", prevention="ダブルチェック").status_code == 302
    detail = page(orderer, reverse("incidents:detail", args=[world.contract.pk, incident.pk]))
    assert "確認して完了" in detail and "差し戻す" in detail
    refused = step(manager, "close", note="")
    assert refused.status_code == 403
    assert step(orderer, "close", note="確認").status_code == 302
    assert Incident.objects.get(pk=incident.pk).state == IncidentState.CLOSED
    timeline = page(manager, reverse("incidents:detail", args=[world.contract.pk, incident.pk]))
    for label in (
        "報告",
        "調査開始",
        "原因の記録",
        "是正・補完措置の記録",
        "再発防止策の記録",
        "完了（発注者確認）",
    ):
        assert label in timeline, label


def test_an_empty_step_form_is_shown_again_with_its_error(world, client_for):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=no_personal())
    services.start_investigation(incident, acting_user=world.manager)
    url = reverse("incidents:step", args=[world.contract.pk, incident.pk, "cause"])
    response = client_for("manager").post(url, {"cause-cause": ""})
    assert response.status_code == 422
    assert "field--error" in response.content.decode()
    assert Incident.objects.get(pk=incident.pk).state == IncidentState.INVESTIGATING


def test_a_step_out_of_turn_is_refused_with_the_clause(world, client_for):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=no_personal())
    url = reverse("incidents:step", args=[world.contract.pk, incident.pk, "prevention"])
    response = client_for("manager").post(url, {"prevention-prevention": "x"})
    assert response.status_code == 409
    assert "根拠条項: R2.8.2" in response.content.decode()


def test_revising_the_facts_in_the_browser(world, client_for):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    url = reverse("incidents:step", args=[world.contract.pk, incident.pk, "facts"])
    data = {f"facts-{k}": v for k, v in report_form(personal_count="1500", wrongful_purpose="on").items()}
    assert client_for("manager").post(url, {**data, "facts-note": "判明"}).status_code == 302
    incident.refresh_from_db()
    assert incident.personal_count == 1500 and incident.wrongful_purpose


def test_the_orderer_records_the_authority_report_and_sets_the_targets(world, client_for):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    orderer = client_for("orderer")
    url = reverse("incidents:step", args=[world.contract.pk, incident.pk, "authority-report"])
    today = timezone.localdate().isoformat()
    assert (
        orderer.post(
            url, {"authority-report-stage": "prompt", "authority-report-reported_on": today}
        ).status_code
        == 302
    )
    assert Incident.objects.get(pk=incident.pk).prompt_reported_on == timezone.localdate()
    settings_url = reverse("incidents:settings", args=[world.contract.pk])
    orderer.post(settings_url, {"orderer_notice_days": "1", "prompt_report_business_days": "5"})
    html = page(orderer, reverse("incidents:list", args=[world.contract.pk]))
    assert "覚知日を1日目として5営業日目" in html
    assert client_for("manager").post(settings_url, {"orderer_notice_days": "0"}).status_code == 403


def test_downloads_are_pdf_and_docx(world, client_for):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    client = client_for("auditor")
    pdf = client.get(reverse("incidents:report-pdf", args=[world.contract.pk, incident.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    docx = client.get(reverse("incidents:report-docx", args=[world.contract.pk, incident.pk]))
    assert docx.status_code == 200 and docx.content.startswith(b"PK")
    assert "attachment" in docx["Content-Disposition"]


def test_the_auditor_reads_but_sees_no_forms_and_may_not_report(world, client_for):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    client = client_for("auditor")
    html = page(client, reverse("incidents:detail", args=[world.contract.pk, incident.pk]))
    assert "<form" not in html.split('id="main"')[1].split("site-footer")[0]
    assert client.get(reverse("incidents:report", args=[world.contract.pk])).status_code == 403
    listing = page(client, reverse("incidents:list", args=[world.contract.pk]))
    assert "事故・ヒヤリハットを報告" not in listing


def test_outsiders_get_404_everywhere(world, client_for):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    client = client_for("outsider")
    for url in (
        reverse("incidents:list", args=[world.contract.pk]),
        reverse("incidents:report", args=[world.contract.pk]),
        reverse("incidents:detail", args=[world.contract.pk, incident.pk]),
        reverse("incidents:report-pdf", args=[world.contract.pk, incident.pk]),
    ):
        assert client.get(url).status_code == 404, url
    step = reverse("incidents:step", args=[world.contract.pk, incident.pk, "investigation"])
    assert client.post(step, {}).status_code == 404
    # An incident id of another contract under this contract's URL is not found either.
    other = services.report_incident(world.other_contract, acting_user=world.outsider, data=no_personal())
    assert client.get(reverse("incidents:detail", args=[world.contract.pk, other.pk])).status_code == 404


def test_overdue_incidents_are_marked_on_the_lists(world, client_for):
    long_ago = timezone.now() - dt.timedelta(days=60)
    services.report_incident(world.contract, acting_user=world.staff, data=lost_usb(detected_at=long_ago))
    html = page(client_for("orderer"), reverse("incidents:list", args=[world.contract.pk]))
    assert "row--overdue" in html and "期限を過ぎた事案が1件あります" in html


def test_the_contract_page_links_to_incidents(world, client_for):
    html = page(client_for("staff"), reverse("web:contract-detail", args=[world.contract.pk]))
    assert reverse("incidents:list", args=[world.contract.pk]) in html
    assert reverse("incidents:report", args=[world.contract.pk]) in html
    auditor = page(client_for("auditor"), reverse("web:contract-detail", args=[world.contract.pk]))
    assert reverse("incidents:report", args=[world.contract.pk]) not in auditor


def test_list_pages_cost_a_bounded_number_of_queries(world, client_for, django_assert_max_num_queries):
    client = client_for("orderer")
    services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    with django_assert_max_num_queries(40) as one:
        page(client, reverse("incidents:orderer-list"))
    for _n in range(10):
        services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    with django_assert_max_num_queries(len(one)):
        page(client, reverse("incidents:orderer-list"))


def test_the_pages_read_in_english(world, client_for):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    client = client_for("orderer")
    client.post(reverse("set_language"), {"language": "en"})
    detail = page(client, reverse("incidents:detail", args=[world.contract.pk, incident.pk]))
    assert (
        "Report deadlines" in detail and "Preliminary report (PPC)" in detail and "Must be reported" in detail
    )
    assert "days left" in detail
    listing = page(client, reverse("incidents:orderer-list"))
    assert "Incident reports (orderer)" in listing and "Over 100 people" in listing
    assert "Notifications" in page(client, reverse("notifications:list"))
    assert "Report an incident or near miss" in page(
        client, reverse("incidents:report", args=[world.contract.pk])
    )


# --- templates as files ---------------------------------------------------------------------------------------


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
