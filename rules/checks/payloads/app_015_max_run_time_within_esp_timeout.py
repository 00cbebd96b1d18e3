"""APP-015: no Win32 app of the technician phase may run longer than the device ESP waits."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability, Certainty, DevicePhaseApplicability
from rules.checks.payloads.app_facts import is_win32
from rules.checks.payloads.device_phase import (
    ProfileView,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity, Subject
from rules.graph_json import optional_bool, optional_int, optional_mapping
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
)
from rules.tenant_objects import EnrollmentConfiguration, MobileApp

METADATA = RuleMetadata(
    id="APP-015",
    title="No Win32 app of the technician phase may run longer than the device ESP waits",
    severity=Severity.WARNING,
    rationale=(
        "A Win32 app's 'Installation time required (mins)' (installExperience."
        "maxRunTimeInMinutes, default 60) is how long Intune lets the install run (Add a Win32 "
        "app); the ESP shows an error once installation takes longer than its time-out, default "
        "60 minutes (Enrollment Status Page). An app allowed to run longer than the ESP of its "
        "devices waits can time the technician phase out on its own. Comparing the two is an "
        "inference from both documents; ESP-005 sizes the time-out against the whole workload."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Enrollment Status "
        "Page > the ESP > Properties > Settings: raise the time-out above the app's installation "
        "time, or lower 'Installation time required' (Apps > Windows > the app > Properties > "
        "Program) to what the installer needs."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/apps/apps-win32-add",
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
    ),
    graph_reads=(AUTOPILOT_PROFILES, ENROLLMENT_CONFIGURATIONS, MOBILE_APPS, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
    inference=True,
)


def max_run_minutes(app: MobileApp) -> int | None:
    experience = optional_mapping(app.raw, "installExperience")
    return optional_int(experience, "maxRunTimeInMinutes") if experience else None


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS, ENROLLMENT_CONFIGURATIONS)
    if stop is not None:
        yield from stop
        return
    apps = [app for app in context.snapshot.mobile_apps or () if is_win32(app)]
    for view in profile_views(context, METADATA):
        effective = context.targeting.effective_esp(view.profile)
        candidates = [*effective.undecided, *([effective.esp] if effective.esp else [])]
        # An ESP that may show progress has a time-out to hit; one whose setting is missing
        # counts too, so its missing time-out makes the verdict unknown rather than a pass.
        showing = [
            e for e in candidates if optional_bool(e.raw, "showInstallationProgress") is not False
        ]
        if effective.certainty is Certainty.UNKNOWN:
            yield view.finding.unknown(
                Subject("autopilotProfile", view.profile.id, view.profile.display_name),
                f"cannot tell which ESP the devices of profile '{view.profile.display_name}' get",
                effective.reasons,
                devices=view.devices,
            )
            continue
        if not showing:
            continue  # no ESP waits: nothing times out (ESP-001 reports a missing ESP)
        timeouts = [(e, optional_int(e.raw, "installProgressTimeoutInMinutes")) for e in showing]
        known: list[tuple[EnrollmentConfiguration, int]] = [
            (e, t) for e, t in timeouts if t is not None
        ]
        for app in apps:
            applicability = view.applicability(app)
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                continue
            yield _judge(view, app, applicability, known, len(known) < len(timeouts))


def _judge(
    view: ProfileView,
    app: MobileApp,
    applicability: DevicePhaseApplicability,
    known: list[tuple[EnrollmentConfiguration, int]],
    timeout_missing: bool,
) -> Finding:
    subject = payload_subject(app)
    minutes = max_run_minutes(app)
    facts = [f"installExperience.maxRunTimeInMinutes is {minutes}"]
    facts.extend(f"ESP '{e.display_name}' times out after {t} minutes" for e, t in known)
    if minutes is None or timeout_missing or not known:
        return view.finding.unknown(
            subject,
            f"cannot compare the installation time of '{app.display_name}' with the ESP time-out",
            (*facts, *applicability.reasons),
            devices=view.devices,
        )
    shortest_esp, shortest = min(known, key=lambda pair: pair[1])
    if minutes > shortest:
        return view.finding.failed(
            subject,
            f"'{app.display_name}' may run {minutes} minutes, longer than the {shortest}-minute "
            f"time-out of ESP '{shortest_esp.display_name}'",
            (*facts, *applicability.reasons),
            devices=view.devices,
        )
    return view.finding.passed(
        subject,
        f"'{app.display_name}' may run {minutes} minutes, within the {shortest}-minute time-out",
        (*facts, *applicability.reasons),
        devices=view.devices,
    )
