"""Per pre-provisioning profile: which payload reaches the technician phase, and how to say so.

Every payload rule asks the same question of the shared targeting engine
(`TenantTargeting.device_phase_applicability`) for each pre-provisioning profile. This module
keeps the wording of the answer in one place, so a filter is always named and an answer that
could not be worked out is never reported as a pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from rules.applicability import Applicability, DevicePhaseApplicability
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Scope, Severity, Subject
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import AUTOPILOT_PROFILES
from rules.tenant_objects import (
    AssignedPayload,
    AutopilotProfile,
    CompliancePolicy,
    DeviceConfiguration,
    MobileApp,
    PlatformScript,
    SettingsCatalogPolicy,
)

# Verdicts under which a payload may reach the profile's devices in the device phase.
MAY_APPLY = frozenset({Applicability.APPLIES, Applicability.CONDITIONAL, Applicability.UNKNOWN})


@dataclass(frozen=True, slots=True)
class ProfileView:
    """One pre-provisioning profile as a payload rule sees it."""

    context: RuleContext
    profile: AutopilotProfile
    scope: Scope
    finding: FindingBuilder
    # Registered Autopilot devices the profile certainly targets: the devices at risk.
    devices: frozenset[str]
    # This profile's answers, shared by every payload rule (see `_new_applicability_cache`).
    answers: dict[_CacheKey, DevicePhaseApplicability] = field(repr=False, compare=False)

    def applicability(self, payload: AssignedPayload) -> DevicePhaseApplicability:
        """The engine's answer, computed once per snapshot for all payload rules."""
        key = (type(payload).__name__, payload.id)
        answer = self.answers.get(key)
        if answer is None:
            answer = self.context.targeting.device_phase_applicability(payload, self.profile)
            self.answers[key] = answer
        return answer


_CacheKey = tuple[str, str]


def _new_applicability_cache(
    snapshot: TenantSnapshot,
) -> dict[str, dict[_CacheKey, DevicePhaseApplicability]]:
    # Many payload rules ask the same question of the same payload and profile; the snapshot
    # never changes, so neither does the answer. Profile id -> (payload type, payload id) -> answer.
    return {}


def profile_views(context: RuleContext, metadata: RuleMetadata) -> Iterator[ProfileView]:
    """The pre-provisioning profiles, each with its scope and finding builder."""
    cache = context.snapshot.derived_view(_new_applicability_cache)
    for profile in context.targeting.preprovisioning_profiles() or ():
        scope = context.profile_scope(profile)
        yield ProfileView(
            context=context,
            profile=profile,
            scope=scope,
            finding=FindingBuilder(metadata, scope=scope),
            devices=context.targeting.profile_targeting(profile).device_ids,
            answers=cache.setdefault(profile.id, {}),
        )


def unreadable_or_nothing_to_check(
    context: RuleContext, metadata: RuleMetadata, *reads: str
) -> tuple[Finding, ...] | None:
    """What a per-profile payload rule reports instead of checking, or None to go on.

    Profiles unreadable: UNKNOWN. No profile allows pre-provisioning: nothing (the engine reports
    NOT_APPLICABLE), whatever else could not be read. Otherwise UNKNOWN when any of `reads` is
    unreadable.
    """
    missing = tuple(context.unknown_if_unreadable(metadata, AUTOPILOT_PROFILES))
    if missing:
        return missing
    if not context.targeting.preprovisioning_profiles():
        return ()
    missing = tuple(context.unknown_if_unreadable(metadata, *reads))
    return missing or None


def filter_names(applicability: DevicePhaseApplicability) -> str:
    """The filters that decide on the device, by display name (id when not in the snapshot)."""
    return ", ".join(
        f"'{condition.display_name or condition.filter_id}' ({condition.filter_type.value})"
        for condition in applicability.filters
    )


def harmful_payload_finding(
    view: ProfileView,
    subject: Subject,
    applicability: DevicePhaseApplicability,
    problem: str,
    reasons: tuple[str, ...],
    *,
    severity: Severity | None = None,
    related: tuple[Subject, ...] = (),
) -> Finding | None:
    """A payload that breaks the technician phase if it reaches it.

    Applies: FAIL. A filter decides: FAIL on the devices the filter lets through, naming the
    filter. Unknown: UNKNOWN. Does not apply: nothing to report (None). The finding names the
    devices the payload may reach (filters and exclusions honoured), not every device of the
    profile.
    """
    chain = (*reasons, *applicability.reasons)
    profile_name = view.profile.display_name
    # The devices at risk: those the payload may reach, filters and exclusions honoured.
    at_risk = applicability.device_reach().may_reach
    if applicability.verdict is Applicability.APPLIES:
        return view.finding.failed(
            subject,
            f"{problem} and applies in the technician phase of profile '{profile_name}'",
            chain,
            severity=severity,
            devices=at_risk,
            related=related,
        )
    if applicability.verdict is Applicability.CONDITIONAL:
        return view.finding.failed(
            subject,
            f"{problem} and applies in the technician phase of profile '{profile_name}' on "
            f"devices that filter {filter_names(applicability)} lets through",
            chain,
            severity=severity,
            devices=at_risk,
            related=related,
        )
    if applicability.verdict is Applicability.UNKNOWN:
        return view.finding.unknown(
            subject,
            f"{problem}; whether it reaches the technician phase of profile '{profile_name}' "
            "could not be determined",
            chain,
            devices=at_risk,
            related=related,
        )
    return None


def payload_subject(payload: AssignedPayload) -> Subject:
    """The subject naming a payload by its Graph kind."""
    kind = _SUBJECT_KINDS.get(type(payload))
    if kind is None:
        kind = _subject_kind(payload)
        _SUBJECT_KINDS[type(payload)] = kind
    return Subject(kind, payload.id, payload.display_name)


# Payload class -> subject type, filled on first use (every payload rule asks per profile).
_SUBJECT_KINDS: dict[type, str] = {}


def _subject_kind(payload: AssignedPayload) -> str:
    if isinstance(payload, MobileApp):
        return "mobileApp"
    if isinstance(payload, DeviceConfiguration):
        return "deviceConfiguration"
    if isinstance(payload, SettingsCatalogPolicy):
        return "configurationPolicy"
    if isinstance(payload, PlatformScript):
        return "deviceManagementScript"
    if isinstance(payload, CompliancePolicy):
        return "deviceCompliancePolicy"
    return "payload"
