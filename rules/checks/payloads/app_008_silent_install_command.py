"""APP-008: Win32 apps of the technician phase install silently, without an interactive wrapper."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from rules.applicability import Applicability
from rules.checks.payloads.app_facts import is_win32
from rules.checks.payloads.device_phase import (
    harmful_payload_finding,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.graph_json import optional_str
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS, MOBILE_APPS

METADATA = RuleMetadata(
    id="APP-008",
    title="Win32 apps of the technician phase install silently",
    severity=Severity.WARNING,
    rationale=(
        "Microsoft Intune does not support interactive application installations; the install "
        "command must install the app silently (Add a Win32 app). In the technician phase "
        "nobody is signed in to answer a prompt, so an interactive installer waits until the "
        "ESP times out. The command is checked with heuristics: ServiceUI.exe, msiexec without "
        "a quiet switch (/q, /qn, /qb, /quiet), and the PowerShell App Deployment Toolkit in "
        "interactive mode."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the app > Properties > Program: make "
        "the install command silent (msiexec /qn, the installer's silent switch, "
        "-DeployMode Silent) and drop ServiceUI.exe."
    ),
    references=("https://learn.microsoft.com/intune/intune-service/apps/apps-win32-add",),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
    inference=True,
)

_SERVICE_UI: Final = re.compile(r"serviceui(\.exe)?\b", re.IGNORECASE)
_MSIEXEC: Final = re.compile(r"\bmsiexec(\.exe)?\b", re.IGNORECASE)
# /q, /qn, /qb (with their +, - and ! modifiers) and /quiet; /qf and /qr show a full or
# reduced user interface and wait for input.
_MSI_QUIET: Final = re.compile(r"(?:^|\s)[/-](?:quiet|q(?:n|b)?[+!-]*)(?=\s|$|\")", re.IGNORECASE)
_PSADT_INTERACTIVE: Final = re.compile(r"-DeployMode\s+[\"']?Interactive\b", re.IGNORECASE)


def interactive_markers(command: str) -> list[str]:
    """What makes an install command interactive (empty: it looks silent)."""
    markers = []
    if _SERVICE_UI.search(command):
        markers.append("it runs through ServiceUI.exe to show the installer to a user")
    if _MSIEXEC.search(command) and not _MSI_QUIET.search(command):
        markers.append("msiexec runs without a quiet switch (/q, /qn, /qb or /quiet)")
    if _PSADT_INTERACTIVE.search(command):
        markers.append("the App Deployment Toolkit runs with -DeployMode Interactive")
    return markers


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    win32_apps = [app for app in context.snapshot.mobile_apps or () if is_win32(app)]
    for view in profile_views(context, METADATA):
        for app in win32_apps:
            applicability = view.applicability(app)
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                continue
            subject = payload_subject(app)
            command = optional_str(app.raw, "installCommandLine")
            if not command:
                yield view.finding.unknown(
                    subject,
                    f"the install command of '{app.display_name}' is not in the snapshot",
                    ("installCommandLine is empty or missing", *applicability.reasons),
                    devices=view.devices,
                )
                continue
            markers = interactive_markers(command)
            if markers:
                finding = harmful_payload_finding(
                    view,
                    subject,
                    applicability,
                    f"the install command of '{app.display_name}' looks interactive",
                    (f"install command: {command}", *markers),
                )
                if finding is not None:
                    yield finding
            else:
                yield view.finding.passed(
                    subject,
                    f"the install command of '{app.display_name}' looks silent",
                    (f"install command: {command}", *applicability.reasons),
                    devices=view.devices,
                )
