"""The targeting view keeps each distinct device set once, however many answers share it.

At 100,000 devices a device set is up to 4 MiB, and the device-phase rules ask for the reach of
every app in every profile: a set per (app, profile) answer grew with apps x profiles x devices
(1.7 GiB for ESP-006 alone). Apps assigned alike share one set. Memory is measured with
tracemalloc (allocations, not time): what the answers hold must not grow with a set per answer.
"""

from __future__ import annotations

import copy
import sys
import tracemalloc
from typing import Any

from rules.applicability import Applicability, DevicePhaseApplicability, tenant_targeting
from rules.engine import collector_paused
from rules.snapshot_model import TenantSnapshot
from samples.synthetic import generate_tenant

DEVICES = 1500
APPS = "deviceAppManagement/mobileApps"
FILTERS = "deviceManagement/assignmentFilters"
PROFILES = "deviceManagement/windowsAutopilotDeploymentProfiles"
ALL_DEVICES = "#microsoft.graph.allDevicesAssignmentTarget"


def _document() -> dict[str, Any]:
    return generate_tenant(
        apps=5,
        device_configurations=2,
        settings_policies=1,
        scripts=1,
        enrollment_configurations=3,
        profiles=2,
        groups=20,
        devices=DEVICES,
        compliance_policies=1,
        filters=2,
    )


def _app(index: int, filter_id: str) -> dict[str, Any]:
    """A required Win32 app for All devices through a hardware filter: it reaches some of each
    profile's devices, so its answer has a device set of its own to compute."""
    return {
        "@odata.type": "#microsoft.graph.win32LobApp",
        "id": f"00000000-0000-4000-8000-{index:012d}",
        "displayName": f"Line of business app {index:04d}",
        "assignments": [
            {
                "@odata.type": "#microsoft.graph.mobileAppAssignment",
                "id": f"assignment-{index:04d}",
                "intent": "required",
                "target": {
                    "@odata.type": ALL_DEVICES,
                    "deviceAndAppManagementAssignmentFilterId": filter_id,
                    "deviceAndAppManagementAssignmentFilterType": "include",
                },
            }
        ],
    }


def _snapshot(document: dict[str, Any], apps: int) -> TenantSnapshot:
    tenant = copy.deepcopy(document)
    collections = tenant["collections"]
    filter_id = collections[FILTERS][0]["id"]
    collections[APPS] = [_app(index, filter_id) for index in range(apps)]
    for profile in collections[PROFILES]:
        # Every registered device gets the profile: each profile's device set is the tenant's.
        profile["assignments"] = [
            {"id": f"{profile['id']}_all", "target": {"@odata.type": ALL_DEVICES}}
        ]
    return TenantSnapshot.from_document(tenant)


def _answers(snapshot: TenantSnapshot) -> list[DevicePhaseApplicability]:
    """Every app's answer for every profile, each with its device reach worked out."""
    targeting = tenant_targeting(snapshot)
    answers = []
    for profile in snapshot.autopilot_profiles or ():
        for app in snapshot.mobile_apps or ():
            answer = targeting.device_phase_applicability(app, profile)
            answer.device_reach()
            answers.append(answer)
    return answers


def _held(snapshot: TenantSnapshot) -> tuple[int, list[DevicePhaseApplicability]]:
    """Bytes still allocated by the answers (and the view they are kept in)."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        answers = _answers(snapshot)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return after - before, answers


def _reached_sizes(answers: list[DevicePhaseApplicability]) -> list[int]:
    return [len(answer.device_reach().reached) for answer in answers]


def test_answers_of_apps_targeted_alike_share_their_device_sets() -> None:
    snapshot = _snapshot(_document(), 30)
    with collector_paused():
        answers = _answers(snapshot)
    by_profile: dict[str, list[DevicePhaseApplicability]] = {}
    for answer in answers:
        by_profile.setdefault(answer.profile_id, []).append(answer)
    assert len(by_profile) == 2
    for profile_answers in by_profile.values():
        first = profile_answers[0].device_reach()
        # The filter lets some, not all, of the profile's devices through: a set of its own.
        assert profile_answers[0].verdict is Applicability.APPLIES
        assert 0 < len(first.reached) < len(first.devices)
        for answer in profile_answers[1:]:
            reach = answer.device_reach()
            assert reach.reached is first.reached
            assert reach.may_reach is first.may_reach
            assert reach.missed == first.missed


def test_answer_memory_does_not_grow_with_a_device_set_per_app() -> None:
    document = _document()
    with collector_paused():
        few, few_answers = _held(_snapshot(document, 20))
        many, many_answers = _held(_snapshot(document, 220))
    assert len(many_answers) - len(few_answers) == 400
    # What one more answer would hold with a reached set of its own: the smallest such set.
    reached = min(_reached_sizes(many_answers))
    assert reached >= 100, "the filter must leave each answer a sizeable set"
    one_set = sys.getsizeof(frozenset(range(reached)))
    per_answer = (many - few) / 400
    # Shared, an answer holds its own verdict, reasons and cache entries (about 1 kB), never a
    # set of hundreds of device ids (tens of kB).
    assert per_answer < one_set / 4, (
        f"{per_answer:,.0f} bytes per answer; a set of {reached} devices is {one_set:,} bytes"
    )
