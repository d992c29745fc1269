"""The rules: each reads the live state of one contract with a fixed number of set-based queries (never one per
row) and yields what breaks a clause, as ``Found`` candidates that ``services.evaluate_contract`` turns into
findings.

A rule names its clause ids (the first is the one its findings are filed under unless the rule chooses a more
specific one per subject; the others are related clauses whose state it also decides). Every clause id named here
must exist in a profile before the profile can be loaded (``REFERENCED_CLAUSES``).
"""

from __future__ import annotations

from sekisho.compliance.rules.base import Context, Found, Rule
from sekisho.compliance.rules.devices import DEVICE_RULES
from sekisho.compliance.rules.incidents import INCIDENT_RULES
from sekisho.compliance.rules.ledger import LEDGER_RULES
from sekisho.compliance.rules.people import PEOPLE_RULES

RULES: tuple[Rule, ...] = (*LEDGER_RULES, *DEVICE_RULES, *PEOPLE_RULES, *INCIDENT_RULES)
RULES_BY_KEY: dict[str, Rule] = {rule.key: rule for rule in RULES}
REFERENCED_CLAUSES: frozenset[str] = frozenset(
    clause for rule in RULES for clause in (*rule.clauses, *rule.subject_clauses)
)


def clauses_of_rule(rule_key: str) -> tuple[str, ...]:
    rule = RULES_BY_KEY.get(rule_key)
    return rule.clauses if rule is not None else ()


__all__ = ["REFERENCED_CLAUSES", "RULES", "RULES_BY_KEY", "Context", "Found", "Rule", "clauses_of_rule"]
