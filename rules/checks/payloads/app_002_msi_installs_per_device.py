"""APP-002: MSI apps required in the technician phase install per device, not per user."""

from __future__ import annotations

from collections.abc import Iterator

from rules.app_context import InstallContext, InstallContextVerdict, install_context
from rules.applicability import Applicability
from rules.checks.payloads.app_facts import MSI_LOB_TYPE, app_type, esp_blocking, is_win32
from rules.checks.payloads.device_phase import (
    harmful_payload_finding,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.graph_json import optional_mapping, optional_str
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
)
from rules.tenant_objects import MobileApp

METADATA = RuleMetadata(
    id="APP-002",
    title="MSI apps required in the technician phase install per device",
    severity=Severity.ERROR,
    rationale=(
        "The device-setup phase of the Enrollment Status Page tracks per-machine line-of-"
        "business MSI apps; per-user MSIs are tracked in account setup, after the technician "
        "phase (Enrollment Status Page). A LOB MSI with useDeviceContext false installs per "
        "user, and without it a dual-mode MSI defaults to per user (Graph windowsMobileMSI, "
        "beta); a Win32 app wrapping an MSI whose package type is per-user installs per user "
        "too (Graph win32LobAppMsiInformation). ERROR when the device ESP blocks on the app, "
        "WARNING otherwise."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the app > Properties > App "
        "information: set App install context to Device (LOB MSI), or repackage a per-user "
        "MSI for a per-machine install."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/graph/api/resources/intune-apps-windowsmobilemsi?view=graph-rest-beta",
        "https://learn.microsoft.com/graph/api/resources/intune-apps-win32lobappmsiinformation",
        "https://learn.microsoft.com/autopilot/pre-provision",
    ),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS, ENROLLMENT_CONFIGURATIONS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)


def _is_msi_package(app: MobileApp) -> bool:
    if app_type(app) == MSI_LOB_TYPE:
        return True
    return is_win32(app) and optional_mapping(app.raw, "msiInformation") is not None


def _is_per_user_package(app: MobileApp) -> bool:
    msi = optional_mapping(app.raw, "msiInformation") or {}
    return (optional_str(msi, "packageType") or "").casefold() == "peruser"


def _package_facts(app: MobileApp) -> tuple[str, ...]:
    if app_type(app) == MSI_LOB_TYPE:
        return (f"line-of-business MSI, useDeviceContext is {app.raw.get('useDeviceContext')!r}",)
    msi = optional_mapping(app.raw, "msiInformation") or {}
    return (f"Win32 app wrapping an MSI of package type {optional_str(msi, 'packageType')!r}",)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    msi_apps = [app for app in context.snapshot.mobile_apps or () if _is_msi_package(app)]
    for view in profile_views(context, METADATA):
        for app in msi_apps:
            applicability = view.applicability(app)
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                continue
            subject = payload_subject(app)
            facts = _package_facts(app)
            verdict = install_context(app)
            if is_win32(app) and not _is_per_user_package(app):
                # The run-as account of a Win32 app is APP-001's question; here only the
                # MSI's own package type matters.
                yield view.finding.passed(
                    subject,
                    f"the MSI inside '{app.display_name}' is not a per-user package",
                    (*facts, *applicability.reasons),
                    devices=view.devices,
                )
                continue
            if is_win32(app):
                verdict = InstallContextVerdict(
                    InstallContext.USER, f"'{app.display_name}' wraps a per-user MSI package"
                )
            if verdict.context is InstallContext.DEVICE:
                yield view.finding.passed(
                    subject,
                    f"'{app.display_name}' installs per device",
                    (*facts, verdict.reason, *applicability.reasons),
                    devices=view.devices,
                )
                continue
            if verdict.context is InstallContext.UNKNOWN:
                yield view.finding.unknown(
                    subject,
                    f"whether '{app.display_name}' installs per device or per user is not recorded",
                    (*facts, verdict.reason, *applicability.reasons),
                    devices=view.devices,
                )
                continue
            blocking = esp_blocking(context.targeting, view.profile, app)
            finding = harmful_payload_finding(
                view,
                subject,
                applicability,
                f"'{app.display_name}' installs per user",
                (*facts, verdict.reason, *blocking.reasons),
                severity=blocking.severity,
            )
            if finding is not None:
                yield finding
