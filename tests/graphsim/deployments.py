"""Intune's record of Autopilot deployments: `deviceManagement/autopilotEvents` (beta).

One `deviceManagementAutopilotEvent` per deployment attempt (enrollment type, deployment, device
setup and account setup status, durations, profile and ESP names, serial number) and, per event,
the `policyStatusDetails` navigation: one `deviceManagementAutopilotPolicyStatusDetail` per app or
policy the ESP tracked (policy type, compliance status, error code). The list does not inline the
details; they are read per event at `autopilotEvents/{id}/policyStatusDetails` (as public tooling
reads them). Sources: docs/graph-simulator.md, "Autopilot deployment events".
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from monitors.deployments.attempts import event_end
from tests.graphsim.clock import graph_timestamp
from tests.graphsim.exchange import GraphError, GraphRequest, GraphResponse, bad_request
from tests.graphsim.navigation import project
from tests.graphsim.odata_filter import FilterProfile
from tests.graphsim.odata_query import ODataQuery

AUTOPILOT_EVENTS: Final = "deviceManagement/autopilotEvents"
DETAILS: Final = "policyStatusDetails"
# `$filter` forms public tooling uses on this list: equality on the device id, the states and
# the serial number, and ranges on the event and end times.
AUTOPILOT_EVENTS_PROFILE: Final = FilterProfile(
    directory=False,
    equality=frozenset(
        {
            "id",
            "deviceId",
            "deviceSerialNumber",
            "deploymentState",
            "deviceSetupStatus",
            "accountSetupStatus",
            "enrollmentType",
        }
    ),
    datetime_ranges=frozenset({"eventDateTime", "deploymentEndDateTime"}),
)
ORDERABLE: Final = frozenset({"eventDateTime", "deploymentEndDateTime"})
WHITE_GLOVE_AAD: Final = "azureADJoinedWithWhiteGlove"
WHITE_GLOVE_HYBRID: Final = "offlineDomainJoinedWithWhiteGlove"
USER_DRIVEN: Final = "azureADJoinedWithAutopilotProfile"
FAILED_STATES: Final = frozenset({"failure"})


def iso_duration(value: timedelta) -> str:
    """`PT1H2M3S`: how Graph writes an Edm.Duration."""
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"PT{hours}H{minutes}M{seconds}S"


@dataclass(frozen=True, slots=True)
class StatusDetail:
    """One app or policy the ESP tracked during an attempt."""

    display_name: str
    policy_type: str = "application"  # application, appModel, configurationPolicy, unknown
    compliance_status: str = "installed"  # installed, notInstalled, compliant, error, ...
    error_code: int = 0
    tracked_on_enrollment_status: bool = True


def autopilot_event(
    *,
    serial: str,
    profile: str,
    end: datetime,
    esp: str = "Pre-provisioning ESP",
    esp_id: str = "",
    enrollment_type: str = WHITE_GLOVE_AAD,
    failed_in: str | None = None,  # None (success), "deviceSetup", "accountSetup"
    device_id: str | None = None,
    device_name: str | None = None,
    event_id: str | None = None,
    duration: timedelta = timedelta(minutes=42),
    failure_details: str | None = None,
) -> dict[str, Any]:
    """A finished deployment attempt in the beta `deviceManagementAutopilotEvent` shape."""
    start = end - duration
    failed = failed_in is not None
    device_setup = "failure" if failed_in == "deviceSetup" else "success"
    # Pre-provisioning runs the device phase only: account setup is not attempted.
    account_setup = (
        "failure"
        if failed_in == "accountSetup"
        else "notAttempted"
        if enrollment_type in (WHITE_GLOVE_AAD, WHITE_GLOVE_HYBRID) or failed
        else "success"
    )
    device_time = duration * 0.8 if failed_in != "accountSetup" else duration * 0.5
    return {
        "@odata.type": "#microsoft.graph.deviceManagementAutopilotEvent",
        "id": event_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"autopilot/{serial}/{end}")),
        "deviceId": device_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"autopilot-device/{serial}")),
        "eventDateTime": graph_timestamp(start),
        "deviceRegisteredDateTime": graph_timestamp(start - timedelta(days=3)),
        "enrollmentStartDateTime": graph_timestamp(start),
        "enrollmentType": enrollment_type,
        "deviceSerialNumber": serial,
        "managedDeviceName": device_name or f"DESKTOP-{serial[-7:]}",
        "userPrincipalName": None,
        "windowsAutopilotDeploymentProfileDisplayName": profile,
        "enrollmentState": "failed" if failed else "enrolled",
        "windows10EnrollmentCompletionPageConfigurationDisplayName": esp,
        "windows10EnrollmentCompletionPageConfigurationId": esp_id
        or str(uuid.uuid5(uuid.NAMESPACE_URL, f"esp/{esp}")),
        "deploymentState": "failure" if failed else "success",
        "deviceSetupStatus": device_setup,
        "accountSetupStatus": account_setup,
        "osVersion": "10.0.26100.2605",
        "deploymentDuration": iso_duration(duration),
        "deploymentTotalDuration": iso_duration(duration + timedelta(minutes=3)),
        "deviceSetupDuration": iso_duration(device_time),
        "accountSetupDuration": iso_duration(
            timedelta() if account_setup == "notAttempted" else duration - device_time
        ),
        "deploymentStartDateTime": graph_timestamp(start),
        "deploymentEndDateTime": graph_timestamp(end),
        "enrollmentFailureDetails": failure_details,
        "userId": None,
    }


def policy_status_detail(detail: StatusDetail, event_id: str, at: datetime) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.deviceManagementAutopilotPolicyStatusDetail",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event_id}/{detail.display_name}")),
        "displayName": detail.display_name,
        "policyType": detail.policy_type,
        "complianceStatus": detail.compliance_status,
        "trackedOnEnrollmentStatus": detail.tracked_on_enrollment_status,
        "lastReportedDateTime": graph_timestamp(at),
        "errorCode": detail.error_code,
    }


def signed_error(code: int) -> int:
    """An HRESULT such as 0x87D1041C as the Int32 Graph carries (-2016345060)."""
    return code - (1 << 32) if code >= 1 << 31 else code


class DeploymentLog:
    """The tenant's Autopilot events and their status details; tests add them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._details: dict[str, list[dict[str, Any]]] = {}

    def add(self, event: Mapping[str, Any], details: Iterable[StatusDetail] = ()) -> str:
        event_id = str(event["id"])
        end = event_end(event)
        with self._lock:
            if event_id in self._details:  # the same event again: Intune updated its record
                self._events = [e for e in self._events if e["id"] != event_id]
            self._events.append(copy.deepcopy(dict(event)))
            self._details[event_id] = [policy_status_detail(d, event_id, end) for d in details]
        return event_id

    def add_raw(self, event: Mapping[str, Any], details: Sequence[Mapping[str, Any]]) -> None:
        with self._lock:
            self._events.append(copy.deepcopy(dict(event)))
            self._details[str(event["id"])] = [copy.deepcopy(dict(d)) for d in details]

    def events(self) -> list[dict[str, Any]]:
        """The stored events (never changed in place: an update replaces the whole record)."""
        with self._lock:
            return list(self._events)

    def details(self, event_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._details.get(event_id, []))

    def answer(
        self,
        request: GraphRequest,
        query: ODataQuery,
        rest: list[str],
        page: Callable[[GraphRequest, ODataQuery, str, str, list[dict[str, Any]]], GraphResponse],
        context: Callable[[GraphRequest, str], str],
    ) -> GraphResponse:
        if query.expand:
            # Unconfirmed on the service: the reader never relies on it, the simulator refuses.
            raise bad_request(
                "$expand is not supported on autopilotEvents; read policyStatusDetails per event."
            )
        if not rest:
            return page(request, query, AUTOPILOT_EVENTS, AUTOPILOT_EVENTS, self.events())
        with self._lock:
            event = next((e for e in self._events if e["id"] == rest[0]), None)
        if event is None:
            raise GraphError(
                404,
                "ResourceNotFound",
                f"deviceManagementAutopilotEvent with id {rest[0]!r} was not found.",
            )
        if len(rest) == 1:
            return GraphResponse(
                200,
                {
                    "@odata.context": context(request, f"{AUTOPILOT_EVENTS}/$entity"),
                    **project(event, query.select),
                },
            )
        if len(rest) == 2 and rest[1] == DETAILS:
            path = f"{AUTOPILOT_EVENTS}('{rest[0]}')/{DETAILS}"
            return page(
                request,
                query,
                f"{AUTOPILOT_EVENTS}/{rest[0]}/{DETAILS}",
                path,
                self.details(rest[0]),
            )
        raise bad_request(f"Resource not found for the segment '{rest[-1]}'.")
