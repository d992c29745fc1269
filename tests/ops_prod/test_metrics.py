"""``/metrics``: Prometheus text for allowed callers only; requests counted by method, route pattern and status;
refusals by clause; gauges read from the database (open findings by clause and severity, audit events, tasks).

In-process here (the counters of this process); tests/ops_prod/test_production_server.py checks the sums over
two gunicorn workers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client.parser import text_string_to_metric_families

from sekisho.audit.models import AuditStream
from sekisho.obs import metrics
from tests.vault.helpers import electronic_asset

pytestmark = pytest.mark.django_db

TOKEN = "t0k3n-" + "x" * 40


def scrape(
    client: Client | None = None, **headers: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = (client or Client(REMOTE_ADDR="127.0.0.1")).get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- who may scrape -----------------------------------------------------------------------------------------


def test_scraping_from_an_allowed_address_works_and_others_get_403(settings):
    settings.SEKISHO_METRICS_ALLOWED_IPS = ["127.0.0.1", "192.0.2.0/28"]
    settings.SEKISHO_METRICS_TOKEN = ""
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.14").get("/metrics").status_code == 200
    refused = Client(REMOTE_ADDR="192.0.2.16").get("/metrics")
    assert refused.status_code == 403
    assert b"sekisho_" not in refused.content


def test_a_bearer_token_opens_metrics_from_anywhere(settings):
    settings.SEKISHO_METRICS_ALLOWED_IPS = []
    settings.SEKISHO_METRICS_TOKEN = TOKEN
    remote = Client(REMOTE_ADDR="203.0.113.20")
    assert remote.get("/metrics").status_code == 403
    assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert remote.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_through_a_proxy_the_forwarded_client_decides(settings):
    settings.SEKISHO_METRICS_ALLOWED_IPS = ["127.0.0.1", "192.0.2.7"]
    settings.SEKISHO_METRICS_TOKEN = ""
    proxy = Client(REMOTE_ADDR="127.0.0.1")
    settings.SEKISHO_BEHIND_PROXY = True
    settings.SEKISHO_FORWARDED_ALLOW_IPS = ["127.0.0.1"]
    outside = {"X-Forwarded-For": "203.0.113.5"}
    assert proxy.get("/metrics", headers=outside).status_code == 403, "the proxy is local, its client is not"
    assert proxy.get("/metrics", headers={"X-Forwarded-For": "203.0.113.5, 192.0.2.7"}).status_code == 200
    # A client cannot put an allowed address in front: the proxy appends the one it saw, and that one counts.
    assert proxy.get("/metrics", headers={"X-Forwarded-For": "192.0.2.7, 203.0.113.5"}).status_code == 403


def test_forwarding_headers_from_an_untrusted_peer_open_nothing(settings):
    settings.SEKISHO_METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.SEKISHO_METRICS_TOKEN = ""
    settings.SEKISHO_BEHIND_PROXY = False  # a proxy in front that Sekisho was not told about
    local = Client(REMOTE_ADDR="127.0.0.1")
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        assert local.get("/metrics", headers={header: "127.0.0.1"}).status_code == 403, header
    settings.SEKISHO_BEHIND_PROXY = True
    settings.SEKISHO_FORWARDED_ALLOW_IPS = ["10.1.1.1"]  # the peer is not the trusted proxy
    assert local.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 403


def test_only_get(client):
    assert Client(REMOTE_ADDR="127.0.0.1").post("/metrics").status_code == 405


# --- counters -----------------------------------------------------------------------------------------------


def test_requests_are_counted_by_route_pattern_not_by_path(world, client_for):
    client = client_for("manager")
    before = scrape()
    for _ in range(3):
        assert client.get(f"/contracts/{world.contract.pk}/").status_code == 200
    assert client.get(f"/contracts/{world.other_contract.pk}/").status_code == 404
    assert client.get("/no/such/page/").status_code == 404
    after = scrape()
    route = "contracts/<int:contract_id>/"
    assert (
        value(after, "sekisho_http_requests_total", method="GET", route=route, status="200")
        - value(before, "sekisho_http_requests_total", method="GET", route=route, status="200")
        == 3
    )
    assert (
        value(after, "sekisho_http_requests_total", method="GET", route=route, status="404")
        - value(before, "sekisho_http_requests_total", method="GET", route=route, status="404")
        == 1
    )
    assert value(after, "sekisho_http_requests_total", method="GET", route="(unmatched)", status="404") >= 1
    count = value(
        after, "sekisho_http_request_duration_seconds_count", method="GET", route=route, status="200"
    ) - value(before, "sekisho_http_request_duration_seconds_count", method="GET", route=route, status="200")
    assert count == 3
    inf = value(
        after,
        "sekisho_http_request_duration_seconds_bucket",
        method="GET",
        route=route,
        status="200",
        le="+Inf",
    )
    assert inf == value(
        after, "sekisho_http_request_duration_seconds_count", method="GET", route=route, status="200"
    )
    text = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    assert f"contracts/{world.contract.pk}/" not in text, "labels carry the pattern, never an id"
    assert world.contract.number not in text and world.contract.title not in text


def test_refusals_are_counted_by_clause_for_the_api_and_the_pages(world, client_for):
    before = scrape()
    asset = electronic_asset(world)
    refused = client_for("staff").put(
        f"/api/v1/contracts/{world.contract.pk}/assets/{asset.pk}/content",
        data=b"data",
        content_type="application/octet-stream",
    )
    assert refused.status_code == 403 and refused.json()["clause"] == "R2.7ア"
    page = client_for("outsider").get(f"/contracts/{world.contract.pk}/")
    assert page.status_code == 404
    after = scrape()

    def delta(**labels):
        return value(after, "sekisho_refusals_total", **labels) - value(
            before, "sekisho_refusals_total", **labels
        )

    assert delta(clause="R2.7ア", code=refused.json()["error"], channel="api") == 1
    assert delta(clause="none", code="not_found", channel="web") == 1


def test_counting_never_breaks_a_refusal(monkeypatch, world, client_for):
    def broken():
        raise RuntimeError("the metrics files are gone")

    monkeypatch.setattr(metrics, "_get", broken)
    response = client_for("outsider").get(f"/contracts/{world.contract.pk}/")
    assert response.status_code == 404


# --- gauges from the database -------------------------------------------------------------------------------


def test_open_findings_are_counted_by_clause_and_severity(world):
    from sekisho.compliance.models import Finding

    now = timezone.now()

    def finding(n: int, clause: str, severity: str, resolved: bool = False) -> None:
        Finding.objects.create(
            contract=world.contract,
            rule=f"rule-{n}",
            clause=clause,
            severity=severity,
            subject_type="asset",
            subject_id=str(n),
            subject_label=f"資産{n}",
            first_seen_at=now,
            last_seen_at=now,
            resolved_at=now if resolved else None,
        )

    finding(1, "R2.7ア", "high")
    finding(2, "R2.7ア", "high")
    finding(3, "R2.7ア", "low")
    finding(4, "R2.4.1", "medium")
    finding(5, "R2.4.1", "medium", resolved=True)
    samples = scrape()
    open_findings = {
        dict(labels)["clause"] + "/" + dict(labels)["severity"]: v
        for (name, labels), v in samples.items()
        if name == "sekisho_compliance_open_findings"
    }
    assert open_findings == {"R2.7ア/high": 2, "R2.7ア/low": 1, "R2.4.1/medium": 1}
    assert value(samples, "sekisho_metrics_source_up", source="findings") == 1


def test_audit_events_are_the_sum_of_every_chain(world):
    samples = scrape()
    total = sum(AuditStream.objects.values_list("size", flat=True))
    assert total > 0
    assert value(samples, "sekisho_audit_events_total") == total


def test_tasks_pending_and_the_age_of_the_oldest(world):
    never = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
    for status, age in (("READY", 120), ("READY", 30), ("FAILED", 500), ("SUCCESSFUL", 900)):
        task = DBTaskResult.objects.create(
            args_kwargs={"args": [], "kwargs": {}},
            task_path="sekisho.notifications.tasks.send_notification_mail",
            backend_name="default",
            status=status,
            run_after=never,
        )
        DBTaskResult.objects.filter(pk=task.pk).update(enqueued_at=timezone.now() - dt.timedelta(seconds=age))
    samples = scrape()
    assert value(samples, "sekisho_tasks_pending") == 2
    assert 119 <= value(samples, "sekisho_tasks_oldest_pending_age_seconds") < 200
    assert value(samples, "sekisho_tasks", status="READY", queue="default") == 2
    assert value(samples, "sekisho_tasks", status="FAILED", queue="default") == 1
    assert value(samples, "sekisho_metrics_source_up", source="tasks") == 1


def test_a_source_that_fails_is_reported_down_and_the_rest_still_served(world, monkeypatch):
    def broken():
        raise RuntimeError("no such table")

    monkeypatch.setattr(metrics.DatabaseCollector, "_findings", staticmethod(broken))
    samples = scrape()
    assert value(samples, "sekisho_metrics_source_up", source="findings") == 0
    assert value(samples, "sekisho_metrics_source_up", source="audit") == 1
    assert value(samples, "sekisho_audit_events_total") > 0
