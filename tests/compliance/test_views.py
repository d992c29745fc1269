"""The compliance pages: every clause with its state and the findings, the trend charts as inline SVG (no
inline style, nothing external), the orderer's overview across contractors, the profile page, and refusals."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from sekisho.compliance.models import ComplianceProfile
from sekisho.compliance.profile import default_profile, shipped_profile_text
from sekisho.ledger.models import Asset, LocationKind

from .conftest import electronic, evaluate

pytestmark = pytest.mark.django_db


def _url(world, name="compliance:contract", **kw):
    return reverse(name, args=[world.contract.pk], **kw)


@pytest.fixture
def breached(world):
    """An important file on a PC, evaluated over three days (three points on the charts)."""
    asset = electronic(world, title="劣化箇所の写真", important=True)
    Asset.objects.filter(pk=asset.pk).update(location_kind=LocationKind.DEVICE, location="ノートPC 3号機")
    now = timezone.now()
    for days in (2, 1, 0):
        evaluate(world, now=now - dt.timedelta(days=days))
    return asset


@pytest.mark.parametrize("persona", ["orderer", "manager", "auditor"])
def test_readers_see_every_clause_with_its_state_and_the_findings(client_for, world, breached, persona):
    response = client_for(persona).get(_url(world))
    assert response.status_code == 200
    html = response.content.decode()
    rows = re.findall(r'<tr class="clause-row clause-row--(\w+)"', html)
    assert len(rows) == len(default_profile().clauses)
    assert rows.count("open") == 2  # R2.6.2イ and R2.7ウ
    assert "劣化箇所の写真" in html and "ノートPC 3号機" in html  # subject and evidence
    assert "重要情報の保管庫外での保管" in html


@pytest.mark.parametrize("persona", ["staff", "sub_staff"])
def test_staff_may_not_see_the_findings(client_for, world, breached, persona):
    response = client_for(persona).get(_url(world))
    assert response.status_code == 403
    assert "劣化箇所の写真" not in response.content.decode()


def test_an_outsider_gets_not_found(client_for, world, breached):
    assert client_for("outsider").get(_url(world)).status_code == 404
    assert client_for("outsider").get(_url(world, "compliance:report-pdf")).status_code == 404


def test_the_findings_can_be_narrowed_to_one_clause(client_for, world, breached):
    html = client_for("manager").get(_url(world), {"clause": "R2.6.2イ"}).content.decode()
    assert "劣化箇所の写真" in html
    html = client_for("manager").get(_url(world), {"clause": "P5"}).content.decode()
    assert "劣化箇所の写真" not in html and "未解消の指摘事項はありません。" in html


def test_the_trend_charts_are_inline_svg_without_inline_style_or_external_resources(
    client_for, world, breached
):
    html = client_for("orderer").get(_url(world)).content.decode()
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 3
    assert all('role="img"' in svg and "<title>" in svg for svg in svgs)
    assert "<polyline" in svgs[0]  # three days of open findings
    assert " style=" not in html and "<style" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html


def test_evaluate_now_is_offered_to_the_two_sides_and_runs(client_for, world, breached):
    assert "今すぐ評価する" not in client_for("auditor").get(_url(world)).content.decode()
    client = client_for("manager")
    assert "今すぐ評価する" in client.get(_url(world)).content.decode()
    Asset.objects.filter(pk=breached.pk).update(location_kind=LocationKind.VAULT)
    response = client.post(_url(world, "compliance:evaluate"), follow=True)
    assert response.redirect_chain[-1][0] == _url(world)
    assert "解消 1件" in response.content.decode()


@pytest.mark.parametrize("persona", ["staff", "auditor"])
def test_others_may_not_run_an_evaluation(client_for, world, persona):
    assert client_for(persona).post(_url(world, "compliance:evaluate")).status_code == 403


def test_the_orderer_overview_counts_every_contract_of_every_contractor(client_for, world, breached):
    from sekisho.core import services as core
    from sekisho.core.models import Role

    core.appoint_lead(world.other_contract, acting_user=world.admin, user=world.orderer, role=Role.ORDERER)
    evaluate(world, contract=world.other_contract)
    html = client_for("orderer").get(reverse("compliance:orderer")).content.decode()
    assert world.contract.number in html and world.other_contract.number in html
    assert world.contractor_org.name in html and world.other_org.name in html
    rows = re.findall(r"<tr(?: class=\"row--overdue\")?>\s*<td><a class=\"mono\"", html)
    assert len(rows) == 2
    assert len(re.findall(r"<svg", html)) == 3


def test_the_overview_shows_nothing_to_someone_who_is_no_orderer(client_for, world, breached):
    html = client_for("manager").get(reverse("compliance:orderer")).content.decode()
    assert world.contract.number not in html
    assert "発注者担当として参加している契約はありません。" in html


def test_the_contract_page_links_the_compliance_page_except_for_staff(client_for, world):
    detail = reverse("web:contract-detail", args=[world.contract.pk])
    assert _url(world) in client_for("orderer").get(detail).content.decode()
    assert reverse("compliance:orderer") in client_for("orderer").get(detail).content.decode()
    assert _url(world) in client_for("auditor").get(detail).content.decode()
    assert _url(world) not in client_for("staff").get(detail).content.decode()


def test_the_orderer_loads_the_national_variant_from_the_profile_page(client_for, world):
    client = client_for("orderer")
    page = client.get(_url(world, "compliance:profile"))
    assert (
        page.status_code == 200
        and "情報管理責任者が使用することを認めたパソコン以外の使用" in page.content.decode()
    )
    response = client.post(_url(world, "compliance:profile"), {"shipped": "mlit-standard"}, follow=True)
    assert "読み込みました" in response.content.decode()
    assert ComplianceProfile.objects.get().key == "mlit-standard"
    html = client.get(_url(world)).content.decode()
    assert "行政情報流出防止対策の基本的事項" in html


def test_an_uploaded_file_is_loaded_and_a_broken_one_refused_with_its_reason(client_for, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for("orderer")
    text = shipped_profile_text("kurashiki").replace('key = "kurashiki"', 'key = "kurashiki-upload"')
    upload = SimpleUploadedFile("profile.toml", text.encode("utf-8"), content_type="application/toml")
    assert client.post(_url(world, "compliance:profile"), {"file": upload}).status_code == 302
    assert ComplianceProfile.objects.get().key == "kurashiki-upload"
    response = client.post(_url(world, "compliance:profile"), {"content": "key = [broken"})
    assert response.status_code == 422
    assert "not valid TOML" in response.content.decode()
    assert ComplianceProfile.objects.count() == 1


def test_the_profile_form_wants_exactly_one_source(client_for, world):
    response = client_for("orderer").post(_url(world, "compliance:profile"), {})
    assert response.status_code == 422
    assert "いずれか一つを指定してください" in response.content.decode()


@pytest.mark.parametrize(("persona", "status"), [("manager", 403), ("auditor", 403), ("outsider", 404)])
def test_only_the_orderer_posts_a_profile(client_for, world, persona, status):
    response = client_for(persona).post(_url(world, "compliance:profile"), {"shipped": "mlit-standard"})
    assert response.status_code == status
    assert not ComplianceProfile.objects.exists()


def test_the_profile_form_is_offered_to_the_orderer_only(client_for, world):
    assert (
        'enctype="multipart/form-data"'
        in client_for("orderer").get(_url(world, "compliance:profile")).content.decode()
    )
    assert (
        'enctype="multipart/form-data"'
        not in client_for("manager").get(_url(world, "compliance:profile")).content.decode()
    )


@pytest.mark.parametrize(("fmt", "magic"), [("pdf", b"%PDF-"), ("docx", b"PK")])
def test_the_report_downloads(client_for, world, breached, fmt, magic):
    response = client_for("auditor").get(_url(world, f"compliance:report-{fmt}"))
    assert response.status_code == 200 and response.content.startswith(magic)
    assert f"compliance-{world.contract.pk}.{fmt}" in response["Content-Disposition"]
    assert client_for("staff").get(_url(world, f"compliance:report-{fmt}")).status_code == 403


def test_the_pages_read_in_english_too(client_for, world, breached):
    client = client_for("orderer")
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = client.get(_url(world)).content.decode()
    assert "Evaluate now" in html and "今すぐ評価する" not in html
