"""Per pre-provisioning profile: the device ESP that shows progress, or the finding to report.

ESP-006..009 read one setting of the ESP a profile's devices get in the device phase. They
share this walk so they agree with ESP-001 about which ESP that is (the engine's
`effective_esp`) and say UNKNOWN, never PASS, when it cannot be told.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rules.checks.profiles_and_esp.esp_settings import esp_subject, shows_progress
from rules.checks.profiles_and_esp.profiles_under_check import (
    ProfileUnderCheck,
    effective_esp_or_unknown,
    profiles_under_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Subject
from rules.tenant_collections import ENROLLMENT_CONFIGURATIONS
from rules.tenant_objects import EnrollmentConfiguration


@dataclass(frozen=True, slots=True)
class ProfileEsp:
    item: ProfileUnderCheck
    esp: EnrollmentConfiguration
    subject: Subject
    reasons: tuple[str, ...]

    @property
    def related(self) -> tuple[Subject, ...]:
        return (self.item.subject,)


def showing_esps(
    context: RuleContext, metadata: RuleMetadata, *reads: str
) -> Iterator[Finding | ProfileEsp]:
    """Each pre-provisioning profile's device ESP (and any a filter may give instead) when it
    shows progress.

    No ESP, or one that shows no progress, has no settings to judge (ESP-001 reports it).
    """
    for item in profiles_under_check(
        context, metadata, ENROLLMENT_CONFIGURATIONS, *reads, needs_targeting=False
    ):
        if not isinstance(item, ProfileUnderCheck):
            yield item
            continue
        effective = effective_esp_or_unknown(context, item)
        if isinstance(effective, Finding):
            yield effective
            continue
        if effective.esp is None:
            continue
        # With a filter deciding, any of the candidate ESPs may be the one a device gets.
        for esp in (*effective.undecided, effective.esp):
            if shows_progress(esp) is not False:
                yield ProfileEsp(item, esp, esp_subject(esp), effective.reasons)
