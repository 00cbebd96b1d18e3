"""Every readiness rule, listed explicitly (a test checks that no rule module is left out)."""

from __future__ import annotations

from functools import cache

from rules.checks import payloads, profiles_and_esp, tenant_and_devices
from rules.engine import Rule

RULE_MODULES = (
    *tenant_and_devices.RULES,
    *profiles_and_esp.RULES,
    *payloads.RULES,
)


@cache
def all_rules() -> tuple[Rule, ...]:
    return tuple(Rule.from_module(module) for module in RULE_MODULES)


def rule_by_id(rule_id: str) -> Rule:
    for rule in all_rules():
        if rule.metadata.id == rule_id:
            return rule
    raise KeyError(rule_id)
