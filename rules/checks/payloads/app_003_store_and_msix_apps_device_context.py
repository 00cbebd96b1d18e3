"""APP-003: AppX/MSIX, Store and WinGet apps required in the technician phase install for the
device."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.app_context import InstallContext, install_context
from rules.applicability import Applicability
from rules.checks.payloads.app_facts import APPX_LOB_TYPES, app_type, esp_blocking
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
    id="APP-003",
    title="AppX/MSIX, Store and WinGet apps required in the technician phase install per device",
    severity=Severity.ERROR,
    rationale=(
        "The device-setup phase of the ESP tracks LoB store apps whose installation context is "
        "device and WinGet applications (Enrollment Status Page); the technician phase installs "
        "apps only when they are configured to install in the device context (Windows Autopilot "
        "pre-provisioning). An AppX/MSIX app assigned with user context, or a Microsoft Store "
        "(WinGet) app whose install behavior is User, needs a signed-in user: a blocking app "
        "then fails the ESP, any other is missing at reseal. ERROR when the device ESP blocks "
        "on the app, WARNING otherwise. Win32 and MSI apps are APP-001 and APP-002."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the app > Properties: for a Microsoft "
        "Store app set Install behavior to System; for an AppX/MSIX line-of-business app set the "
        "required assignment's App settings > Install context to Device."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/intune/intune-service/apps/store-apps-microsoft",
    ),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS, ENROLLMENT_CONFIGURATIONS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)

# Legacy Store for Business apps are APP-006's whatever their context.
CHECKED_TYPES: Final = frozenset({*APPX_LOB_TYPES, "#microsoft.graph.wingetapp"})


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    apps = [app for app in context.snapshot.mobile_apps or () if app_type(app) in CHECKED_TYPES]
    for view in profile_views(context, METADATA):
        for app in apps:
            applicability = view.applicability(app)
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                continue
            subject = payload_subject(app)
            verdict = install_context(app)
            if verdict.context is InstallContext.DEVICE:
                yield view.finding.passed(
                    subject,
                    f"'{app.display_name}' installs in device context",
                    (verdict.reason, *applicability.reasons),
                    devices=view.devices,
                )
            elif verdict.context is InstallContext.UNKNOWN:
                yield view.finding.unknown(
                    subject,
                    f"the install context of '{app.display_name}' could not be read",
                    (verdict.reason, *applicability.reasons),
                    devices=view.devices,
                )
            else:
                blocking = esp_blocking(context.targeting, view.profile, app)
                finding = harmful_payload_finding(
                    view,
                    subject,
                    applicability,
                    f"'{app.display_name}' installs in user context",
                    (verdict.reason, *blocking.reasons),
                    severity=blocking.severity,
                )
                if finding is not None:
                    yield finding
