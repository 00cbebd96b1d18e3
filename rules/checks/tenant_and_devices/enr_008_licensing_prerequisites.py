"""ENR-008 (manual): the tenant and the deploying users hold the licences Autopilot needs."""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item

METADATA = RuleMetadata(
    id="ENR-008",
    title="The tenant has Microsoft Entra ID P1 and Intune, and deploying users are licensed",
    severity=Severity.WARNING,
    rationale=(
        "Autopilot needs Microsoft Entra ID P1 or P2 and an MDM service such as Intune "
        "(requirements.md, Licensing); automatic MDM enrollment is a premium Microsoft Entra "
        "feature (windows-enroll.md); the ESP never completes the Identifying phase when the "
        "user has no Intune license (windows-enrollment-status.md). Licences are read from "
        "subscribedSkus and each user's licenseDetails, which Greenscreen does not read (it "
        "asks for no user data), so a person checks them."
    ),
    remediation=(
        "Microsoft Entra admin center > Identity > Billing > Licenses: assign a licence "
        "including Microsoft Entra ID P1 and Microsoft Intune to every user who deploys a device."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/requirements?tabs=licensing",
        "https://learn.microsoft.com/mem/intune/enrollment/windows-enroll",
        "https://learn.microsoft.com/mem/intune/enrollment/windows-enrollment-status",
    ),
    graph_reads=(),
    permissions=("Organization.Read.All and User.Read.All, to check it yourself",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        "Microsoft Entra admin center > Identity > Billing > Licenses > All products: the "
        "tenant has Microsoft Entra ID P1 (or P2) and Microsoft Intune (alone or in Microsoft "
        "365 E3/E5, Business Premium, F1/F3, A1/A3/A5 or EMS E3/E5)",
        "every user assigned to an Autopilot device, and every user who signs in for the user "
        "flow, has a licence that includes Intune",
    ),
)

evaluate = manual_item(METADATA)
