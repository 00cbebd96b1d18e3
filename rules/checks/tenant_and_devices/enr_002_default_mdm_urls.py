"""ENR-002: the Intune MDM configuration keeps its default URLs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.tenant_and_devices.enr_001_mdm_user_scope import intune_policy, mdm_unread
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import MDM_POLICIES

METADATA = RuleMetadata(
    id="ENR-002",
    title="The Intune MDM configuration keeps the default terms of use, discovery and "
    "compliance URLs",
    severity=Severity.WARNING,
    rationale=(
        "windows-autopilot-hybrid.md: 'Use the default values in the MDM Terms of use URL, MDM "
        "Discovery URL, and MDM Compliance URL boxes'; a wrong discovery URL sends the device "
        "to an enrollment server that is not Intune, and the troubleshooting FAQ ties 'Can't "
        "connect to the URL of your organization's MDM terms of use' to this configuration. "
        "The URLs are on policies/mobileDeviceManagementPolicies (Graph beta, delegated "
        "callers only)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Automatic Enrollment: "
        "select 'Restore default MDM URLs'."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/windows-autopilot-hybrid",
        "https://learn.microsoft.com/mem/intune/enrollment/windows-enroll",
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
    ),
    graph_reads=(MDM_POLICIES,),
    permissions=("Policy.Read.All (delegated)",),
)

# The values 'Restore default MDM URLs' writes (windows-enroll.md; Graph's Intune entry).
DEFAULT_URLS: Final = {
    "discoveryUrl": "https://enrollment.manage.microsoft.com/enrollmentserver/discovery.svc",
    "termsOfUseUrl": "https://portal.manage.microsoft.com/TermsofUse.aspx",
    "complianceUrl": "https://portal.manage.microsoft.com/?portalAction=Compliance",
}


def evaluate(context: RuleContext) -> Iterator[Finding]:
    finding = FindingBuilder(METADATA)
    unreadable = context.unreadable(MDM_POLICIES)
    if unreadable:
        cause = mdm_unread(context)
        yield finding.unknown(
            context.tenant_subject,
            f"cannot read the MDM URLs: {cause.why}",
            (*unreadable, cause.reason),
        )
        return
    policy = intune_policy(context.snapshot.mdm_policies or ())
    if policy is None:
        return  # no Intune MDM entry at all is ENR-001's failure
    subject = Subject("mdmPolicy", policy.id, policy.display_name)
    actual = {
        "discoveryUrl": policy.discovery_url,
        "termsOfUseUrl": policy.terms_of_use_url,
        "complianceUrl": policy.compliance_url,
    }
    missing = [name for name, value in actual.items() if value is None]
    changed = [
        f"{name} is '{value}', not the default '{DEFAULT_URLS[name]}'"
        for name, value in actual.items()
        if value is not None and _normal(value) != _normal(DEFAULT_URLS[name])
    ]
    if changed:
        severity = Severity.ERROR if any(c.startswith("discoveryUrl") for c in changed) else None
        yield finding.failed(
            subject,
            f"{len(changed)} MDM URL(s) of Microsoft Intune differ from the defaults",
            changed,
            severity=severity,
        )
    elif missing:
        yield finding.unknown(
            subject,
            "the MDM URLs are not all in the snapshot",
            [f"{name} is absent" for name in missing],
        )
    else:
        yield finding.passed(subject, "the Microsoft Intune MDM URLs are the defaults")


def _normal(url: str) -> str:
    return url.strip().rstrip("/").casefold()
