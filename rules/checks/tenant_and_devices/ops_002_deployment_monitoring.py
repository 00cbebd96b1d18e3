"""OPS-002 (manual): someone watches the Autopilot deployments report."""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item

METADATA = RuleMetadata(
    id="OPS-002",
    title="Pre-provisioning outcomes are reviewed in the Autopilot deployments report",
    severity=Severity.INFO,
    rationale=(
        "Greenscreen checks the tenant before devices are pre-provisioned; what happened on "
        "the bench is in the Autopilot deployment events (beta "
        "deviceManagement/autopilotEvents, 50 records per page, or the "
        "AutopilotV1DeploymentStatus export; known-issues.md). The guardrail's deployment poll "
        "reads them, posts a card for each failed pre-provisioning attempt with its probable "
        "cause and keeps them for `greenscreen history --deployments` (docs/deployments.md); "
        "a one-off check of a snapshot has no deployment record, and acting on a failure (the "
        "diagnostics, a reset) is a person's job, so it stays an item a person checks."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Monitor > Autopilot deployments: filter on "
        "the pre-provisioning profile and review failed deployments after each bench session."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
    ),
    graph_reads=(),
    permissions=("DeviceManagementServiceConfig.Read.All, to check it yourself",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        "after each bench session, open Devices > Monitor > Autopilot deployments (or read "
        "the guardrail's failure cards and `greenscreen history --deployments`)",
        "for failed pre-provisioning, collect the diagnostics and compare the error code with "
        "the Autopilot troubleshooting FAQ",
    ),
)

evaluate = manual_item(METADATA)
