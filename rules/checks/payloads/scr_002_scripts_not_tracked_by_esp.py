"""SCR-002 (manual): Nothing needed before Reseal depends on a platform script the ESP does not
track.
"""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item

METADATA = RuleMetadata(
    id="SCR-002",
    title=(
        "Nothing the device needs before Reseal depends on a platform script, which the ESP does "
        "not track"
    ),
    severity=Severity.INFO,
    rationale=(
        "During the ESP the Intune management extension tracks Win32 apps only, not "
        "PowerShell scripts (understand-troubleshoot-esp.md); scripts run before Win32 "
        "apps, time out after 30 minutes and are retried three times (powershell-"
        "scripts.md), so a device can reach Reseal before a script has finished or after it "
        "failed. Which script outcomes a device needs before Reseal is the admin's intent, "
        "not tenant data, so a person checks it."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > Add > Win32 app: package a script whose "
        "outcome must be in place before Reseal as a Win32 app with a detection rule and "
        "make it a blocking app of the device ESP."
    ),
    references=(
        (
            "https://learn.microsoft.com/troubleshoot/mem/intune/device-enrollment/understand-"
            "troubleshoot-esp"
        ),
        "https://learn.microsoft.com/mem/intune/apps/intune-management-extension",
    ),
    graph_reads=(),
    permissions=("DeviceManagementConfiguration.Read.All, to check it yourself",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        (
            "list the platform scripts assigned to the Autopilot device group (Devices > Scripts "
            "and remediations > Platform scripts > Assignments)"
        ),
        (
            "for each script whose result must be in place before Reseal, package it as a Win32 "
            "app with a detection rule and add it to the ESP's blocking apps"
        ),
    ),
)

evaluate = manual_item(METADATA)
