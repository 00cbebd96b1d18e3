"""ESP-010: account setup (the user ESP) is skipped for pre-provisioning devices by a
device-targeted SkipUserStatusPage setting."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability, DevicePhaseApplicability, name_devices
from rules.checks.profiles_and_esp.first_sync_status import (
    SKIP_USER_STATUS_PAGE,
    TRUE_VALUES,
    NodeSetting,
    NodeValue,
    find_node_settings,
)
from rules.checks.profiles_and_esp.profiles_under_check import (
    ProfileUnderCheck,
    profiles_under_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    DEVICES,
    GROUPS,
    SETTINGS_CATALOG_POLICIES,
)

METADATA = RuleMetadata(
    id="ESP-010",
    title="Account setup (user ESP) is skipped by a device-targeted SkipUserStatusPage setting",
    severity=Severity.WARNING,
    rationale=(
        "Microsoft support gives the OMA-URI ./Vendor/MSFT/DMClient/Provider/MS DM Server/"
        "FirstSyncStatus/SkipUserStatusPage (Boolean, True) to disable the user ESP "
        "(understand and troubleshoot the ESP); the ESP is driven by the FirstSyncStatus CSP "
        "(Enrollment Status Page documentation). Skipping account setup is a recommendation, "
        "not a Microsoft requirement; assigned to user groups only it does not apply in the "
        "technician's device phase. A string 'True' is treated as meant but not documented "
        "(inference)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Configuration > Create > Windows 10 and "
        "later > Templates > Custom: add OMA-URI ./Vendor/MSFT/DMClient/Provider/MS DM Server/"
        "FirstSyncStatus/SkipUserStatusPage, Boolean, True, and assign it to the Autopilot "
        "device group."
    ),
    references=(
        "https://learn.microsoft.com/troubleshoot/mem/intune/device-enrollment/understand-troubleshoot-esp",
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/graph/api/resources/intune-deviceconfig-omasettingboolean",
    ),
    graph_reads=(
        AUTOPILOT_PROFILES,
        DEVICE_CONFIGURATIONS,
        SETTINGS_CATALOG_POLICIES,
        GROUPS,
        AUTOPILOT_DEVICES,
        DEVICES,
        ASSIGNMENT_FILTERS,
    ),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    settings = find_node_settings(context.snapshot, SKIP_USER_STATUS_PAGE)
    unread = context.unreadable(DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES)
    for item in profiles_under_check(context, METADATA, needs_targeting=False):
        if isinstance(item, ProfileUnderCheck):
            yield _check(context, item, settings, unread)
        else:
            yield item


def _check(
    context: RuleContext,
    item: ProfileUnderCheck,
    settings: tuple[NodeSetting, ...],
    unread: tuple[str, ...],
) -> Finding:
    profile = item.profile
    judged = [
        (setting, context.targeting.device_phase_applicability(setting.payload, profile))
        for setting in settings
    ]

    def matching(values: tuple[NodeValue, ...], *verdicts: Applicability) -> list[NodeSetting]:
        return [s for s, a in judged if s.value in values and a.verdict in verdicts]

    proving = matching((NodeValue.TRUE,), Applicability.APPLIES)
    if proving:
        # The skip must reach every device of the profile: name those no proving policy reaches.
        reached = frozenset().union(
            *(a.device_reach().reached for s, a in judged if any(s is p for p in proving))
        )
        missed = item.devices - reached if len(reached) < len(item.devices) else frozenset()
        if missed:
            return item.finding.failed(
                proving[0].subject,
                f"'{proving[0].subject.display_name}' skips account setup, but not for "
                f"{name_devices(context.snapshot, missed, len(item.devices))} of profile "
                f"'{profile.display_name}'",
                _reasons(judged, proving),
                severity=Severity.WARNING,
                devices=missed,
                related=(item.subject,),
            )
        return _found(item, proving[0], judged, "passed")
    maybe = matching(TRUE_VALUES, Applicability.UNKNOWN) + matching(
        (NodeValue.UNREADABLE,),
        Applicability.APPLIES,
        Applicability.CONDITIONAL,
        Applicability.UNKNOWN,
    )
    if maybe or unread:
        first = maybe[0] if maybe else None
        return item.finding.unknown(
            first.subject if first else item.subject,
            f"cannot tell whether SkipUserStatusPage applies to the devices of profile "
            f"'{profile.display_name}'",
            (*unread, *_reasons(judged, maybe)),
            devices=item.devices,
            related=(item.subject,) if first else (),
        )
    as_text = matching((NodeValue.TRUE_NOT_BOOLEAN,), Applicability.APPLIES)
    if as_text:
        return _found(item, as_text[0], judged, "not boolean")
    conditional = matching(TRUE_VALUES, Applicability.CONDITIONAL)
    if conditional:
        return _found(item, conditional[0], judged, "conditional")
    user_only = [
        s
        for s, a in judged
        if s.value in TRUE_VALUES
        and a.verdict is Applicability.DOES_NOT_APPLY
        and a.user_targeting is not None
    ]
    if user_only:
        return _found(item, user_only[0], judged, "user only")
    return item.finding.failed(
        item.subject,
        f"no device-targeted policy skips account setup (SkipUserStatusPage) for the devices "
        f"of profile '{profile.display_name}'",
        _reasons(judged, [s for s, _ in judged]) or ("no policy sets SkipUserStatusPage",),
        devices=item.devices,
    )


def _found(
    item: ProfileUnderCheck,
    setting: NodeSetting,
    judged: list[tuple[NodeSetting, DevicePhaseApplicability]],
    outcome: str,
) -> Finding:
    name = f"'{setting.subject.display_name}'"
    reasons = _reasons(judged, [setting])
    related = (item.subject,)
    if outcome == "passed":
        return item.finding.passed(
            setting.subject,
            f"{name} skips account setup for the devices of profile '{item.profile.display_name}'",
            reasons,
            devices=item.devices,
            related=related,
        )
    messages = {
        "not boolean": (
            f"{name} sets SkipUserStatusPage to true as a string or integer, not as the "
            "documented Boolean",
            Severity.WARNING,
        ),
        "conditional": (
            f"{name} skips account setup only on devices its assignment filter matches",
            Severity.WARNING,
        ),
        "user only": (
            f"{name} sets SkipUserStatusPage but is assigned to users only, so it does not "
            "apply in the technician's device phase",
            Severity.ERROR,
        ),
    }
    message, severity = messages[outcome]
    return item.finding.failed(
        setting.subject,
        message,
        reasons,
        severity=severity,
        devices=item.devices,
        related=related,
    )


def _reasons(
    judged: list[tuple[NodeSetting, DevicePhaseApplicability]], chosen: list[NodeSetting]
) -> tuple[str, ...]:
    reasons: list[str] = []
    for setting, applicability in judged:
        if any(setting is other for other in chosen):
            reasons.append(setting.detail)
            reasons.append(f"device phase: {applicability.verdict.value}")
            reasons.extend(applicability.reasons)
    return tuple(dict.fromkeys(reasons))
