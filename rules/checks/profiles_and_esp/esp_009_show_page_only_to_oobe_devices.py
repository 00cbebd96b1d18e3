"""ESP-009 (manual): The ESP's "only show page to devices provisioned by OOBE" behaviour is
understood for the user flow.
"""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item

METADATA = RuleMetadata(
    id="ESP-009",
    title=(
        'The ESP\'s "Only show page to devices provisioned by out-of-box experience" setting '
        "matches the user flow the technician hands over"
    ),
    severity=Severity.INFO,
    rationale=(
        "In pre-provisioning the ESP runs its device phase in the technician flow and "
        'reruns the device and user phases in the user flow (pre-provision.md, "The device '
        'ESP reruns during the user flow"). Whether the page should show to devices that '
        "did not come through OOBE (trackInstallProgressForAutopilotOnly, "
        "disableUserStatusTrackingAfterFirstUser) is a choice about the user's experience; "
        "Microsoft documents no pre-provisioning failure for either value, so tenant data "
        "cannot decide it and a person confirms the choice."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Enrollment Status Page > "
        "the profile > Settings: 'Only show page to devices provisioned by out-of-box "
        "experience (OOBE)'."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/mem/intune/enrollment/windows-enrollment-status",
    ),
    graph_reads=(),
    permissions=("DeviceManagementServiceConfig.Read.All, to check it yourself",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        (
            "for each ESP assigned to pre-provisioning devices, open Settings and note 'Only show"
            " page to devices provisioned by out-of-box experience (OOBE)' and 'Turn off user "
            "tracking after first user'"
        ),
        (
            "confirm with the team that hands devices to users that the ESP shown again in the "
            "user flow (device and user phases rerun after Reseal) is what users should see"
        ),
    ),
)

evaluate = manual_item(METADATA)
