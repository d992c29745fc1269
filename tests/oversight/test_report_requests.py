"""Report requests (報告の求め, R3) through the services: who may ask, answer, accept or ask for more; the
state table; sealed attachments; notifications and audit events."""

from __future__ import annotations

import hashlib

import pytest

from sekisho.audit.models import AuditEvent
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.core.models import Contract
from sekisho.notifications.models import Notification
from sekisho.oversight import attachments, services
from sekisho.oversight.models import ReportAttachment, ReportRequest, RequestState, Review

from .conftest import in_days, upload

pytestmark = pytest.mark.django_db


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("index"))


def test_the_orderer_requests_a_report_and_the_manager_is_told(world, report_request):
    assert report_request.ref == "RR-1"
    assert report_request.state == RequestState.REQUESTED
    (event,) = events("report_request.create")
    assert event.contract_id == world.contract.pk and event.actor == world.orderer
    assert event.summary["to"] == ["manager"]
    assert Notification.objects.filter(user=world.manager, subject__contains="RR-1").exists()
    assert not Notification.objects.filter(user=world.staff).exists()


def test_numbers_count_per_contract(world, report_request):
    second = services.create_report_request(
        world.contract, acting_user=world.orderer, subject="二件目", detail="内容", due_on=in_days(3)
    )
    assert second.ref == "RR-2"


@pytest.mark.parametrize("persona", ["manager", "staff", "sub_staff", "auditor"])
def test_only_the_orderer_may_request_a_report(world, persona):
    with pytest.raises(Forbidden) as refused:
        services.create_report_request(
            world.contract,
            acting_user=getattr(world, persona),
            subject="件名",
            detail="内容",
            due_on=in_days(3),
        )
    assert refused.value.status == 403 and refused.value.clause == "R3"
    assert not ReportRequest.objects.exists()


def test_an_outsider_gets_not_found(world):
    with pytest.raises(NotFound):
        services.create_report_request(
            world.contract, acting_user=world.outsider, subject="件名", detail="内容", due_on=in_days(3)
        )


@pytest.mark.parametrize(
    ("subject", "detail", "days", "code"),
    [
        ("", "内容", 3, "invalid"),
        ("件名", " ", 3, "invalid"),
        ("件名", "内容", -1, "due_in_past"),
        ("件名", "内容", 400, "due_too_far"),
    ],
)
def test_a_request_needs_a_subject_a_detail_and_a_due_date_ahead(world, subject, detail, days, code):
    with pytest.raises(Invalid) as refused:
        services.create_report_request(
            world.contract, acting_user=world.orderer, subject=subject, detail=detail, due_on=in_days(days)
        )
    assert refused.value.status == 422 and refused.value.code == code


def test_a_closed_contract_takes_no_request(world):
    Contract.objects.filter(pk=world.contract.pk).update(status=Contract.Status.CLOSED)
    with pytest.raises(Conflict) as refused:
        services.create_report_request(
            world.contract, acting_user=world.orderer, subject="件名", detail="内容", due_on=in_days(3)
        )
    assert refused.value.code == "contract_closed" and refused.value.clause == "R3"


def test_the_manager_answers_with_sealed_attachments(world, answered, vault_dirs):
    assert answered.state == RequestState.ANSWERED
    (answer,) = answered.answers.all()
    assert answer.round == 1 and answer.answered_by == world.manager
    files = list(ReportAttachment.objects.filter(answer=answer).order_by("id"))
    assert [f.filename for f in files] == ["報告書.pdf", "持出し記録.csv"]
    assert files[0].sha256 == hashlib.sha256(b"%PDF-1.4 report").hexdigest()
    # Sealed at rest: the blob is in the vault's storage, and the plaintext is nowhere on disk.
    blobs = [p for p in (vault_dirs / "vault").rglob("*") if p.is_file()]
    assert len(blobs) == 2 and all("oversight" in str(p) for p in blobs)
    for path in vault_dirs.rglob("*"):
        if path.is_file():
            assert b"%PDF-1.4 report" not in path.read_bytes()
    (event,) = events("report_request.answer")
    assert event.summary["on_time"] is True
    assert [a["filename"] for a in event.summary["attachments"]] == ["報告書.pdf", "持出し記録.csv"]
    assert Notification.objects.filter(user=world.orderer, subject__contains="報告の提出").exists()


def test_readers_download_the_attachment_and_the_download_is_recorded(world, answered):
    attachment = ReportAttachment.objects.get(filename="報告書.pdf")
    for persona in ("orderer", "manager", "auditor"):
        body = b"".join(services.download_attachment(attachment, acting_user=getattr(world, persona)))
        assert body == b"%PDF-1.4 report"
    assert len(events("report_request.attachment_download")) == 3


@pytest.mark.parametrize(("persona", "error"), [("staff", Forbidden), ("outsider", NotFound)])
def test_staff_and_outsiders_may_not_download(world, answered, persona, error):
    attachment = ReportAttachment.objects.get(filename="報告書.pdf")
    with pytest.raises(error):
        services.download_attachment(attachment, acting_user=getattr(world, persona))
    assert not events("report_request.attachment_download")


@pytest.mark.parametrize("persona", ["orderer", "staff", "sub_staff", "auditor"])
def test_only_the_manager_answers(world, report_request, persona):
    with pytest.raises(Forbidden) as refused:
        services.answer_report_request(report_request, acting_user=getattr(world, persona), text="報告")
    assert refused.value.clause == "R3"
    report_request.refresh_from_db()
    assert report_request.state == RequestState.REQUESTED


def test_an_answer_needs_text(world, report_request):
    with pytest.raises(Invalid):
        services.answer_report_request(report_request, acting_user=world.manager, text="  ")


def test_an_attachment_over_the_limit_is_refused_with_413_and_nothing_is_stored(
    world, report_request, settings, vault_dirs
):
    settings.SEKISHO_REPORT_ATTACHMENT_MAX_BYTES = 1000
    with pytest.raises(attachments.AttachmentTooLarge) as refused:
        services.answer_report_request(
            report_request, acting_user=world.manager, text="報告", files=[upload(content=b"x" * 1001)]
        )
    assert refused.value.status == 413 and refused.value.code == "too_large"
    assert not (vault_dirs / "vault").exists() or not any(
        p.is_file() for p in (vault_dirs / "vault").rglob("*")
    )
    report_request.refresh_from_db()
    assert report_request.state == RequestState.REQUESTED


def test_a_size_that_lies_is_caught_while_sealing(world, report_request, settings, vault_dirs):
    settings.SEKISHO_REPORT_ATTACHMENT_MAX_BYTES = 1000
    lying = upload(content=b"y" * 5000)
    lying.size = 10
    with pytest.raises(attachments.AttachmentTooLarge):
        services.answer_report_request(report_request, acting_user=world.manager, text="報告", files=[lying])
    assert not any(p.is_file() for p in (vault_dirs / "vault").rglob("*"))


def test_too_many_or_empty_attachments_are_refused_with_422(world, report_request, settings):
    settings.SEKISHO_REPORT_ATTACHMENT_MAX_COUNT = 2
    with pytest.raises(Invalid) as refused:
        services.answer_report_request(
            report_request, acting_user=world.manager, text="報告", files=[upload(), upload(), upload()]
        )
    assert refused.value.code == "too_many_attachments"
    with pytest.raises(Invalid) as empty:
        services.answer_report_request(
            report_request, acting_user=world.manager, text="報告", files=[upload(content=b"")]
        )
    assert empty.value.code == "empty_attachment"


def test_an_answered_request_cannot_be_answered_again(world, answered, vault_dirs):
    with pytest.raises(Conflict) as refused:
        services.answer_report_request(answered, acting_user=world.manager, text="もう一度", files=[upload()])
    assert refused.value.status == 409 and refused.value.code == "invalid_transition"
    assert refused.value.clause == "R3"
    assert ReportAttachment.objects.count() == 2
    assert len([p for p in (vault_dirs / "vault").rglob("*") if p.is_file()]) == 2


def test_the_orderer_asks_for_more_and_the_manager_answers_again(world, answered):
    services.request_more(answered, acting_user=world.orderer, note="持出し記録の原本も", due_on=in_days(7))
    answered.refresh_from_db()
    assert answered.state == RequestState.MORE_REQUESTED and answered.due_on == in_days(7)
    first = answered.answers.get(round=1)
    assert first.review == Review.MORE_REQUESTED and first.review_note == "持出し記録の原本も"
    assert Notification.objects.filter(user=world.manager, subject__contains="追加報告").exists()
    services.answer_report_request(answered, acting_user=world.manager, text="原本の写しです。")
    services.accept_report(answered, acting_user=world.orderer, note="確認しました")
    answered.refresh_from_db()
    assert answered.state == RequestState.ACCEPTED and answered.closed_by == world.orderer
    assert answered.answers.get(round=2).review == Review.ACCEPTED
    assert [
        e.action for e in AuditEvent.objects.filter(object_type="oversight.reportrequest").order_by("index")
    ] == [
        "report_request.create",
        "report_request.answer",
        "report_request.more",
        "report_request.answer",
        "report_request.accept",
    ]


def test_an_accepted_request_is_final(world, answered):
    services.accept_report(answered, acting_user=world.orderer)
    for call in (
        lambda: services.accept_report(answered, acting_user=world.orderer),
        lambda: services.request_more(answered, acting_user=world.orderer, note="追加", due_on=in_days(3)),
        lambda: services.withdraw_report_request(answered, acting_user=world.orderer, reason="不要"),
        lambda: services.answer_report_request(answered, acting_user=world.manager, text="追記"),
    ):
        with pytest.raises(Conflict) as refused:
            call()
        assert refused.value.clause == "R3"


def test_an_unanswered_request_cannot_be_accepted(world, report_request):
    with pytest.raises(Conflict) as refused:
        services.accept_report(report_request, acting_user=world.orderer)
    assert refused.value.code == "invalid_transition"


@pytest.mark.parametrize("persona", ["manager", "staff", "auditor"])
def test_only_the_orderer_reviews(world, answered, persona):
    with pytest.raises(Forbidden):
        services.accept_report(answered, acting_user=getattr(world, persona))
    with pytest.raises(Forbidden):
        services.request_more(answered, acting_user=getattr(world, persona), note="追加", due_on=in_days(3))


def test_asking_for_more_needs_what_and_a_new_due_date(world, answered):
    with pytest.raises(Invalid):
        services.request_more(answered, acting_user=world.orderer, note="", due_on=in_days(3))
    with pytest.raises(Invalid):
        services.request_more(answered, acting_user=world.orderer, note="追加", due_on=in_days(-1))


def test_the_orderer_withdraws_an_unanswered_request(world, report_request):
    services.withdraw_report_request(report_request, acting_user=world.orderer, reason="別の方法で確認した")
    report_request.refresh_from_db()
    assert report_request.state == RequestState.WITHDRAWN
    (event,) = events("report_request.withdraw")
    assert event.summary["reason"] == "別の方法で確認した"
    with pytest.raises(Conflict):
        services.answer_report_request(report_request, acting_user=world.manager, text="報告")


def test_an_answered_request_cannot_be_withdrawn(world, answered):
    with pytest.raises(Conflict):
        services.withdraw_report_request(answered, acting_user=world.orderer, reason="不要")


def test_attachments_are_unreadable_after_crypto_shredding(world, answered):
    from sekisho.vault.keystore import get_key_service

    get_key_service().destroy(world.contract.pk)
    attachment = ReportAttachment.objects.get(filename="報告書.pdf")
    with pytest.raises(Conflict) as refused:
        services.download_attachment(attachment, acting_user=world.orderer)
    assert refused.value.code == "key_destroyed"
    assert not events("report_request.attachment_download")
