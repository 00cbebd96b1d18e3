"""NET-002 (manual): the technician bench connects the way the profile needs (Ethernet or Wi-Fi)."""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item

METADATA = RuleMetadata(
    id="NET-002",
    title="The technician bench uses wired Ethernet, or Wi-Fi with the OOBE pages shown",
    severity=Severity.WARNING,
    rationale=(
        "Pre-provisioning over wireless requires selecting region, language and keyboard "
        "first (pre-provision.md); a profile that sets language and keyboard needs Ethernet "
        "(profiles.md: 'Language and keyboard settings requires ethernet connectivity'). How "
        "the bench connects is not in tenant data, so a person checks it."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment Profiles: "
        "on a Wi-Fi bench leave Language (Region) as user select and keep the keyboard page; "
        "otherwise cable the bench."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/autopilot/profiles",
    ),
    graph_reads=(),
    permissions=("none",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        "check whether the vendor's bench connects devices by Ethernet or by Wi-Fi",
        "on Wi-Fi, the technician must pick region, language and keyboard before pressing the "
        "Windows key five times, and the profile must not preset language and keyboard",
    ),
)

evaluate = manual_item(METADATA)
