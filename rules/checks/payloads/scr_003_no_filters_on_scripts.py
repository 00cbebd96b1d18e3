"""SCR-003: platform scripts for Autopilot devices are not assigned with assignment filters."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability
from rules.checks.payloads.device_phase import (
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS, PLATFORM_SCRIPTS

METADATA = RuleMetadata(
    id="SCR-003",
    title="Platform scripts for Autopilot devices are not assigned with assignment filters",
    severity=Severity.WARNING,
    rationale=(
        "Assignment filters aren't supported on PowerShell scripts for Windows (Supported "
        "workloads when creating filters in Microsoft Intune): the admin center offers no filter "
        "for them, so a filter id on a script assignment (set through Graph or a copied export) "
        "doesn't narrow which devices run the script the way its author expects. A script meant "
        "for some Autopilot devices only needs its own device group."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Scripts and remediations > Platform "
        "scripts > the script > Properties > Assignments: assign it to a device group holding "
        "exactly the devices that should run it, without a filter."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/fundamentals/filters-supported-workloads",
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
            if script.assignments is None:
                yield view.finding.unknown(
                    subject,
                    f"the assignments of script '{script.display_name}' could not be read",
                    applicability.reasons,
                    devices=view.devices,
                )
                continue
            filtered = [a for a in script.assignments if a.has_filter]
            if filtered:
                names = []
                for assignment in filtered:
                    found = context.snapshot.assignment_filter(assignment.filter_id or "")
                    names.append(f"'{found.display_name}'" if found else str(assignment.filter_id))
                yield view.finding.failed(
                    subject,
                    f"script '{script.display_name}' is assigned with filter {', '.join(names)}, "
                    "which scripts don't support",
                    (
                        *(f"assignment {a.id} carries filter {a.filter_id}" for a in filtered),
                        *applicability.reasons,
                    ),
                    devices=view.devices,
                )
            else:
                yield view.finding.passed(
                    subject,
                    f"script '{script.display_name}' is assigned without filters",
                    applicability.reasons,
                    devices=view.devices,
                )
