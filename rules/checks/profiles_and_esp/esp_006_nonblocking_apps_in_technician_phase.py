"""ESP-006: with a blocking-app list, the technician phase also installs the other required apps."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability
from rules.checks.payloads.app_facts import WINDOWS_INSTALLED_TYPES, app_type
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
from rules.graph_json import optional_bool
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
    id="ESP-006",
    title="With a blocking-app list, the technician phase also installs the non-blocking apps",
    severity=Severity.WARNING,
    rationale=(
        "'Only fail selected blocking apps in technician phase' (Graph "
        "allowNonBlockingAppInstallation) applies only when the ESP lists blocking apps. With "
        "No, the technician flow installs the blocking apps only: no attempt is made to install "
        "non-blocking apps, which the ESP installs when the user first signs in to the resealed "
        "device. With Yes, every required app is attempted and failures of non-blocking apps are "
        "ignored; Microsoft documents Yes as the default for pre-provisioned deployments and "
        "advises raising the ESP time-out (Enrollment Status Page). A required device-phase app "
        "outside the list is therefore missing at reseal when the setting is No."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Enrollment Status "
        "Page > the ESP > Properties > Settings: set 'Only fail selected blocking apps in "
        "technician phase' to Yes (and raise the time-out), or add the apps to the blocking list."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/autopilot/pre-provision",
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
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)

SETTING = "allowNonBlockingAppInstallation"


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
    # Without progress there is no blocking list (ESP-001); an empty list blocks on all apps,
    # and the setting only exists once blocking apps are selected.
    if esp is None or shows_progress(esp) is False:
        return
    listed = blocking_app_ids(esp)
    if not listed:
        return
    subject = esp_subject(esp)
    related = (item.subject,)
    value = optional_bool(esp.raw, SETTING)
    if value is None:
        yield item.finding.unknown(
            subject,
            f"ESP '{esp.display_name}' does not report '{SETTING}'",
            (f"{SETTING} is missing", *effective.reasons),
            devices=item.devices,
            related=related,
        )
        return
    if value:
        yield item.finding.passed(
            subject,
            f"ESP '{esp.display_name}' installs every required app in the technician phase and "
            "fails only on its blocking apps",
            (f"{SETTING} is true", *effective.reasons),
            devices=item.devices,
            related=related,
        )
        return
    left_out, unsure = _non_blocking_apps(context, item, frozenset(listed))
    facts = (
        f"{SETTING} is false: only the {len(listed)} blocking app(s) install in the technician "
        "phase",
        *effective.reasons,
    )
    if left_out:
        names = ", ".join(f"'{app.display_name}'" for app in left_out)
        # The devices at risk: those one of the left-out apps may reach (filters honoured).
        # Apps with the same targeting share one device set: add each distinct set once.
        at_risk: set[str] = set()
        added: set[int] = set()
        for app in left_out:
            applicability = context.targeting.device_phase_applicability(app, item.profile)
            may_reach = applicability.device_reach().may_reach
            if id(may_reach) not in added:
                added.add(id(may_reach))
                at_risk |= may_reach
        yield item.finding.failed(
            subject,
            f"ESP '{esp.display_name}' installs only its blocking apps in the technician phase of "
            f"profile '{item.profile.display_name}': {names} wait for the user's first sign-in",
            facts,
            devices=tuple(device for device in item.devices if device in at_risk),
            related=(*related, *(app_subject(app) for app in left_out)),
        )
    elif unsure:
        yield item.finding.unknown(
            subject,
            f"cannot tell whether required apps outside the blocking list of ESP "
            f"'{esp.display_name}' reach the technician phase",
            (*facts, *(f"'{app.display_name}' might apply" for app in unsure)),
            devices=item.devices,
            related=related,
        )
    else:
        yield item.finding.passed(
            subject,
            f"every required device-phase app of profile '{item.profile.display_name}' is on the "
            f"blocking list of ESP '{esp.display_name}'",
            facts,
            devices=item.devices,
            related=related,
        )


def _non_blocking_apps(
    context: RuleContext, item: ProfileUnderCheck, listed: frozenset[str]
) -> tuple[list[MobileApp], list[MobileApp]]:
    left_out: list[MobileApp] = []
    unsure: list[MobileApp] = []
    for app in context.snapshot.mobile_apps or ():
        if app.id in listed or app_type(app) not in WINDOWS_INSTALLED_TYPES:
            continue
        verdict = context.targeting.device_phase_applicability(app, item.profile).verdict
        if verdict in (Applicability.APPLIES, Applicability.CONDITIONAL):
            left_out.append(app)
        elif verdict is Applicability.UNKNOWN:
            unsure.append(app)
    return left_out, unsure
