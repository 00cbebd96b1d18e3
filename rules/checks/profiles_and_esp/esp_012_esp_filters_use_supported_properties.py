"""ESP-012: assignment filters on ESPs use only the properties ESP assignments support."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.profiles_and_esp.esp_settings import esp_subject
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.membership_rules import (
    And,
    CollectionCondition,
    Comparison,
    Expression,
    Not,
    Or,
    Property,
    UnsupportedRule,
    parse_membership_rule,
)
from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_PROFILES,
    ENROLLMENT_CONFIGURATIONS,
)
from rules.tenant_objects import EnrollmentConfiguration, EnrollmentConfigurationKind

METADATA = RuleMetadata(
    id="ESP-012",
    title="Assignment filters on Enrollment Status Pages use only the properties ESPs support",
    severity=Severity.ERROR,
    rationale=(
        "Due to OS restrictions only filters whose rules use model, manufacturer, osVersion, "
        "operatingSystemSKU, deviceOwnership and enrollmentProfileName are available for ESP "
        "assignments; model and manufacturer need Windows 11 23H2 or 22H2 with KB5035942 or "
        "later (Enrollment Status Page). An ESP assigned with a filter on any other property "
        "can't be evaluated when the device enrolls, so which ESP the pre-provisioning devices "
        "get is not the one the filter describes. The rule is parsed, not searched for names."
    ),
    remediation=(
        "Microsoft Intune admin center > Tenant administration > Filters: give the ESP a filter "
        "that only uses model, manufacturer, osVersion, operatingSystemSKU, deviceOwnership or "
        "enrollmentProfileName (Devices > Enrollment > Windows > Enrollment Status Page > the "
        "ESP > Properties > Assignments)."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/intune/intune-service/fundamentals/filters",
    ),
    graph_reads=(AUTOPILOT_PROFILES, ENROLLMENT_CONFIGURATIONS, ASSIGNMENT_FILTERS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
    ),
)

SUPPORTED: Final = frozenset(
    name.casefold()
    for name in (
        "model",
        "manufacturer",
        "osVersion",
        "operatingSystemSKU",
        "deviceOwnership",
        "enrollmentProfileName",
    )
)
_ESP_KINDS: Final = (EnrollmentConfigurationKind.ESP, EnrollmentConfigurationKind.DEFAULT_ESP)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, AUTOPILOT_PROFILES))
    if missing:
        yield from missing
        return
    if not context.targeting.preprovisioning_profiles():
        return
    missing = tuple(context.unknown_if_unreadable(METADATA, ENROLLMENT_CONFIGURATIONS))
    if missing:
        yield from missing
        return
    finding = FindingBuilder(METADATA)
    for esp in context.snapshot.enrollment_configurations or ():
        if esp.kind in _ESP_KINDS:
            yield from _check(context, finding, esp)


def _check(
    context: RuleContext, finding: FindingBuilder, esp: EnrollmentConfiguration
) -> Iterator[Finding]:
    subject = esp_subject(esp)
    if esp.assignments is None:
        yield finding.unknown(
            subject, f"the assignments of ESP '{esp.display_name}' could not be read"
        )
        return
    for assignment in esp.assignments:
        if not assignment.has_filter:
            continue
        filter_id = assignment.filter_id or ""
        found = context.snapshot.assignment_filter(filter_id)
        if found is None:
            reason = (
                "assignment filters could not be read"
                if context.snapshot.assignment_filters is None
                else "the filter is not in the tenant"
            )
            yield finding.unknown(
                subject,
                f"ESP '{esp.display_name}' is assigned with filter {filter_id}, which could not "
                "be read",
                (reason,),
            )
            continue
        filter_subject = Subject("assignmentFilter", found.id, found.display_name)
        parsed = parse_membership_rule(found.rule)
        if isinstance(parsed, UnsupportedRule):
            yield finding.unknown(
                subject,
                f"the rule of filter '{found.display_name}' on ESP '{esp.display_name}' could not "
                f"be understood: {parsed.reason}",
                (f"rule: {found.rule}",),
                related=(filter_subject,),
            )
            continue
        used = sorted({prop.name for prop in _properties(parsed.expression)}, key=str.casefold)
        other = [name for name in used if name.casefold() not in SUPPORTED]
        facts = (
            f"filter '{found.display_name}' ({assignment.filter_type.value}): {found.rule}",
            f"properties used: {', '.join(used) or 'none'}",
        )
        if other:
            yield finding.failed(
                subject,
                f"ESP '{esp.display_name}' is assigned with filter '{found.display_name}', which "
                f"uses {', '.join(other)}: ESP assignments only support model, manufacturer, "
                "osVersion, operatingSystemSKU, deviceOwnership and enrollmentProfileName",
                facts,
                related=(filter_subject,),
            )
        else:
            yield finding.passed(
                subject,
                f"filter '{found.display_name}' on ESP '{esp.display_name}' uses only properties "
                "ESP assignments support",
                facts,
                related=(filter_subject,),
            )


def _properties(expression: Expression) -> Iterator[Property]:
    if isinstance(expression, Comparison):
        if isinstance(expression.operand, Property):
            yield expression.operand
    elif isinstance(expression, CollectionCondition):
        yield expression.property
        yield from _properties(expression.condition)
    elif isinstance(expression, Not):
        yield from _properties(expression.operand)
    elif isinstance(expression, And | Or):
        yield from _properties(expression.left)
        yield from _properties(expression.right)
