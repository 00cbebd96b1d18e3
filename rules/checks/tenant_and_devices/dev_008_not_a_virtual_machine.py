"""DEV-008: no pre-provisioning device or profile is a virtual machine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.tenant_and_devices.preprovisioning_devices import (
    device_label,
    iter_scoped,
    unknown_without_devices,
)
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, DEVICES, GROUPS
from rules.tenant_objects import AutopilotDevice

METADATA = RuleMetadata(
    id="DEV-008",
    title="No pre-provisioning device or profile is a virtual machine",
    severity=Severity.ERROR,
    rationale=(
        "Pre-provisioning needs physical devices that support TPM 2.0 and device attestation; "
        "virtual machines aren't supported (pre-provision.md, Windows Autopilot known issues), "
        "and virtual TPMs, Hyper-V's included, fail attestation with 0x800705B4 "
        "(self-deploying.md). A VM is recognised from the manufacturer and model in the "
        "hardware hash, which is a heuristic; TPM presence itself is not visible before "
        "enrollment."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Windows Autopilot > "
        "Devices: take virtual machines out of the pre-provisioning groups (or use a profile "
        "without pre-provisioning for them); set the profile's device type to Windows PC."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/autopilot/self-deploying",
    ),
    graph_reads=(AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, GROUPS, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
    inference=True,
)

VIRTUAL_MACHINE_DEVICE_TYPE: Final = "virtualMachine"
# What hypervisors report as model or manufacturer in the SMBIOS the hardware hash carries.
_VIRTUAL_MODELS: Final = (
    "virtual machine",  # Hyper-V, Azure
    "vmware",
    "virtualbox",
    "kvm",
    "standard pc (",  # QEMU's machine types
    "hvm domu",  # Xen
    "parallels",
)
_VIRTUAL_MANUFACTURERS: Final = ("vmware", "innotek", "qemu", "xen", "parallels", "red hat")


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = unknown_without_devices(context, METADATA)
    if missing:
        yield from missing
        return
    yield from _virtual_machine_profiles(context)
    for meant, finding in iter_scoped(context, METADATA):
        device = meant.device
        label = device_label(device)
        reasons = (f"manufacturer '{device.manufacturer}', model '{device.model}'",)
        devices = (device.id,)
        if not device.manufacturer and not device.model:
            yield finding.unknown(
                meant.subject,
                f"cannot tell whether Autopilot device {label} is a virtual machine: its "
                "registration carries no manufacturer or model",
                reasons,
                devices=devices,
            )
        elif looks_virtual(device):
            yield finding.failed(
                meant.subject,
                f"Autopilot device {label} looks like a virtual machine ({device.model}); "
                "pre-provisioning needs a physical device with TPM 2.0",
                reasons,
                devices=devices,
            )
        else:
            yield finding.passed(
                meant.subject,
                f"Autopilot device {label} does not look like a virtual machine",
                reasons,
                devices=devices,
            )


def looks_virtual(device: AutopilotDevice) -> bool:
    model = (device.model or "").casefold()
    manufacturer = (device.manufacturer or "").casefold()
    return any(marker in model for marker in _VIRTUAL_MODELS) or any(
        manufacturer.startswith(marker) for marker in _VIRTUAL_MANUFACTURERS
    )


def _virtual_machine_profiles(context: RuleContext) -> Iterator[Finding]:
    for profile in context.targeting.preprovisioning_profiles() or ():
        if (profile.device_type or "").casefold() != VIRTUAL_MACHINE_DEVICE_TYPE.casefold():
            continue
        targeting = context.targeting.profile_targeting(profile)
        yield FindingBuilder(METADATA, scope=context.profile_scope(profile)).failed(
            profile_subject(profile),
            f"profile '{profile.display_name}' is for virtual machines but allows "
            "pre-provisioning, which virtual machines do not support",
            (f"deviceType is '{profile.device_type}'", "preprovisioningAllowed is true"),
            devices=targeting.device_ids,
        )
