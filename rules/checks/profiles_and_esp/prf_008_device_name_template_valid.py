"""PRF-008: the device name template of every pre-provisioning profile yields valid names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from rules.checks.profiles_and_esp.profiles_under_check import (
    ProfileUnderCheck,
    profiles_under_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES

METADATA = RuleMetadata(
    id="PRF-008",
    title="The device name template of every pre-provisioning profile yields valid names",
    severity=Severity.ERROR,
    rationale=(
        "Names must be 15 characters or less, can have letters, numbers and hyphens, and can't "
        "be all numbers; %SERIAL% adds the serial number and %RAND:x% adds x random digits "
        "(Windows Autopilot profiles documentation). Hybrid joined devices take their name "
        "prefix from the domain join profile, so a template on a hybrid profile has no effect "
        "(Windows Autopilot hybrid join documentation)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment Profiles > "
        "the profile > Properties > Out-of-box experience (OOBE) > Apply device name template: "
        "use letters, digits and hyphens with %SERIAL% or %RAND:x%, 15 characters at most."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/profiles",
        "https://learn.microsoft.com/autopilot/windows-autopilot-hybrid",
    ),
    graph_reads=(AUTOPILOT_PROFILES, AUTOPILOT_DEVICES),
    permissions=("DeviceManagementServiceConfig.Read.All",),
)

MAX_NAME_LENGTH = 15
_MACRO = re.compile(r"%SERIAL%|%RAND:(\d+)%", re.IGNORECASE)
_ALLOWED_LITERAL = re.compile(r"[A-Za-z0-9-]*")


@dataclass(frozen=True, slots=True)
class _Template:
    literal: str  # the template without its macros
    random_digits: int
    has_serial: bool

    @property
    def fixed_length(self) -> int:
        return len(self.literal) + self.random_digits


def _parse(template: str) -> _Template:
    random_digits = sum(int(match.group(1)) for match in _MACRO.finditer(template) if match[1])
    has_serial = any(match[1] is None for match in _MACRO.finditer(template))
    return _Template(_MACRO.sub("", template), random_digits, has_serial)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    for item in profiles_under_check(context, METADATA, needs_targeting=False):
        if isinstance(item, ProfileUnderCheck):
            yield _check(context, item)
        else:
            yield item


def _check(context: RuleContext, item: ProfileUnderCheck) -> Finding:
    profile = item.profile
    template = profile.device_name_template or ""
    name = f"profile '{profile.display_name}'"
    if not template:
        return item.finding.passed(
            item.subject, f"{name} sets no device name template", devices=item.devices
        )
    reason = f"deviceNameTemplate is '{template}'"
    if profile.is_hybrid:
        return item.finding.failed(
            item.subject,
            f"hybrid join {name} sets a device name template, which hybrid joined devices "
            "ignore (their prefix comes from the domain join profile)",
            (reason,),
            severity=Severity.WARNING,
            devices=item.devices,
        )
    parsed = _parse(template)
    problems = _invalid(parsed)
    if problems:
        return item.finding.failed(
            item.subject,
            f"the device name template '{template}' of {name} is invalid: {problems[0]}",
            (reason, *problems),
            devices=item.devices,
        )
    too_long = _serials_too_long(context, item, parsed)
    if too_long:
        return item.finding.failed(
            item.subject,
            f"with the serial number, the device name template '{template}' of {name} exceeds "
            f"{MAX_NAME_LENGTH} characters for {len(too_long)} device(s)",
            (reason, f"names are limited to {MAX_NAME_LENGTH} characters"),
            severity=Severity.WARNING,
            devices=too_long,
        )
    if not parsed.has_serial and not parsed.random_digits:
        return item.finding.failed(
            item.subject,
            f"the device name template '{template}' of {name} has no %SERIAL% or %RAND:x%: "
            "every device gets the same name",
            (reason,),
            severity=Severity.WARNING,
            devices=item.devices,
        )
    return item.finding.passed(
        item.subject,
        f"the device name template '{template}' of {name} yields valid names",
        (reason,),
        devices=item.devices,
    )


def _invalid(parsed: _Template) -> list[str]:
    problems = []
    if "%" in parsed.literal:
        problems.append("it uses a macro other than %SERIAL% and %RAND:x%")
    elif not _ALLOWED_LITERAL.fullmatch(parsed.literal):
        problems.append("names may contain only letters, digits and hyphens")
    if parsed.fixed_length > MAX_NAME_LENGTH:
        problems.append(
            f"names would be {parsed.fixed_length} characters long, more than {MAX_NAME_LENGTH}"
        )
    if not parsed.has_serial and (not parsed.literal or parsed.literal.isdigit()):
        problems.append("names would be all numbers")
    return problems


def _serials_too_long(
    context: RuleContext, item: ProfileUnderCheck, parsed: _Template
) -> list[str]:
    if not parsed.has_serial:
        return []
    too_long = []
    for device_id in sorted(item.devices):
        device = context.snapshot.autopilot_device(device_id)
        serial = device.serial_number if device else None
        if serial and parsed.fixed_length + len(serial) > MAX_NAME_LENGTH:
            too_long.append(device_id)
    return too_long
