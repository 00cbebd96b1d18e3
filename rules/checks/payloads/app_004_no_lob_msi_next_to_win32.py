"""APP-004: line-of-business MSI (and AppX/MSIX) apps are not required next to Win32 apps."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability
from rules.checks.payloads.app_facts import APPX_LOB_TYPES, MSI_LOB_TYPE, app_type, is_win32
from rules.checks.payloads.device_phase import (
    ProfileView,
    harmful_payload_finding,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS, MOBILE_APPS
from rules.tenant_objects import MobileApp

METADATA = RuleMetadata(
    id="APP-004",
    title="No line-of-business MSI app is required next to Win32 apps for the same devices",
    severity=Severity.ERROR,
    rationale=(
        "Both LOB (MSI) and Win32 installers use TrustedInstaller; when the Intune Management "
        "Extension starts a Win32 install while an MSI LOB app installs, one of them fails "
        "with 'another installation is in progress' and the ESP fails, so Microsoft says not "
        "to mix LOB and Win32 apps with Windows Autopilot (Windows Autopilot pre-provisioning; "
        "Enrollment Status Page; Add a Windows line-of-business app). ERROR for LOB MSI; "
        "WARNING for AppX/MSIX LOB apps next to Win32 apps."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > Add > Windows app (Win32): repackage "
        "the MSI as a Win32 app (.intunewin), assign it instead, and remove the LOB app's "
        "assignments."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/intune/intune-service/apps/lob-apps-windows",
        "https://learn.microsoft.com/intune/intune-service/apps/apps-win32-app-management",
    ),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)

_REACHES = (Applicability.APPLIES, Applicability.CONDITIONAL)


def _names(apps: list[MobileApp]) -> str:
    shown = ", ".join(f"'{app.display_name}'" for app in apps[:3])
    return shown + (f" and {len(apps) - 3} more" if len(apps) > 3 else "")


def _profile_findings(view: ProfileView, apps: tuple[MobileApp, ...]) -> Iterator[Finding]:
    win32_reaching: list[MobileApp] = []
    win32_unknown: list[MobileApp] = []
    lob_apps: list[MobileApp] = []
    for app in apps:
        if is_win32(app):
            verdict = view.applicability(app).verdict
            if verdict in _REACHES:
                win32_reaching.append(app)
            elif verdict is Applicability.UNKNOWN:
                win32_unknown.append(app)
        elif app_type(app) == MSI_LOB_TYPE or app_type(app) in APPX_LOB_TYPES:
            lob_apps.append(app)
    checked_any = False
    for lob in lob_apps:
        applicability = view.applicability(lob)
        if applicability.verdict is Applicability.DOES_NOT_APPLY:
            continue
        checked_any = True
        is_msi = app_type(lob) == MSI_LOB_TYPE
        family = "line-of-business MSI" if is_msi else "AppX/MSIX line-of-business app"
        subject = payload_subject(lob)
        if win32_reaching:
            finding = harmful_payload_finding(
                view,
                subject,
                applicability,
                f"'{lob.display_name}' is a {family} required next to Win32 apps "
                f"{_names(win32_reaching)}",
                (
                    f"{len(win32_reaching)} Win32 app(s) are required for the same devices",
                    f"'{lob.display_name}' is a {family} ({lob.odata_type})",
                ),
                severity=Severity.ERROR if is_msi else Severity.WARNING,
                related=tuple(payload_subject(app) for app in win32_reaching),
            )
            if finding is not None:
                yield finding
        elif win32_unknown or applicability.verdict is Applicability.UNKNOWN:
            yield view.finding.unknown(
                subject,
                f"whether {family} '{lob.display_name}' is installed next to Win32 apps could "
                "not be determined",
                (
                    *(f"Win32 app '{app.display_name}' might apply" for app in win32_unknown),
                    *applicability.reasons,
                ),
                devices=view.devices,
                related=tuple(payload_subject(app) for app in win32_unknown),
            )
        else:
            yield view.finding.passed(
                subject,
                f"{family} '{lob.display_name}' is not mixed with Win32 apps",
                ("no Win32 app is required for these devices", *applicability.reasons),
                devices=view.devices,
            )
    if not checked_any:
        yield view.finding.passed(
            profile_subject(view.profile),
            f"no line-of-business MSI or AppX app is required for the devices of profile "
            f"'{view.profile.display_name}'",
            (f"{len(win32_reaching)} Win32 app(s) are required for them",),
            devices=view.devices,
        )


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    apps = context.snapshot.mobile_apps or ()
    for view in profile_views(context, METADATA):
        yield from _profile_findings(view, apps)
