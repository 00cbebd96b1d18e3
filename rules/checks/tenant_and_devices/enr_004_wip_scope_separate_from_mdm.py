"""ENR-004 (manual): the Windows Information Protection (MAM) user scope does not take MDM users."""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item

METADATA = RuleMetadata(
    id="ENR-004",
    title="The Windows Information Protection (MAM) user scope leaves deploying users to MDM",
    severity=Severity.WARNING,
    rationale=(
        "windows-enroll.md: 'For WIP user scope, select None… make sure the selected users "
        "aren't a part of the MDM user scope'; a user in both scopes is registered for MAM "
        "instead of enrolling in MDM. The MAM scope lives in "
        "policies/mobileAppManagementPolicies, which Graph serves on beta to delegated callers "
        "only and Greenscreen does not read, so a person checks it."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Automatic Enrollment: "
        "set Windows Information Protection (WIP) user scope to None, or make sure its groups "
        "hold none of the users who deploy devices."
    ),
    references=(
        "https://learn.microsoft.com/mem/intune/enrollment/windows-enroll",
        "https://learn.microsoft.com/graph/api/mobileappmanagementpolicies-list?view=graph-rest-beta",
    ),
    graph_reads=(),
    permissions=("Policy.Read.All (delegated), to check it yourself",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Automatic Enrollment",
        "check that Windows Information Protection (WIP) user scope is None, or that its "
        "groups hold none of the users who deploy Autopilot devices",
    ),
)

evaluate = manual_item(METADATA)
