"""OPS-001 (manual): the user flow follows the technician flow neither too soon nor too late."""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item

METADATA = RuleMetadata(
    id="OPS-001",
    title="Users start the user flow between 90 minutes and six months after reseal",
    severity=Severity.INFO,
    rationale=(
        "pre-provision.md: devices should wait at least 90 minutes after the technician flow "
        "before the user flow (token refresh), and a device resealed for more than six months "
        "may fail (the Intune management extension certificates expire). The reseal time is in "
        "the Autopilot deployment events (the guardrail's deployment poll records each "
        "technician flow, docs/deployments.md), but when a user will unbox a device is a plan, "
        "not tenant data, so a person checks it."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Monitor > Autopilot deployments: compare "
        "the technician flow time with the planned hand-out date; reset and pre-provision again "
        "devices stored longer than six months."
    ),
    references=("https://learn.microsoft.com/autopilot/pre-provision",),
    graph_reads=(),
    permissions=("DeviceManagementManagedDevices.Read.All, to check it yourself",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        "plan hand-out at least 90 minutes after the device was resealed",
        "devices resealed more than six months ago: reset them and pre-provision again before "
        "handing them out",
    ),
)

evaluate = manual_item(METADATA)
