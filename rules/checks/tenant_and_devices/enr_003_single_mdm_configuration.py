"""ENR-003: only one MDM application is active for automatic enrollment."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.tenant_and_devices.enr_001_mdm_user_scope import mdm_unread
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import MDM_POLICIES

METADATA = RuleMetadata(
    id="ENR-003",
    title="Only one MDM application is active for automatic enrollment",
    severity=Severity.ERROR,
    rationale=(
        "Self-deploying and pre-provisioning enroll with the device token; they fail with "
        "0xc1036501 'The device can't do an automatic MDM enrollment because there are "
        "multiple MDM configurations in Microsoft Entra ID' (Windows Autopilot known issues; "
        "pre-provision.md for the device-token path)."
    ),
    remediation=(
        "Microsoft Entra admin center > Mobility (MDM and WIP): set the MDM user scope of every "
        "MDM application other than Microsoft Intune to None."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/autopilot/pre-provision",
    ),
    graph_reads=(MDM_POLICIES,),
    # Application permissions are not supported on this API: a delegated token is needed.
    permissions=("Policy.Read.All (delegated)",),
)

_KNOWN_SCOPES = ("all", "selected", "none")


def evaluate(context: RuleContext) -> Iterator[Finding]:
    unreadable = context.unreadable(MDM_POLICIES)
    finding = FindingBuilder(METADATA)
    if unreadable:
        yield _attested_or_unknown(context, finding, unreadable)
        return
    policies = context.snapshot.mdm_policies or ()
    active = [p for p in policies if (p.applies_to or "").casefold() in ("all", "selected")]
    undecided = [p for p in policies if (p.applies_to or "").casefold() not in _KNOWN_SCOPES]
    reasons = tuple(f"'{p.display_name}' appliesTo is '{p.applies_to}'" for p in policies)
    related = tuple(Subject("mdmPolicy", p.id, p.display_name) for p in policies)
    if len(active) > 1:
        names = ", ".join(f"'{p.display_name}'" for p in active)
        yield finding.failed(
            context.tenant_subject,
            f"{len(active)} MDM applications are active for automatic enrollment ({names}): "
            "device-token enrollment fails with 0xc1036501",
            reasons,
            related=related,
        )
    elif undecided and len(active) + len(undecided) > 1:
        yield finding.unknown(
            context.tenant_subject,
            "cannot tell how many MDM applications are active: some have no known user scope",
            reasons,
            related=related,
        )
    else:
        yield finding.passed(
            context.tenant_subject,
            f"no more than one MDM application is active for automatic enrollment "
            f"({len(active)} active)",
            reasons or ("no MDM application is configured",),
            related=related,
        )


def _attested_or_unknown(
    context: RuleContext, finding: FindingBuilder, unreadable: tuple[str, ...]
) -> Finding:
    """The operator's attestation stands in for the delegated-only read: whether an MDM
    application other than Intune is active, next to Intune's attested scope."""
    settings = context.settings
    cause = mdm_unread(context)
    why = (*unreadable, cause.reason)
    others = settings.attested_other_mdm_apps
    intune = settings.attested_mdm_user_scope
    if others is None or intune is None:
        lapsed = (settings.mdm_attestation_lapsed,) if settings.mdm_attestation_lapsed else ()
        return finding.unknown(
            context.tenant_subject,
            f"cannot count the MDM configurations: {cause.why}"
            + (", and their attestation no longer holds" if lapsed else ""),
            (*why, *lapsed),
        )
    basis = f" ({settings.mdm_attestation_basis})" if settings.mdm_attestation_basis else ""
    reasons = (
        *why,
        f"the operator attests MDM user scope '{intune}' and other MDM applications "
        f"'{others}'{basis}",
    )
    intune_active = intune.casefold() in ("all", "selected")
    if others.casefold() == "active" and intune_active:
        return finding.failed(
            context.tenant_subject,
            "more than one MDM application is active for automatic enrollment (attested): "
            "device-token enrollment fails with 0xc1036501",
            reasons,
        )
    if others.casefold() in ("none", "active"):
        active = int(intune_active) + int(others.casefold() == "active")
        return finding.passed(
            context.tenant_subject,
            f"no more than one MDM application is active for automatic enrollment "
            f"({active} active, attested)",
            reasons,
        )
    return finding.unknown(
        context.tenant_subject,
        f"the attested value for other MDM applications '{others}' is not none or active",
        reasons,
    )
