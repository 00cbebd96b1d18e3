"""APP-007: Win32 apps of the technician phase have a detection rule and no user-context scripts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from rules.applicability import Applicability
from rules.checks.payloads.app_facts import is_win32
from rules.checks.payloads.device_phase import (
    harmful_payload_finding,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.graph_json import odata_type_of, optional_str
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS, MOBILE_APPS
from rules.tenant_objects import MobileApp

METADATA = RuleMetadata(
    id="APP-007",
    title="Win32 apps of the technician phase have a detection rule and no user-context scripts",
    severity=Severity.ERROR,
    rationale=(
        "A Win32 app must have at least one detection rule; Intune decides from it whether "
        "the install succeeded (Add a Win32 app: detection rules). ESP-tracked apps must be "
        "required, install in device context and have no user-context applicability rules "
        "(Understand and troubleshoot the ESP): a requirement or detection script run with "
        "the logged-on credentials finds no user in the technician phase."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the app > Properties > Detection "
        "rules / Requirements: add a detection rule, and set 'Run this script using the logged "
        "on credentials' to No on every script rule."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/apps/apps-win32-add",
        "https://learn.microsoft.com/troubleshoot/mem/intune/device-enrollment/understand-troubleshoot-esp",
    ),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)


def _rule_list(app: MobileApp, key: str) -> Sequence[Mapping[str, Any]] | None:
    value = app.raw.get(key)
    if not isinstance(value, tuple):
        return None
    return [item for item in value if isinstance(item, Mapping)]


def _problems(app: MobileApp) -> tuple[list[str], list[str]]:
    """(problems, facts that could not be read) of the app's detection and requirement rules."""
    detections = _rule_list(app, "detectionRules")
    requirements = _rule_list(app, "requirementRules")
    unified = _rule_list(app, "rules")
    if detections is None and unified is None:
        return [], ["neither detectionRules nor rules are in the snapshot"]
    unified_detections = [
        rule
        for rule in unified or ()
        if (optional_str(rule, "ruleType") or "").casefold() == "detection"
    ]
    problems: list[str] = []
    if not detections and not unified_detections:
        problems.append("it has no detection rule")
    for rule in (*(detections or ()), *(requirements or ()), *(unified or ())):
        if (optional_str(rule, "runAsAccount") or "").casefold() == "user":
            kind = (odata_type_of(rule) or "script rule").removeprefix("#microsoft.graph.")
            problems.append(f"its {kind} runs with the logged-on user's credentials")
    return problems, []


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    win32_apps = [app for app in context.snapshot.mobile_apps or () if is_win32(app)]
    for view in profile_views(context, METADATA):
        for app in win32_apps:
            applicability = view.applicability(app)
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                continue
            subject = payload_subject(app)
            problems, unreadable = _problems(app)
            if unreadable:
                yield view.finding.unknown(
                    subject,
                    f"the detection rules of '{app.display_name}' could not be read",
                    (*unreadable, *applicability.reasons),
                    devices=view.devices,
                )
            elif problems:
                finding = harmful_payload_finding(
                    view,
                    subject,
                    applicability,
                    f"'{app.display_name}' cannot be detected reliably: {'; '.join(problems)}",
                    tuple(problems),
                )
                if finding is not None:
                    yield finding
            else:
                yield view.finding.passed(
                    subject,
                    f"'{app.display_name}' has a detection rule and no user-context scripts",
                    applicability.reasons,
                    devices=view.devices,
                )
