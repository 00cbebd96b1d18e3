"""The hybrid-join pre-provisioning profiles the HYB rules are about, shared by those rules."""

from __future__ import annotations

from typing import Final

from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata
from rules.tenant_collections import AUTOPILOT_PROFILES
from rules.tenant_objects import AutopilotProfile

DOMAIN_JOIN_CONFIGURATION_TYPE: Final = "#microsoft.graph.windowsDomainJoinConfiguration"


def hybrid_profiles_or_verdict(
    context: RuleContext, metadata: RuleMetadata
) -> tuple[AutopilotProfile, ...] | Finding:
    """The hybrid pre-provisioning profiles, or the finding that says why there is nothing to do.

    UNKNOWN when the profiles could not be read; NOT_APPLICABLE when none is hybrid.
    """
    unknown = tuple(context.unknown_if_unreadable(metadata, AUTOPILOT_PROFILES))
    if unknown:
        return unknown[0]
    hybrid = tuple(
        profile
        for profile in context.targeting.preprovisioning_profiles() or ()
        if profile.is_hybrid
    )
    if hybrid:
        return hybrid
    return FindingBuilder(metadata).not_applicable(
        context.tenant_subject,
        "no Microsoft Entra hybrid join profile allows pre-provisioning",
    )


def is_domain_join_configuration(odata_type: str | None) -> bool:
    return (odata_type or "").casefold() == DOMAIN_JOIN_CONFIGURATION_TYPE.casefold()
