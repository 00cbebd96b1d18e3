"""The tenant's device registration policy, shared by ENR-005 and ENR-006."""

from __future__ import annotations

from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Subject
from rules.tenant_collections import DEVICE_REGISTRATION_POLICY
from rules.tenant_objects import DeviceRegistrationPolicy


def registration_policy(
    context: RuleContext, metadata: RuleMetadata
) -> tuple[DeviceRegistrationPolicy | None, tuple[Finding, ...]]:
    """The policy, or the UNKNOWN findings saying why it is not known."""
    missing = tuple(context.unknown_if_unreadable(metadata, DEVICE_REGISTRATION_POLICY))
    if missing:
        return None, missing
    policies = context.snapshot.device_registration_policies or ()
    if len(policies) != 1:
        unknown = FindingBuilder(metadata).unknown(
            context.tenant_subject,
            "cannot be evaluated: the snapshot holds "
            f"{len(policies)} device registration policies, Graph serves exactly one",
            (f"{DEVICE_REGISTRATION_POLICY} holds {len(policies)} object(s)",),
        )
        return None, (unknown,)
    return policies[0], ()


def policy_subject(policy: DeviceRegistrationPolicy) -> Subject:
    name = policy.raw.get("displayName")
    return Subject(
        "deviceRegistrationPolicy",
        policy.id,
        name if isinstance(name, str) and name else "Device Registration Policy",
    )
