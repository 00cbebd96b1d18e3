"""APP-005: Microsoft 365 Apps reach the technician phase as a Win32 app, not the built-in type."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability
from rules.checks.payloads.app_facts import OFFICE_SUITE_TYPE, app_type, is_win32
from rules.checks.payloads.device_phase import (
    harmful_payload_finding,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.graph_json import optional_bool, optional_mapping
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS, MOBILE_APPS
from rules.tenant_objects import MobileApp

METADATA = RuleMetadata(
    id="APP-005",
    title="Microsoft 365 Apps are not required in the technician phase as the built-in app type",
    severity=Severity.WARNING,
    rationale=(
        "Known issue of the Enrollment Status Page: Microsoft 365 Apps might cause the ESP to "
        "hang, and Microsoft recommends deploying Microsoft 365 Apps with the Win32 app type "
        "(Enrollment Status Page). The built-in Microsoft 365 Apps type (officeSuiteApp) "
        "installs through the Office CSP beside the Win32 installs the ESP tracks; including "
        "Teams in the suite adds the Teams machine-wide installer, which conflicts with a "
        "separately deployed Teams (Windows Autopilot troubleshooting FAQ)."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > Add > Windows app (Win32): package "
        "the Office Deployment Tool with a configuration XML, assign it to the Autopilot device "
        "group, and remove the required assignment of the Microsoft 365 Apps app."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/graph/api/resources/intune-apps-officesuiteapp",
    ),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)


def _suite_facts(app: MobileApp) -> tuple[str, ...]:
    facts = [f"'{app.display_name}' is the built-in Microsoft 365 Apps type ({app.odata_type})"]
    excluded = optional_mapping(app.raw, "excludedApps")
    if excluded is not None and optional_bool(excluded, "teams") is False:
        facts.append("Teams is included in the suite (excludedApps.teams is false)")
    return tuple(facts)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    apps = context.snapshot.mobile_apps or ()
    suites = [app for app in apps if app_type(app) == OFFICE_SUITE_TYPE]
    for view in profile_views(context, METADATA):
        win32_count = sum(
            1
            for app in apps
            if is_win32(app)
            and view.applicability(app).verdict
            in (Applicability.APPLIES, Applicability.CONDITIONAL)
        )
        for suite in suites:
            applicability = view.applicability(suite)
            subject = payload_subject(suite)
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                yield view.finding.passed(
                    subject,
                    f"'{suite.display_name}' is not required in the technician phase of profile "
                    f"'{view.profile.display_name}'",
                    applicability.reasons,
                )
                continue
            finding = harmful_payload_finding(
                view,
                subject,
                applicability,
                f"'{suite.display_name}' is the built-in Microsoft 365 Apps type, which can hang "
                "the ESP",
                (
                    *_suite_facts(suite),
                    f"{win32_count} Win32 app(s) are also required for these devices",
                ),
            )
            if finding is not None:
                yield finding
