"""ESP-003: every blocking app of the device ESP is required, targeted to the device phase and
installs in device context."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from rules.app_context import InstallContext, install_context, is_required_anywhere
from rules.applicability import Applicability, UserTargeting, name_devices
from rules.checks.profiles_and_esp.esp_settings import (
    app_subject,
    blocking_app_ids,
    esp_subject,
    shows_progress,
)
from rules.checks.profiles_and_esp.profiles_under_check import (
    ProfileUnderCheck,
    effective_esp_or_unknown,
    profiles_under_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
)
from rules.tenant_objects import EnrollmentConfiguration, MobileApp

METADATA = RuleMetadata(
    id="ESP-003",
    title="Every blocking app of the device ESP installs in the device phase",
    severity=Severity.ERROR,
    rationale=(
        "The technician phase installs Win32 and LOB apps only when they install in device "
        "context and are assigned to the device (Windows Autopilot pre-provisioning "
        "documentation). Device setup tracks apps deployed in device context and targeted to "
        "devices, and the blocking list only filters which of those block: it doesn't specify "
        "what apps are installed (Enrollment Status Page documentation). Blocking apps must be "
        "required, in device context (troubleshooting the ESP, Microsoft support)."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the app > Properties: set Install "
        "behavior to System (Win32) or the assignment's install context to Device, assign it "
        "as Required to the Autopilot device group; or remove it from the ESP's blocking list "
        "(Devices > Enrollment > Windows > Enrollment Status Page)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/troubleshoot/mem/intune/device-enrollment/understand-troubleshoot-esp",
    ),
    graph_reads=(
        AUTOPILOT_PROFILES,
        ENROLLMENT_CONFIGURATIONS,
        MOBILE_APPS,
        GROUPS,
        AUTOPILOT_DEVICES,
        DEVICES,
        ASSIGNMENT_FILTERS,
    ),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)


@dataclass
class _Verdict:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unknowns: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    at_risk: frozenset[str] | None = None  # None: every device of the profile


def evaluate(context: RuleContext) -> Iterator[Finding]:
    for item in profiles_under_check(
        context, METADATA, ENROLLMENT_CONFIGURATIONS, MOBILE_APPS, needs_targeting=False
    ):
        if isinstance(item, ProfileUnderCheck):
            yield from _check(context, item)
        else:
            yield item


def _check(context: RuleContext, item: ProfileUnderCheck) -> Iterator[Finding]:
    effective = effective_esp_or_unknown(context, item)
    if isinstance(effective, Finding):
        yield effective
        return
    esp = effective.esp
    # No ESP, or one not showing progress, blocks on nothing (ESP-001 reports that).
    if esp is None or shows_progress(esp) is False:
        return
    listed = blocking_app_ids(esp)
    apps = _blocking_apps(context, item, listed)
    for app in apps:
        yield _finding(context, item, esp, app, blocks_all=not listed)


def _blocking_apps(
    context: RuleContext, item: ProfileUnderCheck, listed: tuple[str, ...]
) -> list[MobileApp]:
    if listed:
        # Ids of deleted apps are ESP-004's concern.
        return [app for app_id in listed if (app := context.snapshot.mobile_app(app_id))]
    # An empty list means every app the device phase tracks blocks.
    candidates = []
    for app in context.snapshot.mobile_apps or ():
        verdict = context.targeting.device_phase_applicability(app, item.profile).verdict
        if verdict is not Applicability.DOES_NOT_APPLY:
            candidates.append(app)
    return candidates


def _finding(
    context: RuleContext,
    item: ProfileUnderCheck,
    esp: EnrollmentConfiguration,
    app: MobileApp,
    *,
    blocks_all: bool,
) -> Finding:
    verdict = _judge(context, item, app)
    subject = app_subject(app)
    related = (esp_subject(esp), item.subject)
    role = (
        f"required app '{app.display_name}' blocks ESP '{esp.display_name}' (all apps block)"
        if blocks_all
        else f"'{app.display_name}' is a blocking app of ESP '{esp.display_name}'"
    )
    reasons = (role, *verdict.problems, *verdict.warnings, *verdict.unknowns, *verdict.facts)
    devices = item.devices if verdict.at_risk is None else verdict.at_risk
    if verdict.problems or verdict.warnings:
        return item.finding.failed(
            subject,
            f"blocking app '{app.display_name}' of ESP '{esp.display_name}' will not install "
            f"during pre-provisioning of profile '{item.profile.display_name}': "
            f"{(verdict.problems or verdict.warnings)[0]}",
            reasons,
            severity=Severity.ERROR if verdict.problems else Severity.WARNING,
            devices=devices,
            related=related,
        )
    if verdict.unknowns:
        return item.finding.unknown(
            subject,
            f"cannot tell whether blocking app '{app.display_name}' installs during "
            f"pre-provisioning: {verdict.unknowns[0]}",
            reasons,
            devices=item.devices,
            related=related,
        )
    return item.finding.passed(
        subject,
        f"blocking app '{app.display_name}' is required, reaches the devices of profile "
        f"'{item.profile.display_name}' and installs in device context",
        reasons,
        devices=item.devices,
        related=related,
    )


def _judge(context: RuleContext, item: ProfileUnderCheck, app: MobileApp) -> _Verdict:
    verdict = _Verdict()
    required = is_required_anywhere(app)
    if required is None:
        verdict.unknowns.append(f"assignments of '{app.display_name}' could not be read")
        return verdict
    if not required:
        verdict.problems.append("it is not assigned as required, so nothing installs it")
        return verdict
    context_verdict = install_context(app)
    if context_verdict.context is InstallContext.USER:
        verdict.problems.append(f"{context_verdict.reason}, not in device context")
    elif context_verdict.context is InstallContext.UNKNOWN:
        verdict.unknowns.append(context_verdict.reason)
    else:
        verdict.facts.append(context_verdict.reason)
    applicability = context.targeting.device_phase_applicability(app, item.profile)
    facts = list(applicability.reasons)
    if applicability.verdict in (Applicability.APPLIES, Applicability.CONDITIONAL):
        # A blocking app must reach every device of the profile, not just one of them.
        missed = applicability.device_reach().missed
        if missed:
            verdict.at_risk = missed
            verdict.problems.append(
                "it does not reach " + name_devices(context.snapshot, missed, len(item.devices))
            )
        elif applicability.verdict is Applicability.CONDITIONAL:
            verdict.warnings.append("an assignment filter decides whether it reaches each device")
        verdict.facts.extend(facts)
    elif applicability.verdict is Applicability.UNKNOWN:
        verdict.unknowns.append("its device-phase targeting cannot be resolved")
        verdict.facts.extend(facts)
    else:
        _not_device_targeted(item, applicability.user_targeting, context_verdict.context, verdict)
        verdict.facts.extend(facts)
    return verdict


def _not_device_targeted(
    item: ProfileUnderCheck,
    user_targeting: UserTargeting | None,
    context_kind: InstallContext,
    verdict: _Verdict,
) -> None:
    if user_targeting is not None and context_kind is InstallContext.DEVICE:
        # pre-provision.md: user-targeted device-context apps install for the assigned user.
        without_user = item.devices - user_targeting.devices_with_assigned_user
        if item.devices and not without_user:
            verdict.facts.append(
                "user-targeted, and every device of the profile has an assigned user it "
                "installs for"
            )
            return
        verdict.at_risk = without_user
        verdict.problems.append(
            f"it is targeted at users only, and {len(without_user)} device(s) have no assigned user"
        )
        return
    verdict.problems.append("it is not assigned to the profile's devices")
