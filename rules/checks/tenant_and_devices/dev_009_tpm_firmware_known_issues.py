"""DEV-009 (manual): no device runs a TPM firmware with a known attestation issue."""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item

METADATA = RuleMetadata(
    id="DEV-009",
    title="No device to pre-provision has a TPM with a known attestation issue",
    severity=Severity.INFO,
    rationale=(
        "Pre-provisioning attests the TPM (pre-provision.md). Microsoft lists TPM attestation "
        "known issues (known-issues.md: errors 0x80070490, 0x81039001, 0x81039023, 0x81039024, "
        "'TPM attestation timed out'; firmware TPMs of some makers need their EK certificate "
        "service). A registered Autopilot device shows no TPM data: TPM facts appear only "
        "after enrollment, in managedDevice.hardwareInformation, which is not read. A person "
        "checks the hardware before the bench."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > a pre-provisioned device > "
        "Hardware: compare TPM manufacturer and version with the Autopilot known issues and "
        "update the TPM firmware from the device maker before pre-provisioning."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/autopilot/pre-provision",
    ),
    graph_reads=(),
    permissions=("DeviceManagementManagedDevices.Read.All, to check it yourself",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        "for each hardware model to pre-provision, look up its TPM maker and firmware version "
        "(tpm.msc on a sample device, or the Hardware page of an enrolled one)",
        "compare with the TPM attestation entries of the Autopilot known issues page: "
        "Infineon SLB9672 with firmware 15.22 ('TPM attestation timed out'), AMD ASP firmware "
        "TPM on older firmware (0x80070490), Intel Tiger Lake firmware TPM before Windows 10 "
        "21H2, TPMs with known vulnerabilities (0x81039024); apply the maker's TPM firmware "
        "update where one is listed",
        "firmware TPMs (Intel, AMD, Qualcomm) must reach their EK certificate service: see "
        "`greenscreen network`",
    ),
)

evaluate = manual_item(METADATA)
