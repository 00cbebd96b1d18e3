"""One finished Autopilot deployment attempt, from a beta `deviceManagementAutopilotEvent` and
its `policyStatusDetails` (pure: no I/O)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from monitors.store.keys import parse_time

# `windowsAutopilotEnrollmentType` values of the technician flow ("White Glove").
PRE_PROVISIONING_TYPES: Final = frozenset(
    {"azureADJoinedWithWhiteGlove", "offlineDomainJoinedWithWhiteGlove"}
)
# `windowsAutopilotDeploymentState` values that end an attempt.
SUCCESS_STATES: Final = frozenset({"success", "successWithTimeout", "successOnRetry"})
FAILURE_STATES: Final = frozenset({"failure"})
# `deviceManagementAutopilotPolicyComplianceStatus` values of an app or policy that failed.
FAILING_STATUSES: Final = frozenset({"error", "notInstalled", "notCompliant"})
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


@dataclass(frozen=True, slots=True)
class FailingItem:
    """An app or policy the ESP tracked that did not install or apply."""

    name: str
    policy_type: str  # application, appModel, configurationPolicy, unknown
    status: str
    error_code: int

    @property
    def error_hex(self) -> str:
        return f"0x{self.error_code & 0xFFFFFFFF:08X}" if self.error_code else ""

    @property
    def kind(self) -> str:
        return "policy" if self.policy_type == "configurationPolicy" else "app"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "policyType": self.policy_type,
            "status": self.status,
            "errorCode": self.error_hex,
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    event_id: str
    at: datetime  # deploymentEndDateTime
    serial: str
    device_id: str
    device_name: str
    profile_name: str
    esp_name: str
    enrollment_type: str
    deployment_state: str
    device_setup_status: str
    account_setup_status: str
    duration_s: int | None
    failure_details: str
    failing: tuple[FailingItem, ...] = ()

    @property
    def pre_provisioning(self) -> bool:
        return self.enrollment_type in PRE_PROVISIONING_TYPES

    @property
    def failed(self) -> bool:
        return self.deployment_state in FAILURE_STATES or "failure" in (
            self.device_setup_status,
            self.account_setup_status,
        )

    @property
    def phase(self) -> str:
        if self.device_setup_status == "failure":
            return "device setup"
        if self.account_setup_status == "failure":
            return "account setup"
        return "deployment" if self.failed else ""

    def with_failing(self, details: Iterable[Mapping[str, Any]]) -> Attempt:
        failing = tuple(
            FailingItem(
                str(d.get("displayName") or ""),
                str(d.get("policyType") or "unknown"),
                str(d.get("complianceStatus") or ""),
                _int(d.get("errorCode")),
            )
            for d in details
            if isinstance(d, Mapping) and str(d.get("complianceStatus")) in FAILING_STATUSES
        )
        return Attempt(**{**_fields(self), "failing": failing})


def finished_attempt(event: Mapping[str, Any]) -> Attempt | None:
    """The attempt an event records, or None while it runs (or when it names no time)."""
    state = str(event.get("deploymentState") or "")
    device_setup = str(event.get("deviceSetupStatus") or "")
    finished = SUCCESS_STATES | FAILURE_STATES
    # A technician's attempt ends with the device phase: a state the model does not list
    # (field reports name `preProvisioned`) still counts when the device setup has ended.
    if state not in finished and not (
        str(event.get("enrollmentType")) in PRE_PROVISIONING_TYPES and device_setup in finished
    ):
        return None
    try:
        at = event_end(event)
    except ValueError:
        return None
    return Attempt(
        event_id=str(event.get("id") or ""),
        at=at,
        serial=str(event.get("deviceSerialNumber") or ""),
        device_id=str(event.get("deviceId") or ""),
        device_name=str(event.get("managedDeviceName") or ""),
        profile_name=str(event.get("windowsAutopilotDeploymentProfileDisplayName") or ""),
        esp_name=str(event.get("windows10EnrollmentCompletionPageConfigurationDisplayName") or ""),
        enrollment_type=str(event.get("enrollmentType") or ""),
        deployment_state=state,
        device_setup_status=device_setup,
        account_setup_status=str(event.get("accountSetupStatus") or ""),
        duration_s=duration_seconds(event.get("deploymentDuration")),
        failure_details=str(event.get("enrollmentFailureDetails") or "")[:2_000],
    )


def event_end(event: Mapping[str, Any]) -> datetime:
    """When the attempt ended (its start when Intune recorded no end)."""
    text = event.get("deploymentEndDateTime") or event.get("eventDateTime")
    if not isinstance(text, str) or not text:
        raise ValueError("no time")
    return parse_time(seven_to_six(text))


def seven_to_six(text: str) -> str:
    """Graph writes 7 fractional digits; Python 3.11 reads at most 6."""
    if "." not in text:
        return text
    head, tail = text.split(".", 1)
    digits = "".join(c for c in tail if c.isdigit())
    return f"{head}.{digits[:6]}{tail[len(digits) :]}"


def duration_seconds(value: Any) -> int | None:
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or value == "P":
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return int(timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds).total_seconds())


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _fields(attempt: Attempt) -> dict[str, Any]:
    return {name: getattr(attempt, name) for name in Attempt.__slots__}
