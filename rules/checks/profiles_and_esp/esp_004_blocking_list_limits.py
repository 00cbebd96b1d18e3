"""ESP-004: every ESP blocking list has at most 100 apps, all of which still exist."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.profiles_and_esp.esp_settings import blocking_app_ids, esp_subject
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity
from rules.tenant_collections import ENROLLMENT_CONFIGURATIONS, MOBILE_APPS
from rules.tenant_objects import EnrollmentConfiguration, EnrollmentConfigurationKind

METADATA = RuleMetadata(
    id="ESP-004",
    title="Every ESP blocking list has at most 100 apps, all of which exist",
    severity=Severity.ERROR,
    rationale=(
        "An Enrollment Status Page can block on up to 100 apps (Enrollment Status Page "
        "documentation). A listed app that was deleted can no longer be tracked or installed: "
        "the list no longer says what the admin meant (inference)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Enrollment Status "
        "Page > the ESP > Properties > Settings: trim 'Block device use until these required "
        "apps are installed' to at most 100 existing apps."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
    ),
    graph_reads=(ENROLLMENT_CONFIGURATIONS, MOBILE_APPS),
    permissions=("DeviceManagementServiceConfig.Read.All", "DeviceManagementApps.Read.All"),
)

MAX_BLOCKING_APPS = 100
_ESP_KINDS = (EnrollmentConfigurationKind.ESP, EnrollmentConfigurationKind.DEFAULT_ESP)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, ENROLLMENT_CONFIGURATIONS))
    if missing:
        yield from missing
        return
    for esp in context.snapshot.enrollment_configurations or ():
        if esp.kind in _ESP_KINDS and blocking_app_ids(esp):
            yield _check(context, esp)


def _check(context: RuleContext, esp: EnrollmentConfiguration) -> Finding:
    finding = FindingBuilder(METADATA)
    subject = esp_subject(esp)
    listed = blocking_app_ids(esp)
    count = f"ESP '{esp.display_name}' lists {len(listed)} blocking app(s)"
    if len(listed) > MAX_BLOCKING_APPS:
        return finding.failed(
            subject,
            f"{count}, more than the {MAX_BLOCKING_APPS} an ESP can block on",
            (count,),
        )
    if context.snapshot.mobile_apps is None:
        return finding.unknown(
            subject,
            f"cannot tell whether the blocking apps of ESP '{esp.display_name}' still exist",
            (count, *context.unreadable(MOBILE_APPS)),
        )
    deleted = [app_id for app_id in listed if context.snapshot.mobile_app(app_id) is None]
    if deleted:
        return finding.failed(
            subject,
            f"{len(deleted)} blocking app(s) of ESP '{esp.display_name}' no longer exist",
            (count, *(f"app {app_id} is not in the tenant (deleted?)" for app_id in deleted)),
            severity=Severity.WARNING,
        )
    return finding.passed(subject, f"{count}, all of which exist", (count,))
