"""The pre-provisioning profiles a per-profile rule reasons about, or why it cannot.

Every per-profile rule starts the same way: the profiles (and whatever else it reads) must have
been read, and, where the rule's verdict depends on which devices a profile holds, the profile's
targeting must be known. This module does that once; rules iterate what it yields.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rules.applicability import Certainty, EffectiveEsp, ProfileTargeting
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Subject
from rules.tenant_collections import AUTOPILOT_PROFILES
from rules.tenant_objects import AutopilotProfile


@dataclass(frozen=True, slots=True)
class ProfileUnderCheck:
    profile: AutopilotProfile
    subject: Subject
    # Builder scoped to the profile and its Autopilot device groups.
    finding: FindingBuilder
    targeting: ProfileTargeting

    @property
    def devices(self) -> frozenset[str]:
        """Registered Autopilot devices the profile certainly holds (the devices at risk)."""
        return self.targeting.device_ids


def profiles_under_check(
    context: RuleContext,
    metadata: RuleMetadata,
    *reads: str,
    needs_targeting: bool = True,
) -> Iterator[Finding | ProfileUnderCheck]:
    """UNKNOWN findings for what could not be read, and the profiles that can be checked.

    `needs_targeting`: the verdict depends on the devices the profile holds, so a profile whose
    targeting could not be resolved gets an UNKNOWN finding instead of being checked.
    """
    missing = tuple(context.unknown_if_unreadable(metadata, AUTOPILOT_PROFILES))
    if missing:
        yield from missing
        return
    profiles = context.targeting.preprovisioning_profiles() or ()
    if not profiles:
        # No profile allows pre-provisioning: nothing to check, whatever else was unreadable.
        return
    missing = tuple(context.unknown_if_unreadable(metadata, *reads))
    if missing:
        yield from missing
        return
    for profile in profiles:
        targeting = context.targeting.profile_targeting(profile)
        finding = FindingBuilder(metadata, scope=context.profile_scope(profile))
        subject = profile_subject(profile)
        if needs_targeting and targeting.unknown_reason is not None:
            yield finding.unknown(
                subject,
                f"cannot tell which devices profile '{profile.display_name}' holds: "
                f"{targeting.unknown_reason}",
                targeting.reasons,
            )
            continue
        yield ProfileUnderCheck(profile, subject, finding, targeting)


def effective_esp_or_unknown(
    context: RuleContext, item: ProfileUnderCheck
) -> EffectiveEsp | Finding:
    """The ESP the profile's devices get in the device phase, or the UNKNOWN finding to report."""
    effective = context.targeting.effective_esp(item.profile)
    if effective.certainty is Certainty.UNKNOWN:
        return item.finding.unknown(
            item.subject,
            f"cannot tell which ESP the devices of profile '{item.profile.display_name}' get",
            effective.reasons,
            devices=item.devices,
        )
    return effective
