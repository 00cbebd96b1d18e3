"""ENR-009: no enabled Conditional Access policy blocks Intune enrollment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import CONDITIONAL_ACCESS_POLICIES
from rules.tenant_objects import ConditionalAccessPolicy

METADATA = RuleMetadata(
    id="ENR-009",
    title="No enabled Conditional Access policy blocks Intune enrollment",
    severity=Severity.ERROR,
    rationale=(
        "Autopilot known issues, device-based Conditional Access policies: 'The Intune "
        "Enrollment app must be excluded from any Conditional Access policy requiring Terms of "
        "Use', and with a policy that blocks all apps except an exclusion list, 'Microsoft "
        "Intune Enrollment and Microsoft Intune should be included in that exclusion list' to "
        "complete Autopilot enrollment (known-issues.md). Requiring a compliant device for all "
        "cloud apps is not a failure: Microsoft Intune Enrollment is excluded from it by "
        "default (same page). The policies are "
        "identity/conditionalAccess/policies (Microsoft Graph v1.0): state, "
        "conditions.applications, conditions.users, grantControls. Report-only policies are "
        "not enforced and pass."
    ),
    remediation=(
        "Microsoft Entra admin center > Protection > Conditional Access > Policies > the "
        "policy > Target resources > Exclude: add Microsoft Intune Enrollment and Microsoft "
        "Intune (or remove the terms of use grant from Microsoft Intune Enrollment)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy",
        "https://learn.microsoft.com/mem/intune/enrollment/multi-factor-authentication",
    ),
    graph_reads=(CONDITIONAL_ACCESS_POLICIES,),
    permissions=("Policy.Read.All",),
)

# First-party application ids (the same in every tenant).
INTUNE_ENROLLMENT_APP: Final = "d4ebce55-015a-49b5-a083-c84d1797ae8c"
INTUNE_APP: Final = "0000000a-0000-0000-c000-000000000000"
ENROLLMENT_APPS: Final = {
    INTUNE_ENROLLMENT_APP: "Microsoft Intune Enrollment",
    INTUNE_APP: "Microsoft Intune",
}
ENABLED: Final = "enabled"
_GUESTS: Final = "guestsorexternalusers"
REPORT_ONLY: Final = "enabledForReportingButNotEnforced"
# Conditions that narrow a policy to some sign-ins: whether the bench matches them is not in
# tenant data.
_NARROWING: Final = (
    "locations",
    "devices",
    "signInRiskLevels",
    "userRiskLevels",
    "servicePrincipalRiskLevels",
    "insiderRiskLevels",
    "authenticationFlows",
)


@dataclass(frozen=True, slots=True)
class _Reach:
    apps: tuple[str, ...]  # names of the enrollment apps the policy targets
    everyone: bool  # all users, nobody excluded
    users: str  # how the users are described
    narrowing: tuple[str, ...]  # conditions that restrict when it applies
    applies: bool  # False: platform or client app conditions rule Windows enrollment out


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, CONDITIONAL_ACCESS_POLICIES))
    if missing:
        yield from missing
        return
    finding = FindingBuilder(METADATA)
    policies = context.snapshot.conditional_access_policies or ()
    enforced = [policy for policy in policies if policy.state == ENABLED]
    for policy in policies:
        if policy.state == REPORT_ONLY:
            yield finding.passed(
                _subject(policy),
                f"Conditional Access policy '{policy.display_name}' is report-only: not enforced",
            )
    if not enforced:
        yield finding.passed(
            context.tenant_subject,
            "no enabled Conditional Access policy",
            (f"{len(policies)} policy(ies) in the tenant, none enabled",),
        )
        return
    for policy in enforced:
        yield _verdict(finding, policy)


def _verdict(finding: FindingBuilder, policy: ConditionalAccessPolicy) -> Finding:
    subject = _subject(policy)
    name = policy.display_name
    conditions = _mapping(policy.raw, "conditions")
    applications = _mapping(conditions, "applications")
    users = _mapping(conditions, "users")
    if not applications or not users:
        return finding.unknown(
            subject,
            f"Conditional Access policy '{name}' has no application or user conditions in the "
            "snapshot",
        )
    reach = _reach(conditions, applications, users)
    grants = _mapping(policy.raw, "grantControls")
    controls = {str(c).casefold() for c in _strings(grants, "builtInControls")}
    terms = _strings(grants, "termsOfUse")
    facts = [
        f"targets {', '.join(reach.apps) or 'neither enrollment app'}",
        f"users: {reach.users}",
        f"grant controls: {', '.join(sorted(controls)) or 'none'}"
        + (f"; {len(terms)} terms of use" if terms else ""),
    ]
    if reach.narrowing:
        facts.append(f"applies only under conditions: {', '.join(reach.narrowing)}")
    problem = None
    if reach.apps and reach.applies and "block" in controls:
        problem = f"blocks {' and '.join(reach.apps)}"
    elif INTUNE_ENROLLMENT_APP_NAME in reach.apps and reach.applies and terms:
        problem = "requires terms of use for Microsoft Intune Enrollment"
    if problem is None:
        return finding.passed(
            subject,
            f"Conditional Access policy '{name}' does not block Intune enrollment",
            facts,
        )
    if reach.everyone and not reach.narrowing:
        return finding.failed(
            subject,
            f"Conditional Access policy '{name}' {problem} for every user: Autopilot cannot "
            "enroll the device",
            facts,
        )
    return finding.failed(
        subject,
        f"Conditional Access policy '{name}' {problem} for {reach.users}"
        + (" under conditions" if reach.narrowing else "")
        + ": enrollment fails for the users and sign-ins it covers",
        facts,
        severity=Severity.WARNING,
    )


INTUNE_ENROLLMENT_APP_NAME: Final = ENROLLMENT_APPS[INTUNE_ENROLLMENT_APP]


def _reach(
    conditions: Mapping[str, Any], applications: Mapping[str, Any], users: Mapping[str, Any]
) -> _Reach:
    included = {value.casefold() for value in _strings(applications, "includeApplications")}
    excluded = {value.casefold() for value in _strings(applications, "excludeApplications")}
    apps = tuple(
        name
        for app_id, name in ENROLLMENT_APPS.items()
        if ("all" in included or app_id in included) and app_id not in excluded
    )
    include_users = {value.casefold() for value in _strings(users, "includeUsers")}
    scoped = [
        f"{len(values)} {label}"
        for label, values in (
            ("user(s)", [u for u in _strings(users, "includeUsers") if u.casefold() != "all"]),
            ("group(s)", _strings(users, "includeGroups")),
            ("role(s)", _strings(users, "includeRoles")),
        )
        if values
    ]
    # Excluding guests or external users exempts nobody who deploys a device.
    exclusions = sum(
        len([value for value in _strings(users, key) if value.casefold() != _GUESTS])
        for key in ("excludeUsers", "excludeGroups", "excludeRoles")
    )
    all_users = "all" in include_users
    if all_users:
        described = "all users" + (f" except {exclusions} exclusion(s)" if exclusions else "")
    elif scoped:
        described = "the included " + " and ".join(scoped)
    elif users.get("includeGuestsOrExternalUsers"):
        described = "guest or external users only"
    else:
        described = "no user"
    applies = (
        bool(all_users or scoped)
        and _platform_includes_windows(conditions)
        and (_client_apps_include_desktop(conditions))
    )
    narrowing = tuple(
        name
        for name in _NARROWING
        if (_locations_narrow(conditions) if name == "locations" else _set(conditions.get(name)))
    )
    return _Reach(apps, all_users and not exclusions, described, narrowing, applies)


def _locations_narrow(conditions: Mapping[str, Any]) -> bool:
    locations = _mapping(conditions, "locations")
    included = {value.casefold() for value in _strings(locations, "includeLocations")}
    return bool(locations) and (
        included not in (set(), {"all"}) or bool(_strings(locations, "excludeLocations"))
    )


def _platform_includes_windows(conditions: Mapping[str, Any]) -> bool:
    platforms = _mapping(conditions, "platforms")
    if not platforms:
        return True
    included = {value.casefold() for value in _strings(platforms, "includePlatforms")}
    excluded = {value.casefold() for value in _strings(platforms, "excludePlatforms")}
    return bool(included & {"all", "windows"}) and not excluded & {"all", "windows"}


def _client_apps_include_desktop(conditions: Mapping[str, Any]) -> bool:
    types = {value.casefold() for value in _strings(conditions, "clientAppTypes")}
    return not types or bool(types & {"all", "mobileappsanddesktopclients"})


def _set(value: object) -> bool:
    """Whether a condition restricts anything (an empty list or null does not)."""
    if isinstance(value, Mapping):
        return any(_set(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(item not in ("none", None) for item in value)
    return value not in (None, False, "", "none")


def _mapping(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = obj.get(name)
    return value if isinstance(value, Mapping) else {}


def _strings(obj: Mapping[str, Any], name: str) -> Sequence[str]:
    value = obj.get(name)
    if not isinstance(value, (list, tuple)):
        return ()
    return [item for item in value if isinstance(item, str)]


def _subject(policy: ConditionalAccessPolicy) -> Subject:
    return Subject("conditionalAccessPolicy", policy.id, policy.display_name)
