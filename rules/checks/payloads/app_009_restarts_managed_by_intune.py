"""APP-009: Win32 apps in the technician phase leave restarts to Intune."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

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
from rules.graph_json import optional_mapping, optional_str
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS, MOBILE_APPS
from rules.tenant_objects import MobileApp

METADATA = RuleMetadata(
    id="APP-009",
    title="Win32 apps in the technician phase leave device restarts to Intune",
    severity=Severity.WARNING,
    rationale=(
        "Known issue: reboots packaged within an app deployed during the ESP might cause the ESP "
        "to hang and fail the deployment; specify the reboot behavior in Intune instead of "
        "triggering the reboot within the package (Enrollment Status Page). Device restart "
        "behavior 'Intune will force a mandatory device restart' (force) and 'App install may "
        "force a device restart' (allow) restart the device in the middle of the technician "
        "phase; 'Determine behavior based on return codes' (basedOnReturnCode) and 'No specific "
        "action' (suppress) leave the restart to Intune (Add a Win32 app: program)."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the app > Properties > Program: set "
        "Device restart behavior to 'Determine behavior based on return codes' and map the "
        "installer's restart codes to soft or hard reboot, with the restart suppressed in the "
        "install command."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/intune/intune-service/apps/apps-win32-add",
    ),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)

RESTARTING: Final = frozenset({"force", "allow"})
MANAGED: Final = frozenset({"basedonreturncode", "suppress"})


def restart_behavior(app: MobileApp) -> str | None:
    experience = optional_mapping(app.raw, "installExperience")
    return optional_str(experience, "deviceRestartBehavior") if experience else None


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    apps = [app for app in context.snapshot.mobile_apps or () if is_win32(app)]
    for view in profile_views(context, METADATA):
        for app in apps:
            applicability = view.applicability(app)
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                continue
            subject = payload_subject(app)
            behavior = restart_behavior(app)
            fact = f"installExperience.deviceRestartBehavior is {behavior!r}"
            if behavior is not None and behavior.casefold() in RESTARTING:
                finding = harmful_payload_finding(
                    view,
                    subject,
                    applicability,
                    f"'{app.display_name}' restarts the device itself ({behavior})",
                    (fact,),
                )
                if finding is not None:
                    yield finding
            elif behavior is not None and behavior.casefold() in MANAGED:
                yield view.finding.passed(
                    subject,
                    f"'{app.display_name}' leaves restarts to Intune ({behavior})",
                    (fact, *applicability.reasons),
                    devices=view.devices,
                )
            else:
                yield view.finding.unknown(
                    subject,
                    f"the restart behavior of '{app.display_name}' could not be read",
                    (fact, *applicability.reasons),
                    devices=view.devices,
                )
