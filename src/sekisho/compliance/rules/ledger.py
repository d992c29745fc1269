"""Rules over the ledger: important information outside the vault, copies whose permit no longer stands,
information not returned after the contract's end, personal information without a collection purpose."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sekisho.ledger.models import Asset, AssetState, LocationKind, Medium, Origin
from sekisho.permits.models import PermitState
from sekisho.vault.models import VaultObject

from .base import Context, Found, Rule, iso, jdate, label

ASSET = "ledger.asset"
STILL_HELD = (AssetState.HELD, AssetState.IN_TRANSIT)
# How long an important electronic asset registered to the vault may wait for its content to be sealed there.
VAULT_GRACE = dt.timedelta(days=1)


def important_outside_vault(ctx: Context) -> Iterator[Found]:
    """R2.7ウ / R2.6.2イ: electronic important information rests encrypted in the vault. Two breaches: the
    ledger places it elsewhere (data from before the rule, or changed behind the services' back), or the ledger
    says "vault" but no version was ever sealed there a day after registration (the file lives on some PC).
    One query."""
    rows = (
        Asset.objects.filter(
            contract_id=ctx.contract.pk, medium=Medium.ELECTRONIC, important=True, state=AssetState.HELD
        )
        .annotate(sealed=Exists(VaultObject.objects.filter(asset_id=OuterRef("pk"))))
        .filter(~Q(location_kind=LocationKind.VAULT) | Q(sealed=False, created_at__lt=ctx.now - VAULT_GRACE))
        .order_by("pk")
        .values_list("pk", "ref", "title", "location_kind", "location", "has_personal_info", "created_at")
    )
    # Translated once, not once a row: a large ledger may produce thousands of these.
    outside_text = _("電子の重要情報が暗号化保管庫の外（{kind}: {location}）に保管されています。")
    unsealed_text = _("保管場所は保管庫ですが、登録から1日を過ぎても内容が保管庫に登録されていません。")
    kinds = {value: str(name) for value, name in LocationKind.choices}
    for pk, ref, title, kind, location, personal, created_at in rows:
        outside = kind != LocationKind.VAULT
        yield Found(
            clause="R2.7ウ",
            severity="high" if outside else "medium",
            subject_type=ASSET,
            subject_id=str(pk),
            subject_label=label(ref, title),
            message=(
                outside_text.format(kind=kinds.get(kind, kind), location=location or "-")
                if outside
                else unsealed_text
            ),
            evidence={
                "ref": ref,
                "location_kind": kind,
                "location": location,
                "in_vault": not outside,
                "registered_at": iso(created_at),
                "personal": personal,
            },
        )


def copies_without_permit(ctx: Context) -> Iterator[Found]:
    """R2.3 / P7: a copy made under a permit that was revoked or has expired is still held. One query."""
    today = ctx.today
    rows = (
        Asset.objects.filter(
            contract_id=ctx.contract.pk, origin=Origin.COPY, state__in=STILL_HELD, permit__isnull=False
        )
        .filter(
            Q(permit__state__in=[PermitState.REVOKED, PermitState.EXPIRED]) | Q(permit__valid_until__lt=today)
        )
        .order_by("pk")
        .values_list(
            "pk",
            "ref",
            "title",
            "state",
            "parent__medium",
            "permit_id",
            "permit__state",
            "permit__valid_until",
        )
    )
    revoked_text = _("複写の承諾（#{permit}）が取り消された後も複写物を保有しています。")
    expired_text = _("複写の承諾（#{permit}）の有効期間（{until}まで）を過ぎても複写物を保有しています。")
    for pk, ref, title, state, parent_medium, permit_id, permit_state, valid_until in rows:
        revoked = permit_state == PermitState.REVOKED
        yield Found(
            # The permit stood for R2.3 (paper provided by the orderer) or P7 (lent personal information).
            clause="R2.3" if parent_medium == Medium.PAPER else "P7",
            severity="high" if revoked else "medium",
            subject_type=ASSET,
            subject_id=str(pk),
            subject_label=label(ref, title),
            message=(revoked_text if revoked else expired_text).format(
                permit=permit_id, until=jdate(valid_until)
            ),
            evidence={
                "ref": ref,
                "state": state,
                "permit": permit_id,
                "permit_state": permit_state,
                "permit_valid_until": iso(valid_until),
            },
        )


def not_returned_after_end(ctx: Context) -> Iterator[Found]:
    """R2.5 / P9: once the contract period has ended, every piece of information is returned (or destroyed or
    retained on the orderer's word). One query, none at all before the end."""
    end = ctx.contract.period_end
    if end >= ctx.today:
        return
    rows = (
        Asset.objects.filter(contract_id=ctx.contract.pk, state__in=STILL_HELD)
        .order_by("pk")
        .values_list("pk", "ref", "title", "state", "has_personal_info")
    )
    text = _("履行期間の終了（{end}）後も返却・廃棄されていません（状態: {state}）。")
    states = {value: str(name) for value, name in AssetState.choices}
    ended = jdate(end)
    for pk, ref, title, state, personal in rows:
        yield Found(
            clause="P9" if personal else "R2.5",
            severity="high",
            subject_type=ASSET,
            subject_id=str(pk),
            subject_label=label(ref, title),
            message=text.format(end=ended, state=states.get(state, state)),
            evidence={"ref": ref, "state": state, "period_end": iso(end), "personal": personal},
        )


def personal_without_purpose(ctx: Context) -> Iterator[Found]:
    """P5: personal information is collected only for a stated purpose and need. One query."""
    rows = (
        Asset.objects.filter(contract_id=ctx.contract.pk, has_personal_info=True)
        .exclude(state__in=[AssetState.RETURNED, AssetState.DESTROYED])
        .filter(Q(personal_purpose="") | Q(personal_necessity=""))
        .order_by("pk")
        .values_list("pk", "ref", "title", "personal_purpose", "personal_necessity")
    )
    text = _("個人情報の収集・利用の目的又は業務上の必要性が記録されていません。")
    for pk, ref, title, purpose, necessity in rows:
        missing = [name for name, value in (("purpose", purpose), ("necessity", necessity)) if not value]
        yield Found(
            clause="P5",
            severity="medium",
            subject_type=ASSET,
            subject_id=str(pk),
            subject_label=label(ref, title),
            message=text,
            evidence={"ref": ref, "missing": missing},
        )


LEDGER_RULES = (
    Rule(
        "important_outside_vault",
        ("R2.7ウ", "R2.6.2イ"),
        gettext_lazy("重要情報の保管庫外での保管"),
        important_outside_vault,
    ),
    Rule(
        "copy_permit_lapsed",
        (),
        gettext_lazy("承諾の失効した複写物の保有"),
        copies_without_permit,
        subject_clauses=("R2.3", "P7"),
    ),
    Rule(
        "not_returned_after_end",
        ("R2.5",),
        gettext_lazy("履行期間終了後の未返却"),
        not_returned_after_end,
        subject_clauses=("P9",),
    ),
    Rule(
        "personal_without_purpose", ("P5",), gettext_lazy("収集目的のない個人情報"), personal_without_purpose
    ),
)
