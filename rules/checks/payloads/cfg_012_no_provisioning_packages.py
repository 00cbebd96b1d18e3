"""CFG-012 (manual): Provisioning packages are not combined with Autopilot pre-provisioning."""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item

METADATA = RuleMetadata(
    id="CFG-012",
    title=(
        "Provisioning packages are not applied to devices that go through Autopilot pre-"
        "provisioning"
    ),
    severity=Severity.INFO,
    rationale=(
        "Microsoft lists using provisioning packages (PPKGs) in combination with Windows "
        "Autopilot as not recommended (known-issues.md). A provisioning package is applied "
        "on the device or baked into the OEM image; Graph shows no trace of it, so a person "
        "checks the image and the bench process."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Configuration: deliver what a provisioning "
        "package carried through policies assigned to the Autopilot device group, and ask the OEM"
        " or partner to remove provisioning packages from the image and the bench process."
    ),
    references=("https://learn.microsoft.com/autopilot/known-issues",),
    graph_reads=(),
    permissions=("DeviceManagementConfiguration.Read.All, to compare what a package carried",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        (
            "ask the OEM or partner whether the image or the bench process applies a provisioning"
            " package (.ppkg)"
        ),
        (
            "on a sample device: Settings > Accounts > Access work or school > Add or remove a "
            "provisioning package lists none"
        ),
    ),
)

evaluate = manual_item(METADATA)
