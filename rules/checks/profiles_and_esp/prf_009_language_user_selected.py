"""PRF-009: pre-provisioning profiles leave the language for the technician to select."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.profiles_and_esp.profiles_under_check import (
    ProfileUnderCheck,
    profiles_under_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.graph_json import optional_bool, optional_mapping, optional_str
from rules.tenant_collections import AUTOPILOT_PROFILES

METADATA = RuleMetadata(
    id="PRF-009",
    title="Pre-provisioning profiles leave the language (region) to the technician",
    severity=Severity.WARNING,
    rationale=(
        "'To ensure easy access into pre-provisioning mode, select the language mode as user "
        "specified' in the Autopilot profile: the technician presses the Windows key five times "
        "on the first OOBE screen (Windows Autopilot pre-provisioning). A preset Language "
        "(Region) with 'Automatically configure keyboard' requires Ethernet: Wi-Fi isn't "
        "supported because a language, locale and keyboard must be chosen to make the Wi-Fi "
        "connection (Windows Autopilot profiles) - WARNING. A preset language alone is INFO. "
        "Graph documents os-default as the operating system default; it and user-select are "
        "treated as not preset."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment Profiles > "
        "the profile > Properties > Out-of-box experience (OOBE): set Language (Region) to User "
        "select (or Operating system default) and 'Automatically configure keyboard' to No, or "
        "provision on Ethernet."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/autopilot/profiles",
    ),
    graph_reads=(AUTOPILOT_PROFILES,),
    permissions=("DeviceManagementServiceConfig.Read.All",),
)

NOT_PRESET: Final = frozenset({"", "os-default", "user-select"})


def evaluate(context: RuleContext) -> Iterator[Finding]:
    for item in profiles_under_check(context, METADATA, needs_targeting=False):
        yield _check(item) if isinstance(item, ProfileUnderCheck) else item


def _keyboard_skipped(item: ProfileUnderCheck) -> bool | None:
    raw = item.profile.raw
    for key in ("outOfBoxExperienceSetting", "outOfBoxExperienceSettings"):
        settings = optional_mapping(raw, key)
        if settings is not None:
            for name in ("keyboardSelectionPageSkipped", "skipKeyboardSelectionPage"):
                value = optional_bool(settings, name)
                if value is not None:
                    return value
    return None


def _check(item: ProfileUnderCheck) -> Finding:
    profile = item.profile
    locale = optional_str(profile.raw, "locale")
    if locale is None:
        locale = optional_str(profile.raw, "language")
    if locale is None:
        return item.finding.unknown(
            item.subject,
            f"profile '{profile.display_name}' does not report its language (locale)",
            ("locale is missing",),
            devices=item.devices,
        )
    if locale.strip().casefold() in NOT_PRESET:
        return item.finding.passed(
            item.subject,
            f"profile '{profile.display_name}' does not preset the language",
            (f"locale is '{locale}'",),
            devices=item.devices,
        )
    skipped = _keyboard_skipped(item)
    facts = (f"locale is '{locale}'", f"keyboardSelectionPageSkipped is {skipped}")
    if skipped is None:
        return item.finding.unknown(
            item.subject,
            f"profile '{profile.display_name}' presets '{locale}' and does not report whether it "
            "skips the keyboard page",
            facts,
            devices=item.devices,
        )
    if skipped:
        return item.finding.failed(
            item.subject,
            f"profile '{profile.display_name}' presets '{locale}' and skips the keyboard page: "
            "technician benches need Ethernet, Wi-Fi can't be joined",
            facts,
            devices=item.devices,
        )
    return item.finding.failed(
        item.subject,
        f"profile '{profile.display_name}' presets '{locale}': Microsoft recommends user select "
        "for easy access to pre-provisioning mode",
        facts,
        severity=Severity.INFO,
        devices=item.devices,
    )
