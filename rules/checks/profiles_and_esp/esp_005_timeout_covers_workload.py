"""ESP-005: the ESP timeout leaves room for the technician-phase workload."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability
from rules.checks.profiles_and_esp.esp_settings import (
    blocking_app_ids,
    esp_subject,
    shows_progress,
    timeout_minutes,
)
from rules.checks.profiles_and_esp.profiles_under_check import (
    ProfileUnderCheck,
    effective_esp_or_unknown,
    profiles_under_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.graph_json import optional_int, optional_mapping
from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
)
from rules.tenant_objects import MobileApp

METADATA = RuleMetadata(
    id="ESP-005",
    title="The ESP timeout leaves room for the technician-phase workload",
    severity=Severity.WARNING,
    rationale=(
        "The ESP times out after installProgressTimeoutInMinutes (default 60) and the technician "
        "sees an error; installing more in the technician phase lengthens provisioning, so "
        "increase the time-out (Enrollment Status Page documentation). Sizing the time-out "
        "against the blocking apps' maximum run times is an inference from both; hybrid join "
        "adds about 40 minutes (Windows Autopilot hybrid join documentation)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Enrollment Status "
        "Page > the ESP > Properties > Settings: raise 'Show an error when installation takes "
        "longer than specified number of minutes'."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/autopilot/windows-autopilot-hybrid",
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
    inference=True,
)

MINIMUM_TIMEOUT_MINUTES = 60
HYBRID_EXTRA_MINUTES = 40


def evaluate(context: RuleContext) -> Iterator[Finding]:
    for item in profiles_under_check(context, METADATA, ENROLLMENT_CONFIGURATIONS, MOBILE_APPS):
        if isinstance(item, ProfileUnderCheck):
            yield from _check(context, item)
        else:
            yield item


def _check(context: RuleContext, item: ProfileUnderCheck) -> Iterator[Finding]:
    profile = item.profile
    effective = effective_esp_or_unknown(context, item)
    if isinstance(effective, Finding):
        yield effective
        return
    esp = effective.esp
    # An ESP that shows no progress has no timeout to hit (ESP-001 reports it).
    if esp is None or shows_progress(esp) is False:
        return
    subject = esp_subject(esp)
    related = (item.subject,)
    timeout = timeout_minutes(esp)
    if timeout is None:
        yield item.finding.unknown(
            subject,
            f"ESP '{esp.display_name}' does not report its timeout",
            ("installProgressTimeoutInMinutes is missing (a beta-only property)",),
            devices=item.devices,
            related=related,
        )
        return
    apps = _blocking_win32_apps(context, item, blocking_app_ids(esp))
    workload = sum(minutes for _, minutes in apps)
    needed = workload + (HYBRID_EXTRA_MINUTES if profile.is_hybrid else 0)
    reasons = [
        f"ESP '{esp.display_name}' times out after {timeout} minutes",
        *(f"'{app.display_name}' may run {minutes} minutes" for app, minutes in apps),
        f"blocking Win32 apps may run {workload} minutes in total",
    ]
    if profile.is_hybrid:
        reasons.append(f"hybrid join adds about {HYBRID_EXTRA_MINUTES} minutes")
    if timeout < MINIMUM_TIMEOUT_MINUTES:
        yield item.finding.failed(
            subject,
            f"ESP '{esp.display_name}' times out after {timeout} minutes, less than the "
            f"{MINIMUM_TIMEOUT_MINUTES}-minute default",
            reasons,
            devices=item.devices,
            related=related,
        )
    elif timeout < needed:
        yield item.finding.failed(
            subject,
            f"ESP '{esp.display_name}' times out after {timeout} minutes, but its blocking apps "
            f"may need {needed} minutes on the devices of profile '{profile.display_name}'",
            reasons,
            devices=item.devices,
            related=related,
        )
    else:
        yield item.finding.passed(
            subject,
            f"the {timeout}-minute timeout of ESP '{esp.display_name}' covers the {needed} "
            "minutes its blocking apps may need",
            reasons,
            devices=item.devices,
            related=related,
        )


def _blocking_win32_apps(
    context: RuleContext, item: ProfileUnderCheck, listed: tuple[str, ...]
) -> list[tuple[MobileApp, int]]:
    if listed:
        apps = [app for app_id in listed if (app := context.snapshot.mobile_app(app_id))]
    else:
        # An empty list blocks on every app the device phase installs.
        apps = [
            app
            for app in context.snapshot.mobile_apps or ()
            if context.targeting.device_phase_applicability(app, item.profile).verdict
            is not Applicability.DOES_NOT_APPLY
        ]
    timed = []
    for app in apps:
        experience = optional_mapping(app.raw, "installExperience")
        minutes = optional_int(experience, "maxRunTimeInMinutes") if experience else None
        if minutes is not None:
            timed.append((app, minutes))
    return timed
