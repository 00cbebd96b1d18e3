"""ENR-001: automatic MDM enrollment into Intune is scoped to all users."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import MDM_POLICIES, NOT_IN_EXPORT
from rules.tenant_objects import MdmPolicy

METADATA = RuleMetadata(
    id="ENR-001",
    title="Automatic MDM enrollment into Intune is scoped to all users",
    severity=Severity.BLOCKER,
    rationale=(
        "Automatic MDM enrollment is a configuration requirement of Windows Autopilot "
        "(requirements.md); with MDM user scope None, automatic MDM enrollment is disabled for "
        "all users (windows-enroll.md) and the device cannot enroll. Microsoft documents All or "
        "Some (automatic-intune-enrollment.md): with Some, only members of the included groups "
        "enroll, so it is a warning rather than a failure. The policy is read from "
        "policies/mobileDeviceManagementPolicies, which Graph serves to delegated callers only."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Automatic "
        "Enrollment: set MDM user scope to All (or Some, with every deploying user in the "
        "selected groups)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/requirements",
        "https://learn.microsoft.com/mem/intune/enrollment/windows-enroll",
        "https://learn.microsoft.com/graph/api/mobiledevicemanagementpolicies-list?view=graph-rest-beta",
    ),
    graph_reads=(MDM_POLICIES,),
    # Application permissions are not supported on this API: a delegated token is needed.
    permissions=("Policy.Read.All (delegated)",),
)

# The Intune MDM application's app id, which is also the policy id Graph lists it under.
INTUNE_MDM_APP_ID: Final = "0000000a-0000-0000-c000-000000000000"
INTUNE_DISPLAY_NAME: Final = "Microsoft Intune"
SCOPES: Final = ("all", "selected", "none")


def evaluate(context: RuleContext) -> Iterator[Finding]:
    unreadable = context.unreadable(MDM_POLICIES)
    finding = FindingBuilder(METADATA)
    if unreadable:
        yield _attested_or_unknown(context, finding, unreadable)
        return
    policy = intune_policy(context.snapshot.mdm_policies or ())
    if policy is None:
        yield finding.failed(
            context.tenant_subject,
            "Microsoft Intune is not configured for automatic MDM enrollment",
            ("no Microsoft Intune entry in the tenant's MDM applications",),
        )
        return
    yield _verdict(finding, policy)


def intune_policy(policies: tuple[MdmPolicy, ...]) -> MdmPolicy | None:
    for policy in policies:
        if policy.id == INTUNE_MDM_APP_ID or policy.display_name == INTUNE_DISPLAY_NAME:
            return policy
    return None


def _verdict(finding: FindingBuilder, policy: MdmPolicy) -> Finding:
    subject = Subject("mdmPolicy", policy.id, policy.display_name)
    scope = (policy.applies_to or "").casefold()
    reasons = [f"appliesTo is '{policy.applies_to}'", f"isValid is {policy.is_valid}"]
    if scope == "selected":
        reasons.append(_included_groups(policy))
    if scope == "none" or (scope == "selected" and policy.included_groups == ()):
        return finding.failed(
            subject,
            "automatic MDM enrollment into Intune is off for all users (MDM user scope None)",
            reasons,
        )
    if policy.is_valid is False:
        return finding.failed(
            subject,
            "Entra ID marks the Microsoft Intune MDM configuration as not valid",
            reasons,
            severity=Severity.ERROR,
        )
    if scope == "selected":
        return finding.failed(
            subject,
            "automatic MDM enrollment into Intune applies to some users only: every user who "
            "deploys a device must be in the selected groups",
            reasons,
            severity=Severity.WARNING,
        )
    if scope == "all":
        return finding.passed(
            subject, "automatic MDM enrollment into Intune applies to all users", reasons
        )
    return finding.unknown(
        subject, f"MDM user scope '{policy.applies_to}' is not one Greenscreen knows", reasons
    )


def _included_groups(policy: MdmPolicy) -> str:
    if policy.included_groups is None:
        return "the included groups could not be read"
    if not policy.included_groups:
        return "no group is included"
    names = ", ".join(f"'{group.display_name or group.id}'" for group in policy.included_groups)
    return f"included groups: {names}"


@dataclass(frozen=True, slots=True)
class MdmUnread:
    """Why the MDM policies are not in the snapshot, from the error the snapshot records."""

    # Completes "cannot read the MDM ...: ".
    why: str
    # One reason line for the finding.
    reason: str
    # Graph refused the read: a delegated token (or an attested value) would answer it.
    refused: bool = False


def mdm_unread(context: RuleContext) -> MdmUnread:
    """The recorded error decides the wording: a backup that does not hold the policies, a
    refusal (Graph serves them to delegated callers only), or another failed read."""
    error = context.snapshot.collection_error(MDM_POLICIES)
    if error is None:
        return MdmUnread("not in the snapshot", f"{MDM_POLICIES} is not in the snapshot")
    if error.code == NOT_IN_EXPORT:
        return MdmUnread(
            "not in the backup the snapshot was imported from",
            "Intune backups do not hold the MDM enrollment settings "
            f"({MDM_POLICIES}): check the tenant itself, or attest the value",
        )
    if error.status in (401, 403):
        return MdmUnread(
            "Graph serves the MDM policies to delegated callers only",
            "Graph serves mobileDeviceManagementPolicies to delegated callers only; an app-only "
            "identity cannot read it",
            refused=True,
        )
    return MdmUnread(
        f"Graph answered {error.status}",
        f"reading {MDM_POLICIES} failed ({error.status} {error.message})",
    )


def _attested_or_unknown(
    context: RuleContext, finding: FindingBuilder, unreadable: tuple[str, ...]
) -> Finding:
    settings = context.settings
    attested = settings.attested_mdm_user_scope
    cause = mdm_unread(context)
    why = (*unreadable, cause.reason)
    if attested is None:
        if settings.mdm_attestation_lapsed:
            return finding.unknown(
                context.tenant_subject,
                "cannot read the MDM user scope, and its attestation no longer holds",
                (*why, settings.mdm_attestation_lapsed),
            )
        return finding.unknown(
            context.tenant_subject,
            "cannot read the MDM user scope: "
            + ("it needs a delegated token or an attested value" if cause.refused else cause.why),
            why,
        )
    scope = attested.casefold()
    basis = f" ({settings.mdm_attestation_basis})" if settings.mdm_attestation_basis else ""
    reasons = (*why, f"the operator attests MDM user scope '{attested}'{basis}")
    if scope == "all":
        return finding.passed(
            context.tenant_subject,
            "automatic MDM enrollment into Intune applies to all users (attested)",
            reasons,
        )
    if scope == "selected":
        return finding.failed(
            context.tenant_subject,
            "automatic MDM enrollment into Intune applies to some users only (attested)",
            reasons,
            severity=Severity.WARNING,
        )
    if scope == "none":
        return finding.failed(
            context.tenant_subject,
            "automatic MDM enrollment into Intune is off for all users (attested)",
            reasons,
        )
    return finding.unknown(
        context.tenant_subject,
        f"the attested MDM user scope '{attested}' is not one of {', '.join(SCOPES)}",
        reasons,
    )
