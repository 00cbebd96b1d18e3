"""Which registered Autopilot devices are meant for pre-provisioning, shared by the DEV rules.

A device is a pre-provisioning device when a pre-provisioning profile targets it, or when the
profile Autopilot assigned to it allows pre-provisioning. A device that a pre-provisioning
profile *might* target (its groups could not be predicted) is checked too: its verdict carries
that doubt in its reasons instead of being skipped, because unknown is never green.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rules.applicability import ProfileTargeting, tenant_targeting
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Scope, Subject
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES
from rules.tenant_objects import AutopilotDevice, AutopilotProfile, ObjectReference

AUTOPILOT_DEVICE_SUBJECT_TYPE = "autopilotDevice"
_LATEST = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PreprovisioningDevice:
    device: AutopilotDevice
    # The pre-provisioning profile the verdict is scoped to (the oldest one that targets it).
    profile: AutopilotProfile
    # False when the profile only might target the device.
    certain: bool
    reasons: tuple[str, ...]
    # Every DEV rule names the device: built once and shared (subjects are immutable).
    _subject: Subject = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_subject", device_subject(self.device))

    @property
    def subject(self) -> Subject:
        return self._subject


def device_label(device: AutopilotDevice) -> str:
    """How the admin center lists a registration: by serial number."""
    return device.serial_number or device.display_name or device.id


def device_subject(device: AutopilotDevice) -> Subject:
    return Subject(AUTOPILOT_DEVICE_SUBJECT_TYPE, device.id, device_label(device))


def unknown_without_devices(context: RuleContext, metadata: RuleMetadata) -> tuple[Finding, ...]:
    """UNKNOWN findings when the profiles or devices could not be read (empty when both were)."""
    return tuple(context.unknown_if_unreadable(metadata, AUTOPILOT_PROFILES, AUTOPILOT_DEVICES))


def preprovisioning_devices(context: RuleContext) -> tuple[PreprovisioningDevice, ...]:
    """Every Autopilot device meant for pre-provisioning; empty when devices are unreadable.

    Every DEV rule asks, so it is computed once per snapshot.
    """
    return context.snapshot.derived_view(_preprovisioning_devices_of)


def _preprovisioning_devices_of(snapshot: TenantSnapshot) -> tuple[PreprovisioningDevice, ...]:
    targeting = tenant_targeting(snapshot)
    profiles = sorted(targeting.preprovisioning_profiles() or (), key=_creation_order)
    pairs = [(profile, targeting.profile_targeting(profile)) for profile in profiles]
    found = []
    for device in snapshot.autopilot_devices or ():
        meant = _meant_for_preprovisioning(snapshot, device, pairs)
        if meant is not None:
            found.append(meant)
    return tuple(found)


def scoped_builder(
    context: RuleContext, metadata: RuleMetadata, meant: PreprovisioningDevice
) -> FindingBuilder:
    """A builder scoped to the device's profile, whose reasons start with why it was checked."""
    scope: Scope = context.profile_scope(meant.profile)
    return FindingBuilder(metadata, scope=scope, extra_reasons=meant.reasons)


def _meant_for_preprovisioning(
    snapshot: TenantSnapshot,
    device: AutopilotDevice,
    profiles: list[tuple[AutopilotProfile, ProfileTargeting]],
) -> PreprovisioningDevice | None:
    for profile, profile_targeting in profiles:
        if device.id in profile_targeting.device_ids:
            reason = f"pre-provisioning profile '{profile.display_name}' targets the device"
            return PreprovisioningDevice(device, profile, True, (reason,))
    assigned = device.deployment_profile
    if isinstance(assigned, ObjectReference):
        assigned_profile = snapshot.autopilot_profile(assigned.id)
        if assigned_profile is not None and assigned_profile.preprovisioning_allowed:
            reason = (
                f"the device has pre-provisioning profile '{assigned_profile.display_name}' "
                "assigned"
            )
            return PreprovisioningDevice(device, assigned_profile, True, (reason,))
    for profile, profile_targeting in profiles:
        undetermined = profile_targeting.undetermined_device_ids
        if undetermined is None or device.id in undetermined:
            reason = (
                f"pre-provisioning profile '{profile.display_name}' might target the device: "
                f"{profile_targeting.unknown_reason}"
            )
            return PreprovisioningDevice(device, profile, False, (reason,))
    return None


def _creation_order(profile: AutopilotProfile) -> tuple[datetime, str]:
    # Autopilot gives a device targeted by several profiles the oldest one (profiles.md).
    return (profile.created or _LATEST, profile.id)


def iter_scoped(
    context: RuleContext, metadata: RuleMetadata
) -> Iterator[tuple[PreprovisioningDevice, FindingBuilder]]:
    """Each pre-provisioning device with a builder scoped to its profile."""
    # Devices checked for the same profile and reason share one builder; which devices those
    # are is worked out once per snapshot, not once per device and rule.
    scoped = context.snapshot.derived_view(_scoped_devices_of)
    builders = [scoped_builder(context, metadata, meant) for meant in scoped.first_of_each]
    return zip(scoped.devices, map(builders.__getitem__, scoped.builder_index), strict=True)


@dataclass(frozen=True, slots=True)
class _ScopedDevices:
    devices: tuple[PreprovisioningDevice, ...]
    # Per device, the index of its (profile, reasons) among `first_of_each`.
    builder_index: tuple[int, ...]
    # The first device of each (profile, reasons), in order of appearance.
    first_of_each: tuple[PreprovisioningDevice, ...]


def _scoped_devices_of(snapshot: TenantSnapshot) -> _ScopedDevices:
    devices = snapshot.derived_view(_preprovisioning_devices_of)
    indexes: dict[tuple[str, tuple[str, ...]], int] = {}
    first: list[PreprovisioningDevice] = []
    builder_index: list[int] = []
    for meant in devices:
        key = (meant.profile.id, meant.reasons)
        index = indexes.get(key)
        if index is None:
            index = indexes[key] = len(first)
            first.append(meant)
        builder_index.append(index)
    return _ScopedDevices(devices, tuple(builder_index), tuple(first))
