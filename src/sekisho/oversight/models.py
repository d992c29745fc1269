"""The orderer's oversight (R3: 発注者は報告を求め、検査することができる): report requests with their answers and
sealed attachments, inspections with a checklist generated from the regulation's clauses, inspection findings
with corrective-action requests (是正要求), and the once-per-due-date memory of overdue reminders."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

CLAUSE = "R3"

# --- report requests (報告の求め) ---------------------------------------------------------------------------------


class RequestState(models.TextChoices):
    REQUESTED = "requested", _("報告待ち")
    ANSWERED = "answered", _("回答済（確認待ち）")
    MORE_REQUESTED = "more_requested", _("追加報告の求め")
    ACCEPTED = "accepted", _("受理")
    WITHDRAWN = "withdrawn", _("取下げ")


# The only allowed moves: the contractor answers a request (or a request for more); the orderer accepts the
# answer or asks for more; the orderer may withdraw a request that is not answered.
REQUEST_TRANSITIONS: dict[str, frozenset[str]] = {
    RequestState.REQUESTED: frozenset({RequestState.ANSWERED, RequestState.WITHDRAWN}),
    RequestState.ANSWERED: frozenset({RequestState.ACCEPTED, RequestState.MORE_REQUESTED}),
    RequestState.MORE_REQUESTED: frozenset({RequestState.ANSWERED, RequestState.WITHDRAWN}),
    RequestState.ACCEPTED: frozenset(),
    RequestState.WITHDRAWN: frozenset(),
}
# States in which the contractor owes an answer (and the due date runs).
AWAITING_ANSWER = frozenset({RequestState.REQUESTED, RequestState.MORE_REQUESTED})


class ReportRequest(models.Model):
    """The orderer asks the contractor to report on its information management (R3)."""

    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="report_requests")
    number = models.PositiveIntegerField(_("番号"))
    subject = models.CharField(_("件名"), max_length=200)
    detail = models.TextField(_("求める報告の内容"))
    due_on = models.DateField(_("報告期限"))
    state = models.CharField(
        _("状態"), max_length=20, choices=RequestState.choices, default=RequestState.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("依頼者"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("依頼日時"), default=timezone.now, editable=False)
    closed_at = models.DateTimeField(_("完了日時"), null=True, blank=True, editable=False)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("報告の求め")
        verbose_name_plural = _("報告の求め")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="report_request_number_unique"),
        ]
        indexes = [models.Index(fields=["contract", "state"]), models.Index(fields=["state", "due_on"])]

    def __str__(self) -> str:
        return f"{self.ref} {self.subject}"

    @property
    def ref(self) -> str:
        return f"RR-{self.number}"

    def allowed_next(self) -> frozenset[str]:
        return REQUEST_TRANSITIONS[self.state]

    @property
    def awaiting_answer(self) -> bool:
        return self.state in AWAITING_ANSWER


class Review(models.TextChoices):
    ACCEPTED = "accepted", _("受理")
    MORE_REQUESTED = "more_requested", _("追加報告を求めた")


class ReportAnswer(models.Model):
    """One answer of the contractor (a round: the first answer, then one per request for more), and the
    orderer's review of it."""

    policy_contract_path = "request__contract"

    request = models.ForeignKey(ReportRequest, on_delete=models.PROTECT, related_name="answers")
    round = models.PositiveSmallIntegerField(_("回"))
    text = models.TextField(_("報告内容"))
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("回答者"), on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(_("回答日時"), default=timezone.now, editable=False)
    review = models.CharField(_("確認結果"), max_length=20, choices=Review.choices, blank=True)
    review_note = models.TextField(_("発注者の所見・追加で求める事項"), blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("報告（回答）")
        verbose_name_plural = _("報告（回答）")
        ordering = ["request", "round"]
        constraints = [
            models.UniqueConstraint(fields=["request", "round"], name="report_answer_round_unique")
        ]

    def __str__(self) -> str:
        return f"{self.request_id} #{self.round}"


class ReportAttachment(models.Model):
    """A file attached to an answer, sealed like vault content (AES-256-GCM segments, data key wrapped by the
    contract key: crypto-shredding the contract makes it unreadable too). No plaintext is ever on disk."""

    policy_contract_path = "contract"

    uid = models.UUIDField(unique=True, editable=False)
    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="+")
    answer = models.ForeignKey(ReportAnswer, on_delete=models.PROTECT, related_name="attachments")
    filename = models.CharField(_("ファイル名"), max_length=255)
    content_type = models.CharField(_("形式"), max_length=100, blank=True)
    size = models.BigIntegerField(_("サイズ（バイト）"))
    sha256 = models.CharField(_("SHA-256（平文）"), max_length=64)
    backend = models.CharField(max_length=20, editable=False)
    storage_key = models.CharField(max_length=300, editable=False)
    stored_size = models.BigIntegerField(editable=False)
    segment_size = models.PositiveIntegerField(editable=False)
    key_id = models.UUIDField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("報告の添付ファイル")
        verbose_name_plural = _("報告の添付ファイル")
        ordering = ["answer", "id"]
        constraints = [
            models.UniqueConstraint(fields=["backend", "storage_key"], name="report_attachment_blob_unique"),
        ]

    def __str__(self) -> str:
        return self.filename


# --- inspections (検査) -------------------------------------------------------------------------------------------


class InspectionState(models.TextChoices):
    PLANNED = "planned", _("予定")
    IN_PROGRESS = "in_progress", _("実施中")
    COMPLETED = "completed", _("完了")
    CANCELLED = "cancelled", _("中止")


# Completing freezes the checklist and its findings (their corrective actions go on to the end).
INSPECTION_TRANSITIONS: dict[str, frozenset[str]] = {
    InspectionState.PLANNED: frozenset({InspectionState.IN_PROGRESS, InspectionState.CANCELLED}),
    InspectionState.IN_PROGRESS: frozenset({InspectionState.COMPLETED, InspectionState.CANCELLED}),
    InspectionState.COMPLETED: frozenset(),
    InspectionState.CANCELLED: frozenset(),
}


class Inspection(models.Model):
    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="inspections")
    number = models.PositiveIntegerField(_("番号"))
    title = models.CharField(_("検査名"), max_length=200)
    scheduled_on = models.DateField(_("実施予定日"))
    place = models.CharField(_("実施場所"), max_length=200, blank=True)
    scope = models.TextField(_("検査の範囲・方法"), blank=True)
    profile_key = models.CharField(_("規定"), max_length=50)
    profile_name = models.CharField(_("規定の名称"), max_length=300)
    state = models.CharField(
        _("状態"), max_length=20, choices=InspectionState.choices, default=InspectionState.PLANNED
    )
    summary = models.TextField(_("総評"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("検査員"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(_("開始日時"), null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(_("完了日時"), null=True, blank=True, editable=False)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = pgettext_lazy("oversight", "検査")
        verbose_name_plural = pgettext_lazy("oversight", "検査")
        ordering = ["-scheduled_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="inspection_number_unique")
        ]
        indexes = [models.Index(fields=["contract", "state"])]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"

    @property
    def ref(self) -> str:
        return f"INS-{self.number}"

    def allowed_next(self) -> frozenset[str]:
        return INSPECTION_TRANSITIONS[self.state]

    @property
    def is_frozen(self) -> bool:
        return self.state in (InspectionState.COMPLETED, InspectionState.CANCELLED)


class ItemResult(models.TextChoices):
    CONFORMING = "conforming", pgettext_lazy("inspection result", "適合")
    NONCONFORMING = "nonconforming", _("指摘")
    NOT_APPLICABLE = "not_applicable", _("該当なし")


class InspectionItem(models.Model):
    """One clause of the checklist. The clause's wording and the compliance findings open when the checklist
    was made (or the inspection started) are copied in: the record stays what the inspector saw."""

    policy_contract_path = "inspection__contract"

    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="items")
    position = models.PositiveSmallIntegerField()
    clause_id = models.CharField(_("条項"), max_length=20)
    clause_title = models.CharField(_("項目"), max_length=200)
    clause_text = models.TextField(_("規定の内容"))
    open_findings = models.JSONField(_("未解消の検出事項"), default=list, blank=True)
    open_findings_total = models.PositiveIntegerField(default=0)
    result = models.CharField(_("結果"), max_length=20, choices=ItemResult.choices, blank=True)
    note = models.TextField(_("所見"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("検査項目")
        verbose_name_plural = _("検査項目")
        ordering = ["inspection", "position"]
        constraints = [
            models.UniqueConstraint(fields=["inspection", "clause_id"], name="inspection_item_clause_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.inspection_id} {self.clause_id}"


class FindingState(models.TextChoices):
    OPEN = "open", _("是正要求中")
    ANSWERED = "answered", _("是正報告済（確認待ち）")
    CLOSED = "closed", _("是正確認済")


# The contractor reports the correction; the orderer closes it or asks again (back to "open").
FINDING_TRANSITIONS: dict[str, frozenset[str]] = {
    FindingState.OPEN: frozenset({FindingState.ANSWERED}),
    FindingState.ANSWERED: frozenset({FindingState.CLOSED, FindingState.OPEN}),
    FindingState.CLOSED: frozenset(),
}


class InspectionFinding(models.Model):
    """A finding of the inspection (指摘事項) with the orderer's corrective-action request (是正要求)."""

    policy_contract_path = "inspection__contract"

    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="findings")
    item = models.ForeignKey(InspectionItem, on_delete=models.PROTECT, related_name="findings")
    number = models.PositiveSmallIntegerField(_("番号"))
    description = models.TextField(_("指摘事項"))
    corrective_request = models.TextField(_("是正要求"))
    due_on = models.DateField(_("是正期限"))
    state = models.CharField(
        _("状態"), max_length=20, choices=FindingState.choices, default=FindingState.OPEN
    )
    response = models.TextField(_("是正の内容"), blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    responded_at = models.DateTimeField(null=True, blank=True, editable=False)
    orderer_note = models.TextField(_("発注者の所見・再度の指示"), blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("検査の指摘事項")
        verbose_name_plural = _("検査の指摘事項")
        ordering = ["inspection", "number"]
        constraints = [
            models.UniqueConstraint(fields=["inspection", "number"], name="inspection_finding_number_unique"),
        ]
        indexes = [models.Index(fields=["state", "due_on"])]

    def __str__(self) -> str:
        return f"{self.inspection_id}-{self.number}"

    @property
    def ref(self) -> str:
        return f"INS-{self.inspection.number}-{self.number}"

    def allowed_next(self) -> frozenset[str]:
        return FINDING_TRANSITIONS[self.state]

    @property
    def awaiting_response(self) -> bool:
        return self.state == FindingState.OPEN


class OverdueReminder(models.Model):
    """One reminder per due date crossed, of a report request or of a corrective action: the tick creates the
    row and notifies only when it is new, so running it again sends nothing twice. A new due date (the
    orderer asked for more) is a new reminder."""

    policy_contract_path = "contract"

    contract = models.ForeignKey("core.Contract", on_delete=models.PROTECT, related_name="+")
    request = models.ForeignKey(
        ReportRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="reminders"
    )
    finding = models.ForeignKey(
        InspectionFinding, null=True, blank=True, on_delete=models.PROTECT, related_name="reminders"
    )
    due_on = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("期限超過の督促")
        verbose_name_plural = _("期限超過の督促")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(request__isnull=False) & models.Q(finding__isnull=True))
                | (models.Q(request__isnull=True) & models.Q(finding__isnull=False)),
                name="oversight_reminder_of_one_thing",
            ),
            models.UniqueConstraint(
                fields=["request", "due_on"],
                condition=models.Q(request__isnull=False),
                name="oversight_one_reminder_per_request_due",
            ),
            models.UniqueConstraint(
                fields=["finding", "due_on"],
                condition=models.Q(finding__isnull=False),
                name="oversight_one_reminder_per_finding_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id or self.finding_id} {self.due_on}"
