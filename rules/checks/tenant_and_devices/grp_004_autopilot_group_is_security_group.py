"""GRP-004: every Autopilot device group is a security group that is not role-assignable."""

from __future__ import annotations

from collections.abc import Iterator

from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS

METADATA = RuleMetadata(
    id="GRP-004",
    title="Every Autopilot device group is a security group that is not role-assignable",
    severity=Severity.WARNING,
    rationale=(
        "Microsoft's Autopilot tutorial creates the device group with Group type Security "
        "(azure-ad-join-device-group.md): a Microsoft 365 group cannot hold devices. A group "
        "with isAssignableToRole set 'cannot be of dynamic membership type' (Microsoft Graph "
        "group resource), so new Autopilot devices never join it by themselves and only "
        "privileged roles can add them. The properties are securityEnabled and "
        "isAssignableToRole of the group (Microsoft Graph v1.0)."
    ),
    remediation=(
        "Microsoft Entra admin center > Groups > All groups > New group: create a Security "
        "group with Membership type Dynamic Device and 'Microsoft Entra roles can be assigned "
        "to the group' set to No, then assign the profile to it instead."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/tutorial/user-driven/azure-ad-join-device-group",
        "https://learn.microsoft.com/graph/api/resources/group",
    ),
    graph_reads=(AUTOPILOT_PROFILES, GROUPS),
    permissions=("DeviceManagementServiceConfig.Read.All", "GroupMember.Read.All"),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, AUTOPILOT_PROFILES, GROUPS))
    if missing:
        yield from missing
        return
    seen: set[tuple[str, str]] = set()
    for profile in context.targeting.preprovisioning_profiles() or ():
        finding = FindingBuilder(METADATA, scope=context.profile_scope(profile))
        for group_id in sorted(context.targeting.profile_targeting(profile).ap_device_group_ids):
            group = context.snapshot.group(group_id)
            if group is None or (profile.id, group_id) in seen:
                continue  # a group that no longer exists is GRP-006's finding
            seen.add((profile.id, group_id))
            subject = Subject("group", group.id, group.display_name)
            name = group.display_name
            facts = (
                f"securityEnabled is {group.security_enabled}",
                f"mailEnabled is {group.mail_enabled}",
                f"isAssignableToRole is {group.is_assignable_to_role}",
            )
            problems = []
            if group.security_enabled is False:
                problems.append(
                    "is not a security group"
                    + (" (a Microsoft 365 group holds no devices)" if group.mail_enabled else "")
                )
            if group.is_assignable_to_role:
                problems.append(
                    "is role-assignable, so it cannot be dynamic and new devices never join it"
                )
            if problems:
                yield finding.failed(
                    subject, f"Autopilot device group '{name}' {'; '.join(problems)}", facts
                )
            elif group.security_enabled is None:
                yield finding.unknown(
                    subject, f"cannot tell whether '{name}' is a security group", facts
                )
            else:
                yield finding.passed(
                    subject, f"'{name}' is a security group that is not role-assignable", facts
                )
