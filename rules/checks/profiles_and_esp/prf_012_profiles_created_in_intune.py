"""PRF-012 (manual): Autopilot profiles used for pre-provisioning are created and assigned in
Intune.
"""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item

METADATA = RuleMetadata(
    id="PRF-012",
    title="Autopilot profiles used for pre-provisioning are created and assigned in Intune",
    severity=Severity.INFO,
    rationale=(
        "Pre-provisioning, self-deploying and co-management profiles can only be created "
        "and assigned in Intune (profiles.md), and Intune cannot sync changes made to a "
        "device's profile in other portals such as Partner Center or Microsoft Store for "
        "Business (enrollment-autopilot.md). Graph shows Intune's profiles only; a profile "
        "attached to a device elsewhere leaves no trace Greenscreen can read, so a person "
        "checks where the OEM or partner assigns profiles."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment profiles: "
        "create "
        "the pre-provisioning profile here and assign it to the Autopilot device group; "
        "remove profiles assigned in Partner Center for these devices."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/profiles",
        "https://learn.microsoft.com/autopilot/enrollment-autopilot",
    ),
    graph_reads=(),
    permissions=("DeviceManagementServiceConfig.Read.All, to check it yourself",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        (
            "ask the OEM or partner whether they assign a profile to these devices in Partner "
            "Center or another portal; if so, have them leave profile assignment to Intune"
        ),
        (
            "in Intune, Devices > Enrollment > Windows > Devices: every device of the batch shows"
            " the pre-provisioning profile as assigned"
        ),
    ),
)

evaluate = manual_item(METADATA)
