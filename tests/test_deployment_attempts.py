"""Reading one Autopilot event as a pre-provisioning attempt, and the accuracy arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitors.deployments.accuracy import accuracy
from monitors.deployments.attempts import duration_seconds, finished_attempt
from tests.graphsim.deployments import (
    USER_DRIVEN,
    StatusDetail,
    autopilot_event,
    policy_status_detail,
    signed_error,
)

END = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_a_failed_attempt_names_its_phase_and_the_failing_items_with_hex_error_codes() -> None:
    event = autopilot_event(serial="5CG1", profile="P", end=END, failed_in="deviceSetup")
    details = [
        policy_status_detail(
            StatusDetail("VPN", "application", "error", signed_error(0x87D1041C)), "e", END
        ),
        policy_status_detail(
            StatusDetail("Baseline", "configurationPolicy", "compliant"), "e", END
        ),
        policy_status_detail(
            StatusDetail("Policy", "configurationPolicy", "notCompliant", -1), "e", END
        ),
    ]
    attempt = finished_attempt(event)
    assert attempt is not None
    attempt = attempt.with_failing(details)
    assert (attempt.failed, attempt.phase, attempt.pre_provisioning) == (True, "device setup", True)
    assert [(f.name, f.kind, f.error_hex) for f in attempt.failing] == [
        ("VPN", "app", "0x87D1041C"),
        ("Policy", "policy", "0xFFFFFFFF"),
    ]
    assert attempt.at == END
    assert attempt.duration_s == 42 * 60


def test_running_attempts_are_not_finished_but_an_unlisted_end_state_of_the_device_phase_is() -> (
    None
):
    running = autopilot_event(serial="5CG2", profile="P", end=END)
    running["deploymentState"] = running["deviceSetupStatus"] = "inProgress"
    assert finished_attempt(running) is None
    resealed = autopilot_event(serial="5CG3", profile="P", end=END)
    resealed["deploymentState"] = "preProvisioned"
    attempt = finished_attempt(resealed)
    assert attempt is not None
    assert not attempt.failed
    user_driven = finished_attempt(
        autopilot_event(serial="5CG4", profile="P", end=END, enrollment_type=USER_DRIVEN)
    )
    assert user_driven is not None
    assert not user_driven.pre_provisioning


def test_graph_times_with_seven_digits_and_iso_durations_are_read() -> None:
    event = autopilot_event(serial="5CG5", profile="P", end=END + timedelta(microseconds=123456))
    assert event["deploymentEndDateTime"].endswith("1234560Z")
    attempt = finished_attempt(event)
    assert attempt is not None
    assert attempt.at == END + timedelta(microseconds=123456)
    assert duration_seconds("P1DT2H3M4.5S") == 93784
    assert duration_seconds("garbage") is None
    assert duration_seconds(None) is None


def _doc(category: str, rules: tuple[str, ...] = (), explains: bool = False) -> dict[str, object]:
    return {
        "category": category,
        "profile": "P",
        "failing": [{"name": "VPN", "policyType": "application", "errorCode": "0x1"}],
        "predictions": [{"ruleId": r, "explains": explains} for r in rules],
    }


def test_precision_and_recall_follow_their_definitions() -> None:
    result = accuracy(
        [
            _doc("explained", ("ESP-003",), explains=True),
            _doc("predicted", ("APP-001",)),
            _doc("unexplained"),
            _doc("unexplained"),
            _doc("false_alarm", ("ESP-003",)),
            _doc("green"),
            _doc("not_covered"),
        ]
    )
    assert result["overall"] == {
        "truePositives": 2,
        "falsePositives": 1,
        "falseNegatives": 2,
        "precision": 0.6667,
        "recall": 0.5,
    }
    assert (result["attempts"], result["covered"], result["failures"]) == (7, 6, 4)
    rules = {r["ruleId"]: r for r in result["rules"]}
    assert rules["ESP-003"] == {
        "ruleId": "ESP-003",
        "truePositives": 1,
        "falsePositives": 1,
        "explained": 1,
        "precision": 0.5,
        "recall": 0.25,
    }
    assert rules["APP-001"]["precision"] == 1.0
    assert {"trait": "item", "value": "VPN", "count": 2, "of": 2} in result["unexplained"]["common"]
    assert accuracy([])["overall"]["precision"] is None
