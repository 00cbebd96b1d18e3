"""ENR-007: no enrollment restriction blocks Windows (MDM) enrollment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from rules.assignments import TargetKind
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import ENROLLMENT_CONFIGURATIONS
from rules.tenant_objects import EnrollmentConfiguration, EnrollmentConfigurationKind

METADATA = RuleMetadata(
    id="ENR-007",
    title="No enrollment restriction blocks Windows (MDM) enrollment",
    severity=Severity.BLOCKER,
    rationale=(
        "Error 0x80180014 scenario 2 is 'Windows MDM enrollment is disabled in the Intune "
        "tenant': set Windows (MDM) to Allow (Windows Autopilot troubleshooting FAQ). Blocking "
        "personally owned Windows devices does not stop Autopilot devices, which are corporate, "
        "but removing that block is the documented workaround when a redeployed device is "
        "refused (Windows Autopilot known issues)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Enrollment device "
        "platform restrictions: set Windows (MDM) to Allow in every restriction that applies "
        "to Autopilot devices or their users."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/mem/intune/enrollment/enrollment-restrictions-set",
    ),
    graph_reads=(ENROLLMENT_CONFIGURATIONS,),
    permissions=("DeviceManagementServiceConfig.Read.All",),
)

WINDOWS_PLATFORM: Final = "windows"


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, ENROLLMENT_CONFIGURATIONS))
    if missing:
        yield from missing
        return
    finding = FindingBuilder(METADATA)
    restrictions = [
        configuration
        for configuration in context.snapshot.enrollment_configurations or ()
        if configuration.kind is EnrollmentConfigurationKind.PLATFORM_RESTRICTIONS
    ]
    found = False
    for configuration in restrictions:
        windows = windows_restriction(configuration.raw)
        if windows is None:
            continue
        found = True
        yield _verdict(finding, configuration, windows)
    if not found:
        yield finding.passed(
            context.tenant_subject,
            "no enrollment restriction covers Windows (MDM), so Windows enrollment is allowed",
        )


def windows_restriction(raw: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The Windows (MDM) restriction of a configuration, in either Graph shape."""
    combined = raw.get("windowsRestriction")
    if isinstance(combined, Mapping):
        return combined
    # beta's per-platform configuration: one platform and its restriction.
    platform = raw.get("platformType")
    single = raw.get("platformRestriction")
    if isinstance(platform, str) and platform.casefold() == WINDOWS_PLATFORM:
        return single if isinstance(single, Mapping) else None
    return None


def _is_default(configuration: EnrollmentConfiguration) -> bool:
    configuration_type = configuration.raw.get("deviceEnrollmentConfigurationType")
    return (
        isinstance(configuration_type, str) and configuration_type.casefold().startswith("default")
    ) or configuration.id.casefold().endswith("_defaultplatformrestrictions")


def _verdict(
    finding: FindingBuilder, configuration: EnrollmentConfiguration, windows: Mapping[str, Any]
) -> Finding:
    name = configuration.display_name
    subject = Subject("enrollmentConfiguration", configuration.id, name)
    blocked = windows.get("platformBlocked")
    personal_blocked = windows.get("personalDeviceEnrollmentBlocked")
    default = _is_default(configuration)
    reasons = [
        "the default restriction, applied to everyone not targeted by another one"
        if default
        else f"custom restriction, priority {configuration.priority}",
        f"Windows platformBlocked is {blocked}",
        f"Windows personalDeviceEnrollmentBlocked is {personal_blocked}",
    ]
    if blocked is True:
        assignments = configuration.assignments
        if not default and assignments is None:
            return finding.unknown(
                subject,
                f"restriction '{name}' blocks Windows (MDM) enrollment, but whom it is assigned "
                "to could not be read",
                (*reasons, f"assignments of '{name}' could not be read"),
            )
        if not default and not assignments:
            return finding.passed(
                subject,
                f"restriction '{name}' blocks Windows (MDM) enrollment but is assigned to nobody",
                (*reasons, "the restriction has no assignments"),
            )
        targets = _targets(configuration)
        return finding.failed(
            subject,
            f"restriction '{name}' blocks Windows (MDM) enrollment: Autopilot devices fail with "
            "0x80180014",
            (*reasons, *targets),
        )
    if blocked is not False:
        return finding.unknown(
            subject,
            f"cannot tell whether restriction '{name}' blocks Windows (MDM) enrollment",
            reasons,
        )
    if personal_blocked is True:
        reasons.append(
            "personally owned Windows devices are blocked: Autopilot devices are corporate, "
            "but a redeployed device refused as personal needs this block lifted"
        )
    return finding.passed(subject, f"restriction '{name}' allows Windows (MDM) enrollment", reasons)


def _targets(configuration: EnrollmentConfiguration) -> tuple[str, ...]:
    labels = {
        TargetKind.ALL_DEVICES: "assigned to All devices",
        TargetKind.ALL_LICENSED_USERS: "assigned to All users",
    }
    return tuple(
        labels.get(a.target_kind, f"{a.target_kind.value} {a.group_id}")
        for a in configuration.assignments or ()
    )
