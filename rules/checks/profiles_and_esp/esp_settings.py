"""Enrollment Status Page settings as the rules read them (beta-only properties, raw JSON).

The typed `EnrollmentConfiguration` keeps what every enrollment configuration has; the ESP
settings live in `raw` because only `windows10EnrollmentCompletionPageConfiguration` has them.
"""

from __future__ import annotations

from rules.findings import Subject
from rules.graph_json import optional_bool, optional_int, string_tuple
from rules.tenant_objects import EnrollmentConfiguration, MobileApp


def esp_subject(esp: EnrollmentConfiguration) -> Subject:
    return Subject("enrollmentStatusPage", esp.id, esp.display_name)


def app_subject(app: MobileApp) -> Subject:
    return Subject("mobileApp", app.id, app.display_name)


def blocking_app_ids(esp: EnrollmentConfiguration) -> tuple[str, ...]:
    """`selectedMobileAppIds`; empty means every tracked app blocks ("All" in the portal)."""
    return string_tuple(esp.raw, "selectedMobileAppIds")


def shows_progress(esp: EnrollmentConfiguration) -> bool | None:
    return optional_bool(esp.raw, "showInstallationProgress")


def timeout_minutes(esp: EnrollmentConfiguration) -> int | None:
    return optional_int(esp.raw, "installProgressTimeoutInMinutes")
