"""APP-001: Win32 apps required in the technician phase install as System."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability
from rules.checks.payloads.app_facts import esp_blocking, is_win32
from rules.checks.payloads.device_phase import (
    harmful_payload_finding,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
)

METADATA = RuleMetadata(
    id="APP-001",
    title="Win32 apps required in the technician phase install as System",
    severity=Severity.ERROR,
    rationale=(
        "The technician phase installs Win32 apps only when they are configured to install in "
        "the device context (Windows Autopilot pre-provisioning); the device-setup phase of the "
        "Enrollment Status Page tracks device-context apps only (Enrollment Status Page). A "
        "Win32 app with Install behavior 'User' is skipped there: a blocking app then fails the "
        "ESP, any other is missing at reseal (Add a Win32 app: install behavior). ERROR when "
        "the device ESP blocks on the app, WARNING otherwise."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the app > Properties > Program: set "
        "Install behavior to System (repackage the installer for a machine-wide install if "
        "needed)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/intune/intune-service/apps/apps-win32-add",
    ),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS, ENROLLMENT_CONFIGURATIONS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)


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
            account = (app.run_as_account or "").casefold()
            if account == "system":
                yield view.finding.passed(
                    subject,
                    f"'{app.display_name}' installs as System",
                    ("installExperience.runAsAccount is 'system'", *applicability.reasons),
                    devices=view.devices,
                )
                continue
            if account != "user":
                yield view.finding.unknown(
                    subject,
                    f"the install behavior of '{app.display_name}' could not be read",
                    (
                        f"installExperience.runAsAccount is {app.run_as_account!r}",
                        *applicability.reasons,
                    ),
                    devices=view.devices,
                )
                continue
            blocking = esp_blocking(context.targeting, view.profile, app)
            finding = harmful_payload_finding(
                view,
                subject,
                applicability,
                f"'{app.display_name}' installs as the signed-in user",
                ("installExperience.runAsAccount is 'user'", *blocking.reasons),
                severity=blocking.severity,
            )
            if finding is not None:
                yield finding
