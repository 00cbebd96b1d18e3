"""APP-006: no legacy Microsoft Store for Business or Store-link app is required in the
technician phase."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.applicability import Applicability
from rules.checks.payloads.app_facts import app_type
from rules.checks.payloads.device_phase import (
    harmful_payload_finding,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS, MOBILE_APPS

METADATA = RuleMetadata(
    id="APP-006",
    title="No legacy Store for Business or Store-link app is required in the technician phase",
    severity=Severity.WARNING,
    rationale=(
        "The device-setup phase of the ESP tracks per-machine LoB MSI apps, LoB store apps in "
        "device context, Win32 apps and WinGet applications (Enrollment Status Page); online "
        "store apps are tracked only in account setup, once a user has signed in. Microsoft "
        "Store for Business apps and Microsoft Store app (legacy) links are superseded by the "
        "Microsoft Store app (new), which uses WinGet (Add Microsoft Store apps to Microsoft "
        "Intune). A required legacy Store app therefore doesn't install in the technician phase."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > Add > Microsoft Store app (new): add "
        "the app from the Microsoft Store, set Install behavior to System, assign it as required "
        "to the Autopilot device group, and remove the legacy app's required assignment."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/intune/intune-service/apps/store-apps-microsoft",
    ),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)

LEGACY_TYPES: Final = frozenset(
    {"#microsoft.graph.microsoftstoreforbusinessapp", "#microsoft.graph.windowsstoreapp"}
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    apps = [app for app in context.snapshot.mobile_apps or () if app_type(app) in LEGACY_TYPES]
    for view in profile_views(context, METADATA):
        for app in apps:
            applicability = view.applicability(app)
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                continue
            finding = harmful_payload_finding(
                view,
                payload_subject(app),
                applicability,
                f"'{app.display_name}' is a legacy Store app ({app.odata_type}) the device phase "
                "doesn't install; it is required",
                (f"app type {app.odata_type}",),
            )
            if finding is not None:
                yield finding
