"""GRP-006: every group an Intune assignment targets exists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from rules.assignments import TargetKind
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    COMPLIANCE_POLICIES,
    DEVICE_CONFIGURATIONS,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
    PLATFORM_SCRIPTS,
    SETTINGS_CATALOG_POLICIES,
)
from rules.tenant_objects import AssignedPayload

METADATA = RuleMetadata(
    id="GRP-006",
    title="Every group an Intune assignment targets exists",
    severity=Severity.ERROR,
    rationale=(
        "An assignment keeps the id of a group after the group is deleted from Microsoft "
        "Entra ID; it then targets nobody, so the profile, app or policy silently stops "
        "reaching the devices it was meant for (an inference from group-based assignment, "
        "Microsoft Graph groupAssignmentTarget)."
    ),
    remediation=(
        "Microsoft Intune admin center > the app or policy > Properties > Assignments: "
        "remove the group shown by its id only and assign the group that replaced it."
    ),
    references=(
        "https://learn.microsoft.com/graph/api/resources/intune-shared-groupassignmenttarget",
        "https://learn.microsoft.com/mem/intune/apps/apps-inc-exl-assignments",
    ),
    graph_reads=(
        GROUPS,
        AUTOPILOT_PROFILES,
        ENROLLMENT_CONFIGURATIONS,
        DEVICE_CONFIGURATIONS,
        SETTINGS_CATALOG_POLICIES,
        PLATFORM_SCRIPTS,
        COMPLIANCE_POLICIES,
        MOBILE_APPS,
    ),
    permissions=(
        "GroupMember.Read.All",
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "DeviceManagementManagedDevices.Read.All",
        "DeviceManagementApps.Read.All",
    ),
    inference=True,
)

# Subject type per collection, as findings name the objects.
_SUBJECT_TYPES: Final = {
    AUTOPILOT_PROFILES: "autopilotProfile",
    ENROLLMENT_CONFIGURATIONS: "enrollmentConfiguration",
    DEVICE_CONFIGURATIONS: "deviceConfiguration",
    SETTINGS_CATALOG_POLICIES: "settingsCatalogPolicy",
    PLATFORM_SCRIPTS: "platformScript",
    COMPLIANCE_POLICIES: "compliancePolicy",
    MOBILE_APPS: "mobileApp",
}


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, GROUPS))
    if missing:
        yield from missing
        return
    finding = FindingBuilder(METADATA)
    resolved = 0
    checked = 0
    not_checked: list[str] = []
    for path, subject_type in _SUBJECT_TYPES.items():
        unreadable = context.unreadable(path)
        if unreadable:
            not_checked.append(path)
            yield finding.unknown(
                Subject("collection", path, path),
                f"cannot check the groups that {path} targets: it could not be read",
                unreadable,
            )
            continue
        for payload in _payloads(context.snapshot, path):
            subject = Subject(subject_type, payload.id, payload.display_name)
            if payload.assignments is None:
                not_checked.append(f"assignments of '{payload.display_name}'")
                yield finding.unknown(
                    subject,
                    f"cannot check the groups '{payload.display_name}' targets: its "
                    "assignments could not be read",
                    (f"assignments of '{payload.display_name}' could not be read",),
                )
                continue
            checked += 1
            dangling = _dangling(context, payload)
            resolved += sum(1 for a in payload.assignments if a.targets_group) - len(dangling)
            if dangling:
                yield _failure(finding, subject, payload, dangling)
    if not_checked:
        # Unknown is never green: what could not be read may hold the dangling reference.
        yield finding.unknown(
            context.tenant_subject,
            f"{resolved} group reference(s) of the {checked} assigned object(s) checked resolve, "
            f"but {len(not_checked)} source(s) could not be read",
            tuple(f"not checked: {what}" for what in not_checked),
        )
        return
    yield finding.passed(
        context.tenant_subject,
        f"{resolved} group reference(s) of the {checked} assigned object(s) checked resolve to "
        "existing groups",
        (f"collections checked: {', '.join(_SUBJECT_TYPES)}",),
    )


def _payloads(snapshot: TenantSnapshot, path: str) -> Sequence[AssignedPayload]:
    collections: dict[str, Sequence[AssignedPayload] | None] = {
        AUTOPILOT_PROFILES: snapshot.autopilot_profiles,
        ENROLLMENT_CONFIGURATIONS: snapshot.enrollment_configurations,
        DEVICE_CONFIGURATIONS: snapshot.device_configurations,
        SETTINGS_CATALOG_POLICIES: snapshot.settings_catalog_policies,
        PLATFORM_SCRIPTS: snapshot.platform_scripts,
        COMPLIANCE_POLICIES: snapshot.compliance_policies,
        MOBILE_APPS: snapshot.mobile_apps,
    }
    return collections[path] or ()


def _dangling(context: RuleContext, payload: AssignedPayload) -> list[tuple[str, TargetKind]]:
    found: dict[str, TargetKind] = {}
    for assignment in payload.assignments or ():
        group_id = assignment.group_id
        if not assignment.targets_group or not group_id or context.snapshot.group(group_id):
            continue
        # An include wins over an exclusion of the same group when reporting.
        if found.get(group_id) is not TargetKind.GROUP_INCLUDE:
            found[group_id] = assignment.target_kind
    return sorted(found.items())


def _failure(
    finding: FindingBuilder,
    subject: Subject,
    payload: AssignedPayload,
    dangling: list[tuple[str, TargetKind]],
) -> Finding:
    includes = [group_id for group_id, kind in dangling if kind is TargetKind.GROUP_INCLUDE]
    reasons = tuple(
        f"{kind.value} of group {group_id}, which is not in the tenant (deleted?)"
        for group_id, kind in dangling
    )
    missing = ", ".join(group_id for group_id, _ in dangling)
    verb = "targets" if includes else "excludes"
    return finding.failed(
        subject,
        f"'{payload.display_name}' {verb} group(s) that no longer exist: {missing}",
        reasons,
        # A dangling exclusion excludes nobody: a risk, but nothing stops being delivered.
        severity=Severity.ERROR if includes else Severity.WARNING,
        related=tuple(Subject("group", group_id, group_id) for group_id, _ in dangling),
    )
