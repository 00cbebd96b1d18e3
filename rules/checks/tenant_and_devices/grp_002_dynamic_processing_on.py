"""GRP-002: dynamic membership processing is on for every Autopilot device group."""

from __future__ import annotations

from collections.abc import Iterator

from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, DEVICES, GROUPS

METADATA = RuleMetadata(
    id="GRP-002",
    title="Dynamic membership processing is on for every Autopilot device group",
    severity=Severity.ERROR,
    rationale=(
        "A paused dynamic group stops adding members: newly registered Autopilot devices never "
        "join it, so they get no pre-provisioning profile and none of the device-targeted apps "
        "and policies. Graph: group.membershipRuleProcessingState is 'On' or 'Paused' "
        "(Microsoft Graph group resource); profile assignment follows group membership "
        "(Windows Autopilot profiles documentation). Impact is an inference from both."
    ),
    remediation=(
        "Microsoft Entra admin center > Groups > All groups > the group > Dynamic membership "
        "rules: resume processing (or ask whoever paused it why)."
    ),
    references=(
        "https://learn.microsoft.com/graph/api/resources/group",
        "https://learn.microsoft.com/autopilot/profiles",
    ),
    graph_reads=(AUTOPILOT_PROFILES, GROUPS, AUTOPILOT_DEVICES, DEVICES),
    permissions=("DeviceManagementServiceConfig.Read.All", "GroupMember.Read.All"),
    inference=True,
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, AUTOPILOT_PROFILES, GROUPS))
    if missing:
        yield from missing
        return
    profiles = context.targeting.preprovisioning_profiles() or ()
    for profile in profiles:
        scope = context.profile_scope(profile)
        finding = FindingBuilder(METADATA, scope=scope)
        targeting = context.targeting.profile_targeting(profile)
        for group_id in sorted(targeting.ap_device_group_ids):
            group = context.snapshot.group(group_id)
            if group is None or not group.is_dynamic:
                continue
            subject = Subject("group", group.id, group.display_name)
            if group.processing_paused:
                prediction = context.targeting.membership(group)
                yield finding.failed(
                    subject,
                    f"dynamic membership processing of '{group.display_name}' is paused: new "
                    f"Autopilot devices will not join it and will miss profile "
                    f"'{profile.display_name}'",
                    (
                        f"group '{group.display_name}' is an Autopilot device group of profile "
                        f"'{profile.display_name}'",
                        "membershipRuleProcessingState is 'Paused'",
                        f"membership rule: {group.membership_rule}",
                        *prediction.reasons,
                    ),
                    devices=prediction.members,
                )
            elif group.membership_rule_processing_state is None:
                # Unknown is never green: a snapshot without the state (a backup that did not
                # keep it) cannot tell a paused group from a running one.
                yield finding.unknown(
                    subject,
                    f"cannot tell whether dynamic membership processing of "
                    f"'{group.display_name}' is on",
                    (
                        f"group '{group.display_name}' is an Autopilot device group of profile "
                        f"'{profile.display_name}'",
                        "membershipRuleProcessingState was not read",
                    ),
                )
            else:
                state = group.membership_rule_processing_state
                yield finding.passed(
                    subject,
                    f"dynamic membership processing of '{group.display_name}' is on",
                    (f"membershipRuleProcessingState is '{state}'",),
                )
