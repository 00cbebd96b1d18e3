"""CMP-004 (manual): A compliance policy requiring a TPM matches devices that have TPM 2.0."""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item

METADATA = RuleMetadata(
    id="CMP-004",
    title="Devices held to a compliance policy that requires a TPM have TPM 2.0 with attestation",
    severity=Severity.INFO,
    rationale=(
        "Pre-provisioning needs TPM 2.0 with device attestation (pre-provision.md, "
        "requirements); a Windows compliance policy with tpmRequired makes the same demand "
        "after enrollment. Whether a device's TPM is present and attests is only known from "
        "the device after enrollment (hardware information), not from tenant configuration "
        "before the technician starts, so a person checks it on a sample device."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Compliance > the Windows policy > Device "
        "Health: require a TPM only for devices that have TPM 2.0; on a sample device of the "
        "batch, tpm.msc or `Get-Tpm` shows version 2.0 and Ready; replace or update devices whose"
        " TPM firmware fails attestation before sending them to pre-provisioning."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/autopilot/requirements?tabs=software",
    ),
    graph_reads=(),
    permissions=("DeviceManagementManagedDevices.Read.All, to check it yourself",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        (
            "on a sample device of each model in the batch, tpm.msc shows Specification Version "
            "2.0 and 'The TPM is ready for use'"
        ),
        (
            "the model's TPM firmware is not on Microsoft's list of firmware with attestation "
            "issues (Autopilot known issues)"
        ),
    ),
)

evaluate = manual_item(METADATA)
