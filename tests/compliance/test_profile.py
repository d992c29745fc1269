"""The regulation as data: the shipped Kurashiki profile has every clause, ships in the package, and an orderer
officer loads its own variant (validated, audited) for every contract of the orderer's organisation."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sekisho.audit.models import AuditEvent
from sekisho.compliance import profile as profiles
from sekisho.compliance.models import ComplianceProfile
from sekisho.compliance.rules import REFERENCED_CLAUSES
from sekisho.compliance.services import load_profile
from sekisho.core.errors import Forbidden, Invalid, NotFound

# Every clause id of the specification (clauses.md), in its order.
CLAUSE_IDS = (
    *("R1.1", "R1.2", "R2.1", "R2.2", "R2.3", "R2.4.1", "R2.4.2", "R2.4.3", "R2.5", "R2.6.1"),
    *("R2.6.2ア", "R2.6.2イ", "R2.6.2ウ", "R2.7ア", "R2.7イ", "R2.7ウ", "R2.7エ", "R2.7オ"),
    *("R2.8.1", "R2.8.2", "R2.9", "R3"),
    *(f"P{n}" for n in range(1, 12)),
)
ROOT = Path(__file__).resolve().parents[2]


def test_the_default_profile_has_every_clause_in_order_with_its_wording():
    default = profiles.default_profile()
    assert default.key == "kurashiki"
    assert default.clause_ids == CLAUSE_IDS
    for clause in default.clauses:
        assert clause.title_ja and clause.text_ja and clause.summary_en and clause.control_en, clause.id
    assert "情報管理責任者が使用することを認めたパソコン以外の使用" in default.clause("R2.7ア").text_ja
    assert default.clause("P9").text_ja.startswith("第9 ")
    assert "規定されている場合" in default.clause("R2.5").text_ja  # the page break of the source is mended
    with pytest.raises(KeyError):
        default.clause("R9.9")


def test_every_clause_the_rules_reference_is_in_the_default_profile():
    assert set(REFERENCED_CLAUSES) <= set(CLAUSE_IDS)


def test_the_profiles_ship_with_the_package():
    assert profiles.shipped_profile_names() == ["kurashiki", "mlit-standard"]
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    package_data = config["tool"]["setuptools"]["package-data"]["sekisho"]
    assert "compliance/profiles/*.toml" in package_data


def test_the_national_sample_is_the_generic_wording_of_the_same_clauses():
    mlit = profiles.parse_profile(profiles.shipped_profile_text("mlit-standard"))
    assert mlit.key == "mlit-standard" and "基本的事項" in mlit.name_ja
    assert mlit.clause_ids == CLAUSE_IDS
    assert "本工事" in mlit.clause("R1.1").text_ja
    assert "本業務" not in "".join(c.text_ja for c in mlit.clauses)


def test_orderer_loads_the_national_variant_for_every_contract_of_the_organisation(world):
    row = load_profile(world.orderer, world.contract, profiles.shipped_profile_text("mlit-standard"))
    assert (row.orderer, row.key, row.loaded_by) == (world.orderer_org, "mlit-standard", world.orderer)
    # The other contract has the same orderer (another contractor): the variant applies there too.
    for contract in (world.contract, world.other_contract):
        assert profiles.active_profile(contract).key == "mlit-standard"
    event = AuditEvent.objects.filter(contract=world.contract, action="compliance.profile_load").get()
    assert event.summary["key"] == "mlit-standard" and event.summary["clauses"] == len(CLAUSE_IDS)
    # Loading the Kurashiki text again puts it back: the newest load is in force.
    load_profile(world.orderer, world.orderer_org, profiles.shipped_profile_text("kurashiki"))
    assert profiles.active_profile(world.contract).key == "kurashiki"
    assert ComplianceProfile.objects.filter(orderer=world.orderer_org).count() == 2


def test_without_a_loaded_variant_the_default_applies(world):
    assert profiles.active_profile(world.contract) == profiles.default_profile()


def test_a_variant_may_add_clauses_of_its_own(world):
    text = profiles.shipped_profile_text("kurashiki").replace('key = "kurashiki"', 'key = "kurashiki-2027"')
    text += '\n[[clauses]]\nid = "X1"\ntitle_ja = "独自の条項"\ntext_ja = "受注者は、毎月報告する。"\n'
    load_profile(world.orderer, world.contract, text)
    active = profiles.active_profile(world.contract)
    assert active.key == "kurashiki-2027" and active.clause("X1").title_ja == "独自の条項"


def test_a_variant_missing_a_referenced_clause_is_refused_naming_it(world):
    data = tomllib.loads(profiles.shipped_profile_text("kurashiki"))
    kept = [c for c in data["clauses"] if c["id"] not in ("R2.7ウ", "P5")]
    text = 'key = "short"\nname_ja = "短い規定"\n' + "".join(
        f'[[clauses]]\nid = "{c["id"]}"\ntitle_ja = "{c["title_ja"]}"\ntext_ja = "{c["text_ja"]}"\n'
        for c in kept
    )
    with pytest.raises(Invalid) as exc:
        load_profile(world.orderer, world.contract, text)
    assert exc.value.code == "invalid_profile" and exc.value.status == 422
    assert "P5" in exc.value.message and "R2.7ウ" in exc.value.message
    assert not ComplianceProfile.objects.exists()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("key = [broken", "not valid TOML"),
        ('key = "x"\nname_ja = "x"\n', "[[clauses]]"),
        ('name_ja = "x"\n[[clauses]]\nid = "R1.1"\ntitle_ja = "t"\ntext_ja = "t"\n', "'key' is required"),
        (
            'key = "x"\nname_ja = "x"\n[[clauses]]\nid = "R1.1"\ntitle_ja = "t"\ntext_ja = "t"\n'
            '[[clauses]]\nid = "R1.1"\ntitle_ja = "t"\ntext_ja = "t"\n',
            "duplicate clause id",
        ),
        ('key = "x"\nname_ja = "x"\n[[clauses]]\nid = "R1.1"\ntitle_ja = "t"\n', "'text_ja' is required"),
    ],
)
def test_a_broken_profile_is_refused_with_a_clear_reason(world, text, reason):
    with pytest.raises(Invalid) as exc:
        load_profile(world.orderer, world.contract, text)
    assert reason in exc.value.message


@pytest.mark.parametrize("persona", ["manager", "staff", "auditor"])
def test_only_the_orderer_officer_loads_a_profile(world, persona):
    with pytest.raises(Forbidden) as exc:
        load_profile(getattr(world, persona), world.contract, profiles.shipped_profile_text("mlit-standard"))
    assert exc.value.clause == "R2.1"
    assert not ComplianceProfile.objects.exists()


def test_an_outsider_cannot_load_a_profile_for_the_orderer(world):
    for target in (world.contract, world.orderer_org):
        with pytest.raises(NotFound):
            load_profile(world.outsider, target, profiles.shipped_profile_text("mlit-standard"))
    assert not ComplianceProfile.objects.exists()
