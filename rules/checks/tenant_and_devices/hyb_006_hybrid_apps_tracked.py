"""HYB-006: on hybrid profiles, device-targeted Win32 and UWP apps install in device context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.app_context import InstallContext, install_context, is_required_anywhere
from rules.applicability import Applicability
from rules.checks.payloads.device_phase import (
    harmful_payload_finding,
    payload_subject,
    profile_views,
)
from rules.checks.tenant_and_devices.hybrid_profiles import hybrid_profiles_or_verdict
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS, MOBILE_APPS

METADATA = RuleMetadata(
    id="HYB-006",
    title="On hybrid profiles, device-targeted Win32 and UWP apps install in device context",
    severity=Severity.ERROR,
    rationale=(
        "windows-enrollment-status.md: 'If you're using Microsoft Entra hybrid join, Win32 and "
        "UWP apps assigned to the device with user installation context aren't tracked during "
        "provisioning' — the ESP lets the technician reseal without them. Device-phase "
        "applicability and install context are decided by the same engine as the APP rules."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the app > Properties: set Install "
        "behavior to System (Win32) or assign with device license/context (UWP), or assign it "
        "to users instead of the Autopilot device group."
    ),
    references=("https://learn.microsoft.com/mem/intune/enrollment/windows-enrollment-status",),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)

_TRACKED_TYPES: Final = frozenset(
    {
        "#microsoft.graph.win32lobapp",
        "#microsoft.graph.win32catalogapp",
        "#microsoft.graph.wingetapp",
        "#microsoft.graph.windowsuniversalappx",
        "#microsoft.graph.windowsappx",
        "#microsoft.graph.microsoftstoreforbusinessapp",
    }
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    hybrid = hybrid_profiles_or_verdict(context, METADATA)
    if isinstance(hybrid, Finding):
        yield hybrid
        return
    missing = tuple(context.unknown_if_unreadable(METADATA, MOBILE_APPS))
    if missing:
        yield from missing
        return
    hybrid_ids = {profile.id for profile in hybrid}
    apps = [
        app
        for app in context.snapshot.mobile_apps or ()
        if (app.odata_type or "").casefold() in _TRACKED_TYPES and is_required_anywhere(app)
    ]
    for view in profile_views(context, METADATA):
        if view.profile.id not in hybrid_ids:
            continue
        for app in apps:
            applicability = view.applicability(app)
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                continue
            subject = payload_subject(app)
            verdict = install_context(app)
            if verdict.context is InstallContext.DEVICE:
                yield view.finding.passed(
                    subject,
                    f"'{app.display_name}' installs in device context: hybrid provisioning "
                    "tracks it",
                    (verdict.reason, *applicability.reasons),
                    devices=view.devices,
                )
            elif verdict.context is InstallContext.USER:
                finding = harmful_payload_finding(
                    view,
                    subject,
                    applicability,
                    f"'{app.display_name}' installs in user context, which hybrid provisioning "
                    "does not track",
                    (verdict.reason,),
                )
                if finding is not None:
                    yield finding
            else:
                yield view.finding.unknown(
                    subject,
                    f"cannot tell whether hybrid provisioning tracks '{app.display_name}'",
                    (verdict.reason, *applicability.reasons),
                    devices=view.devices,
                )
