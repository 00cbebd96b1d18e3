"""APP-014: exclusions of apps for Autopilot devices use the same group kind as the includes."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability, GroupKind
from rules.assignments import TargetKind
from rules.checks.payloads.app_facts import WINDOWS_INSTALLED_TYPES, app_type
from rules.checks.payloads.device_phase import (
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS, MOBILE_APPS
from rules.tenant_objects import MobileApp

METADATA = RuleMetadata(
    id="APP-014",
    title="App exclusions for Autopilot devices use the same group kind as the includes",
    severity=Severity.WARNING,
    rationale=(
        "Intune doesn't evaluate user-to-device group relationships: an exclusion applies only "
        "within the same group kind, so excluding a device group from an app included for user "
        "groups (or a user group from an app included for device groups) excludes nobody "
        "(Include and exclude app assignments in Microsoft Intune). An admin who excludes the "
        "Autopilot devices that way still gets the app on them. Group kinds come from the same "
        "evaluation the applicability engine uses (membership rules, assigned members)."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the app > Properties > Assignments: "
        "exclude groups of the same kind as the included ones (device groups from device "
        "includes, user groups from user includes)."
    ),
    references=("https://learn.microsoft.com/intune/intune-service/apps/apps-inc-exl-assignments",),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)

_KIND_NAMES = {GroupKind.DEVICE: "device", GroupKind.USER: "user"}


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    apps = [
        app
        for app in context.snapshot.mobile_apps or ()
        if app_type(app) in WINDOWS_INSTALLED_TYPES
        and app.assignments
        and any(a.target_kind is TargetKind.GROUP_EXCLUDE for a in app.assignments)
    ]
    kinds = {app.id: _kinds(context, app) for app in apps}
    for view in profile_views(context, METADATA):
        for app in apps:
            applicability = view.applicability(app)
            if (
                applicability.verdict is Applicability.DOES_NOT_APPLY
                and applicability.user_targeting is None
            ):
                continue
            included, excluded, unknown = kinds[app.id]
            subject = payload_subject(app)
            crossed = [
                f"{label} ({_KIND_NAMES[kind]} group) cannot remove the {_KIND_NAMES[other]} "
                "include(s)"
                for label, kind in excluded
                for other in {k for _, k in included} - {kind}
            ]
            facts = (
                *(f"includes {label} ({_KIND_NAMES[k]})" for label, k in included),
                *(f"excludes {label} ({_KIND_NAMES[k]})" for label, k in excluded),
                *unknown,
            )
            if crossed:
                yield view.finding.failed(
                    subject,
                    f"'{app.display_name}' excludes groups of another kind than it includes: "
                    f"{crossed[0]}",
                    (*crossed, *facts, *applicability.reasons),
                    devices=view.devices,
                )
            elif unknown:
                yield view.finding.unknown(
                    subject,
                    f"the kind of a group '{app.display_name}' is assigned to could not be told",
                    (*facts, *applicability.reasons),
                    devices=view.devices,
                )
            else:
                yield view.finding.passed(
                    subject,
                    f"the exclusions of '{app.display_name}' match the kind of its includes",
                    (*facts, *applicability.reasons),
                    devices=view.devices,
                )


def _kinds(
    context: RuleContext, app: MobileApp
) -> tuple[list[tuple[str, GroupKind]], list[tuple[str, GroupKind]], list[str]]:
    included: list[tuple[str, GroupKind]] = []
    excluded: list[tuple[str, GroupKind]] = []
    unknown: list[str] = []
    for assignment in app.assignments or ():
        if assignment.target_kind is TargetKind.ALL_DEVICES:
            included.append(("All devices", GroupKind.DEVICE))
            continue
        if assignment.target_kind is TargetKind.ALL_LICENSED_USERS:
            included.append(("All users", GroupKind.USER))
            continue
        if not assignment.targets_group or not assignment.group_id:
            continue
        group = context.snapshot.group(assignment.group_id)
        if group is None:
            if context.snapshot.groups is None:
                unknown.append(f"group {assignment.group_id}: groups could not be read")
            continue  # a deleted group is GRP-006's concern
        verdict = context.targeting.group_kind(group)
        label = f"'{group.display_name}'"
        if verdict.kind in _KIND_NAMES:
            target = included if assignment.target_kind is TargetKind.GROUP_INCLUDE else excluded
            target.append((label, verdict.kind))
        elif verdict.kind is GroupKind.UNKNOWN:
            unknown.extend(verdict.reasons)
    return included, excluded, unknown
