"""SCR-001: platform scripts that reach the technician phase run as System."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability
from rules.checks.payloads.device_phase import (
    harmful_payload_finding,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS, PLATFORM_SCRIPTS

METADATA = RuleMetadata(
    id="SCR-001",
    title="Platform scripts that reach the technician phase run as System",
    severity=Severity.WARNING,
    rationale=(
        "Known issue of the Enrollment Status Page: scripts that run in user context might not "
        "execute during the ESP; run them in System context (Enrollment Status Page). The "
        "default of a platform script is 'Run this script using the logged on credentials: "
        "Yes' (Use PowerShell scripts on Windows devices in Intune), and nobody is signed in "
        "during the technician phase."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Scripts and remediations > "
        "Platform scripts > the script > Properties > Script settings: set 'Run this script "
        "using the logged on credentials' to No."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/intune/intune-service/apps/powershell-scripts",
    ),
    graph_reads=(AUTOPILOT_PROFILES, PLATFORM_SCRIPTS, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementManagedDevices.Read.All",
        "GroupMember.Read.All",
    ),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, PLATFORM_SCRIPTS)
    if stop is not None:
        yield from stop
        return
    scripts = context.snapshot.platform_scripts or ()
    for view in profile_views(context, METADATA):
        for script in scripts:
            applicability = view.applicability(script)
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                continue
            subject = payload_subject(script)
            account = (script.run_as_account or "").casefold()
            if account == "system":
                yield view.finding.passed(
                    subject,
                    f"script '{script.display_name}' runs as System",
                    ("runAsAccount is 'system'", *applicability.reasons),
                    devices=view.devices,
                )
            elif account == "user":
                finding = harmful_payload_finding(
                    view,
                    subject,
                    applicability,
                    f"script '{script.display_name}' runs with the logged-on credentials",
                    ("runAsAccount is 'user'",),
                )
                if finding is not None:
                    yield finding
            else:
                yield view.finding.unknown(
                    subject,
                    f"whether script '{script.display_name}' runs as System could not be read",
                    (f"runAsAccount is {script.run_as_account!r}", *applicability.reasons),
                    devices=view.devices,
                )
