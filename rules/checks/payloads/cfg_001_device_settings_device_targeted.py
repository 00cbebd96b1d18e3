"""CFG-001: device settings meant for Autopilot devices are targeted at devices, not only users."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability
from rules.checks.payloads.configuration_settings import (
    Configuration,
    configurations,
    oma_settings,
    oma_uri,
    policy_values,
)
from rules.checks.payloads.device_phase import (
    filter_names,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    GROUPS,
    SETTINGS_CATALOG_POLICIES,
)
from rules.tenant_objects import SettingsCatalogPolicy

METADATA = RuleMetadata(
    id="CFG-001",
    title="Device settings for Autopilot devices are targeted at devices, not only at users",
    severity=Severity.WARNING,
    rationale=(
        "During the technician phase only device-targeted policies apply: 'Other user-targeted "
        "policies aren't applied until the user signs into the device' (Windows Autopilot "
        "pre-provisioning), so apps and policies must be assigned to the same device groups as "
        "the Autopilot profile. A Windows configuration with device-scope settings that is "
        "assigned only to users arrives after reseal. Which configurations are meant for the "
        "technician phase is an inference: those carrying device-scope settings."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Configuration > the profile > "
        "Properties > Assignments: include the Autopilot device group (or All devices)."
    ),
    references=("https://learn.microsoft.com/autopilot/pre-provision",),
    graph_reads=(AUTOPILOT_PROFILES, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
    ),
    inference=True,
)


def device_scope(configuration: Configuration) -> bool | None:
    """Whether the configuration carries device-scope settings; None when not readable."""
    if isinstance(configuration, SettingsCatalogPolicy):
        if configuration.settings is None:
            return None
        definitions = (definition for definition, _ in policy_values(configuration))
        return any(definition.startswith("device_") for definition in definitions)
    settings = oma_settings(configuration)
    if not settings:
        # Templates other than custom OMA-URI profiles configure the device.
        return True
    return any(not oma_uri(setting).startswith("./user/") for setting in settings)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(
        context, METADATA, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES
    )
    if stop is not None:
        yield from stop
        return
    candidates = [(c, device_scope(c)) for c in configurations(context)]
    for view in profile_views(context, METADATA):
        for configuration, scope in candidates:
            if scope is False or (not configuration.assignments and scope is not None):
                continue
            applicability = view.applicability(configuration)
            subject = payload_subject(configuration)
            name, profile = configuration.display_name, view.profile.display_name
            if scope is None:
                if applicability.verdict is Applicability.DOES_NOT_APPLY:
                    continue
                yield view.finding.unknown(
                    subject,
                    f"the settings of '{name}' could not be read",
                    (f"settings of '{name}' could not be read", *applicability.reasons),
                    devices=view.devices,
                )
            elif applicability.verdict is Applicability.APPLIES:
                yield view.finding.passed(
                    subject,
                    f"'{name}' is targeted at the devices of profile '{profile}'",
                    applicability.reasons,
                    devices=view.devices,
                )
            elif applicability.verdict is Applicability.CONDITIONAL:
                yield view.finding.unknown(
                    subject,
                    f"'{name}' reaches the devices of profile '{profile}' only where filter "
                    f"{filter_names(applicability)} lets it through",
                    applicability.reasons,
                    devices=view.devices,
                )
            elif applicability.verdict is Applicability.UNKNOWN:
                yield view.finding.unknown(
                    subject,
                    f"whether '{name}' reaches the devices of profile '{profile}' in the "
                    "technician phase could not be determined",
                    applicability.reasons,
                    devices=view.devices,
                )
            elif applicability.user_targeting is not None:
                targets = ", ".join(applicability.user_targeting.targets)
                yield view.finding.failed(
                    subject,
                    f"'{name}' configures the device but is assigned only to users ({targets}), "
                    f"so devices of profile '{profile}' get it after reseal",
                    applicability.reasons,
                    devices=view.devices,
                )
