"""APP-013: required Windows apps are not targeted only at users, who get them after reseal."""

from __future__ import annotations

from collections.abc import Iterator

from rules.app_context import InstallContext, install_context
from rules.applicability import Applicability
from rules.assignments import TargetKind
from rules.checks.payloads.app_facts import WINDOWS_INSTALLED_TYPES, app_type
from rules.checks.payloads.device_phase import (
    ProfileView,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, GROUPS, MOBILE_APPS
from rules.tenant_objects import MobileApp

METADATA = RuleMetadata(
    id="APP-013",
    title="Required Windows apps reach the technician phase, not only the users",
    severity=Severity.WARNING,
    rationale=(
        "The technician phase installs device-targeted apps and 'any user-targeted, "
        "device-context apps that are targeted to the assigned user. If there's no assigned "
        "user, then it only installs the device-targeted apps' (Windows Autopilot "
        "pre-provisioning). A required app targeted only at users therefore installs in the "
        "user flow, after reseal, on devices without an assigned user, and never in the "
        "technician phase when it installs as the user. Microsoft Edge is not checked: it "
        "ships with Windows."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the app > Properties > Assignments: "
        "add the Autopilot device group under Required (and set the app to install in device "
        "context)."
    ),
    references=("https://learn.microsoft.com/autopilot/pre-provision",),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS, AUTOPILOT_DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)


def _targets_all_users_only(app: MobileApp) -> bool:
    required = [
        a
        for a in app.assignments or ()
        if a.intent == "required" and a.target_kind is not TargetKind.GROUP_EXCLUDE
    ]
    return bool(required) and all(a.target_kind is TargetKind.ALL_LICENSED_USERS for a in required)


# A profile's devices without an assigned user, by the set of those with one (the same set for
# every user-targeted app of the profile): one difference per profile, and one shared set that
# every finding's device list is sorted from once.
_WithoutUser = dict[int, tuple[frozenset[str], frozenset[str]]]


def _without_user(
    view: ProfileView, with_user: frozenset[str], known: _WithoutUser
) -> frozenset[str]:
    entry = known.get(id(with_user))
    if entry is None or entry[0] is not with_user:
        entry = (with_user, view.devices - with_user)
        known[id(with_user)] = entry
    return entry[1]


def _app_finding(view: ProfileView, app: MobileApp, known: _WithoutUser) -> Finding | None:
    applicability = view.applicability(app)
    user_targeting = applicability.user_targeting
    if applicability.verdict is not Applicability.DOES_NOT_APPLY or user_targeting is None:
        # Device-targeted apps are the other rules' business; apps for nobody here are skipped.
        return None
    subject = payload_subject(app)
    context = install_context(app)
    targets = ", ".join(user_targeting.targets)
    reasons = (f"required for users only: {targets}", context.reason, *applicability.reasons)
    without_user = _without_user(view, user_targeting.devices_with_assigned_user, known)
    name, profile = app.display_name, view.profile.display_name
    if view.context.snapshot.autopilot_devices is None:
        return view.finding.unknown(
            subject,
            f"'{name}' is required for users only ({targets}); which devices of profile "
            f"'{profile}' have an assigned user could not be read",
            (*reasons, *view.context.unreadable(AUTOPILOT_DEVICES)),
        )
    if without_user or not view.devices:
        return view.finding.failed(
            subject,
            f"'{name}' is required for users only ({targets}), so devices of profile "
            f"'{profile}' without an assigned user get it after reseal",
            reasons,
            devices=without_user,
        )
    if context.context is InstallContext.USER:
        return view.finding.failed(
            subject,
            f"'{name}' is required for users only ({targets}) and installs as the user, so "
            f"devices of profile '{profile}' get it after reseal",
            reasons,
            devices=view.devices,
        )
    if context.context is InstallContext.UNKNOWN or not _targets_all_users_only(app):
        return view.finding.unknown(
            subject,
            f"whether '{name}' installs for the assigned users of profile '{profile}' in the "
            "technician phase could not be determined",
            (
                *reasons,
                "user group membership of the assigned users is not in the snapshot"
                if context.context is InstallContext.DEVICE
                else "the install context is not known",
            ),
            devices=view.devices,
        )
    return view.finding.passed(
        subject,
        f"'{name}' installs in device context for the assigned user of every device of "
        f"profile '{profile}'",
        reasons,
        devices=view.devices,
    )


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    apps = [
        app
        for app in context.snapshot.mobile_apps or ()
        if app_type(app) in WINDOWS_INSTALLED_TYPES
    ]
    for view in profile_views(context, METADATA):
        known: _WithoutUser = {}
        for app in apps:
            finding = _app_finding(view, app, known)
            if finding is not None:
                yield finding
