"""SCR-004: nothing creates another local administrator before a hybrid user-driven deployment
makes its user an administrator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.applicability import Applicability
from rules.checks.payloads.configuration_settings import (
    Configuration,
    SettingScan,
    configurations,
)
from rules.checks.payloads.device_phase import (
    ProfileView,
    harmful_payload_finding,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.checks.payloads.setting_specs import SettingSpec, named_always
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, RuleMetadata, Severity
from rules.graph_json import optional_mapping, optional_str
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    GROUPS,
    PLATFORM_SCRIPTS,
    SETTINGS_CATALOG_POLICIES,
)
from rules.tenant_objects import AutopilotProfile, PlatformScript

METADATA = RuleMetadata(
    id="SCR-004",
    title="No other local administrator is created before a hybrid deployment makes its user one",
    severity=Severity.WARNING,
    rationale=(
        "Known issue: Windows Autopilot user-driven Microsoft Entra hybrid deployments don't "
        "grant users Administrator rights even when the profile specifies it, when another user "
        "on the device already has Administrator rights - for example a PowerShell script or "
        "policy that creates another local account in the Administrators group; don't create "
        "another account until the Autopilot process is complete (Windows Autopilot known "
        "issues). Checked for hybrid pre-provisioning profiles whose user account type is "
        "Administrator: policies of the Accounts, LocalUsersAndGroups and RestrictedGroups CSPs "
        "(and their settings catalog settings) reaching the technician phase; platform scripts "
        "whose content the snapshot holds, for account-creating commands. A script whose content "
        "was not read leaves the verdict unknown."
    ),
    remediation=(
        "Microsoft Intune admin center > Endpoint security > Account protection (or Devices > "
        "Windows > Scripts and remediations) > the policy or script > Properties > Assignments: "
        "assign it so it applies after the Autopilot deployment completes (for example to the "
        "user, or to a group the device joins later)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/windows/client-management/mdm/accounts-csp",
        "https://learn.microsoft.com/windows/client-management/mdm/policy-csp-localusersandgroups",
    ),
    graph_reads=(
        AUTOPILOT_PROFILES,
        DEVICE_CONFIGURATIONS,
        SETTINGS_CATALOG_POLICIES,
        PLATFORM_SCRIPTS,
        GROUPS,
    ),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "DeviceManagementManagedDevices.Read.All",
        "GroupMember.Read.All",
    ),
    inference=True,
)

SPEC: Final = SettingSpec(
    oma_prefixes=(
        "/vendor/msft/accounts/users/",
        "/policy/config/localusersandgroups/",
        "/policy/config/restrictedgroups/",
    ),
    oma_test=named_always,
    catalog_prefixes=(
        "device_vendor_msft_accounts_users_",
        "device_vendor_msft_policy_config_localusersandgroups_",
        "device_vendor_msft_policy_config_restrictedgroups_",
    ),
    catalog_test=named_always,
)
# Commands that create a local account or add one to a local group (casefolded).
ACCOUNT_COMMANDS: Final = (
    "new-localuser",
    "add-localgroupmember",
    "net user ",
    "net localgroup administrators",
    "net.exe user ",
    "net.exe localgroup administrators",
)


def _administrator_hybrid(profile: AutopilotProfile) -> bool:
    settings = optional_mapping(profile.raw, "outOfBoxExperienceSetting") or optional_mapping(
        profile.raw, "outOfBoxExperienceSettings"
    )
    user_type = (optional_str(settings, "userType") or "") if settings else ""
    return profile.is_hybrid and user_type.casefold() == "administrator"


def script_creates_account(script: PlatformScript) -> bool | None:
    """Whether the script's content creates a local account; None when the content wasn't read."""
    encoded = optional_str(script.raw, "scriptContent")
    if not encoded:
        return None
    decoded = _base64(encoded)
    if decoded is None:
        return None
    text = decoded.decode("utf-8", errors="replace")
    folded = text.casefold()
    return any(command in folded for command in ACCOUNT_COMMANDS)


_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_VALUES: Final = {character: index for index, character in enumerate(_ALPHABET)}


def _base64(text: str) -> bytes | None:
    """Standard base64 (scriptContent is Edm.Binary); None when it isn't valid base64."""
    body = "".join(text.split()).rstrip("=")
    if any(character not in _VALUES for character in body) or len(body) % 4 == 1:
        return None
    bits = 0
    count = 0
    out = bytearray()
    for character in body:
        bits = (bits << 6) | _VALUES[character]
        count += 6
        if count >= 8:
            count -= 8
            out.append((bits >> count) & 0xFF)
    return bytes(out)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(
        context, METADATA, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES, PLATFORM_SCRIPTS
    )
    if stop is not None:
        yield from stop
        return
    scans: list[tuple[Configuration, SettingScan]] = [
        (c, SPEC.scan(c)) for c in configurations(context)
    ]
    scans = [(c, scan) for c, scan in scans if scan.touches_setting]
    scripts = context.snapshot.platform_scripts or ()
    for view in profile_views(context, METADATA):
        if _administrator_hybrid(view.profile):
            yield from _check(view, scans, scripts)


def _check(
    view: ProfileView,
    scans: list[tuple[Configuration, SettingScan]],
    scripts: tuple[PlatformScript, ...],
) -> Iterator[Finding]:
    facts = (
        f"profile '{view.profile.display_name}' is hybrid and makes its user an administrator",
    )
    creators = 0
    for configuration, scan in scans:
        applicability = view.applicability(configuration)
        if applicability.verdict is Applicability.DOES_NOT_APPLY:
            continue
        subject = payload_subject(configuration)
        if scan.harmful:
            finding = harmful_payload_finding(
                view,
                subject,
                applicability,
                f"'{configuration.display_name}' manages local accounts or group members",
                (*facts, *scan.harmful),
            )
            if finding is not None:
                creators += 1
                yield finding
        elif scan.unreadable:
            creators += 1
            yield view.finding.unknown(
                subject,
                f"whether '{configuration.display_name}' creates local accounts could not be read",
                (*facts, *scan.unreadable, *applicability.reasons),
                devices=view.devices,
            )
    for script in scripts:
        applicability = view.applicability(script)
        if applicability.verdict is Applicability.DOES_NOT_APPLY:
            continue
        creates = script_creates_account(script)
        subject = payload_subject(script)
        if creates is None:
            creators += 1
            yield view.finding.unknown(
                subject,
                f"whether script '{script.display_name}' creates a local account could not be "
                "read (its content is not in the snapshot)",
                (*facts, *applicability.reasons),
                devices=view.devices,
            )
        elif creates:
            finding = harmful_payload_finding(
                view,
                subject,
                applicability,
                f"script '{script.display_name}' creates a local account or adds a group member",
                facts,
            )
            if finding is not None:
                creators += 1
                yield finding
    if not creators:
        yield view.finding.passed(
            profile_subject(view.profile),
            f"nothing that reaches the devices of hybrid profile '{view.profile.display_name}' "
            "creates local accounts",
            facts,
            devices=view.devices,
        )
