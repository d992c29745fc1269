"""The return/destruction certificate (R2.5, P9): issued by the information manager once every item is
resolved, confirmed by the orderer. Each stage stores the generated PDF and DOCX, and its audit event records
their SHA-256, so the document handed over can be checked against the trail."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core.errors import Conflict
from sekisho.core.models import Contract

from . import documents
from .gates import unresolved_refusal
from .models import CLOSEOUT_TRANSITIONS, Certificate, CertificateStage, CloseOut, CloseOutState
from .services import begin, clean


def _move(closeout: CloseOut, to: str) -> None:
    if to not in CLOSEOUT_TRANSITIONS[closeout.state]:
        raise Conflict(
            _("返却・廃棄の手続が「{state}」のため、この操作はできません。").format(
                state=CloseOutState(closeout.state).label
            ),
            code="invalid_transition",
            clause="R2.5",
        )


def _generate(closeout: CloseOut, *, stage: str, acting_user: Any) -> Certificate:
    report = documents.content(closeout)
    pdf, docx = documents.pdf(report), documents.docx(report)
    return Certificate.objects.create(
        closeout=closeout,
        stage=stage,
        pdf=pdf,
        docx=docx,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        docx_sha256=hashlib.sha256(docx).hexdigest(),
        items_count=len(report.items),
        created_by=acting_user,
    )


def _summary(certificate: Certificate, **more: Any) -> dict[str, Any]:
    return {
        "stage": certificate.stage,
        "certificate": certificate.pk,
        "items": certificate.items_count,
        "pdf_sha256": certificate.pdf_sha256,
        "docx_sha256": certificate.docx_sha256,
        **more,
    }


@transaction.atomic
def issue_certificate(contract: Contract, *, acting_user: Any) -> Certificate:
    """The information manager signs off the close-out: only when every item of the ledger is returned
    (receipt confirmed), destroyed on instruction or retained (acknowledged) — R2.5, P9."""
    contract, closeout = begin(contract, acting_user, "closeout.resolve")
    _move(closeout, CloseOutState.ISSUED)
    refusal = unresolved_refusal(contract, doing=_("証明書を発行"))
    if refusal is not None:
        raise refusal
    closeout.state = CloseOutState.ISSUED
    closeout.issued_by = acting_user
    closeout.issued_at = timezone.now()
    closeout.confirmed_by, closeout.confirmed_at, closeout.confirmation_note = None, None, ""
    closeout.save(
        update_fields=["state", "issued_by", "issued_at", "confirmed_by", "confirmed_at", "confirmation_note"]
    )
    certificate = _generate(closeout, stage=CertificateStage.ISSUED, acting_user=acting_user)
    record(
        actor=acting_user,
        action="closeout.certificate.issue",
        contract=contract,
        obj=closeout,
        summary=_summary(certificate),
    )
    return certificate


@transaction.atomic
def confirm_certificate(contract: Contract, *, acting_user: Any, note: str = "") -> Certificate:
    """The orderer confirms the certificate (R2.5): the final document, with the confirmation on it. After
    this the orderer may close the contract."""
    contract, closeout = begin(contract, acting_user, "closeout.confirm")
    _move(closeout, CloseOutState.CONFIRMED)
    refusal = unresolved_refusal(contract, doing=_("証明書を確認"))
    if refusal is not None:
        raise refusal
    closeout.state = CloseOutState.CONFIRMED
    closeout.confirmed_by = acting_user
    closeout.confirmed_at = timezone.now()
    closeout.confirmation_note = clean(note)
    closeout.save(update_fields=["state", "confirmed_by", "confirmed_at", "confirmation_note"])
    certificate = _generate(closeout, stage=CertificateStage.CONFIRMED, acting_user=acting_user)
    record(
        actor=acting_user,
        action="closeout.certificate.confirm",
        contract=contract,
        obj=closeout,
        summary=_summary(certificate, note=clean(note)),
    )
    return certificate


def latest_certificate(closeout: CloseOut, *, with_files: bool = False) -> Certificate | None:
    """The newest certificate of *closeout*; its PDF and DOCX bytes are read only when *with_files*."""
    qs = Certificate.objects.filter(closeout=closeout).order_by("-created_at", "-id")
    return (qs if with_files else qs.defer("pdf", "docx")).first()
