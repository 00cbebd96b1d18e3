"""Real deployments against the predictions, end to end through the real Functions handlers.

The Graph simulator serves the Autopilot deployment record over HTTP, Azurite holds the verdict
history (recorded through the real store: the profile green, then red after an admin's change
made the ESP block on an app), a loopback Teams webhook receives the cards. Attempts: a failure
no rule explains (while the profile was green), a failure on that app (predicted, with its
cause) and a success on the same profile (a predicted red that went green).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest

from monitors.deployments.accuracy import report
from monitors.store.deployment_store import DeploymentStore
from monitors.store.keys import format_time
from monitors.store.records import ChangeEvent, RunInfo
from monitors.store.verdict_store import VerdictStore
from rules.engine import Evaluation
from rules.findings import Finding, RuleMetadata, Scope, Severity, Status, Subject
from tests.graphsim import GraphSimulator
from tests.graphsim.deployments import StatusDetail, autopilot_event, signed_error
from tests.graphsim.sample_tenants import tiny_tenant
from tests.test_alert_sender import Receiver
from tests.test_function_support import (
    empty_queues,  # noqa: F401 - fixture
    tenant_of,
    user_function,
)
from tests.test_guardrail_e2e import (
    ACTOR,
    deployed,  # noqa: F401 - fixture
    run_timer,
    teams,  # noqa: F401 - fixture
)

PROFILE_ID = "2c3e1f0a-5b7d-4c9e-8f1a-3b5d7e9f1a2c"
PROFILE = "Contoso - Entra join (pre-provisioning)"
AGENT_ID = "0f6c2b1e-8d4a-4f3e-9b2c-7a1d5e3f9c8b"
AGENT = "Contoso Agent"
APP_ERROR = 0x87D1041C  # "the application was not detected after installation completed"
VPN_ERROR = 0x80070002
CHANGE_ID = "7d1f0c3e-2a4b-4c5d-8e6f-9a0b1c2d3e4f"
ESP_003 = RuleMetadata(
    id="ESP-003",
    title="Blocking apps reach the device",
    severity=Severity.ERROR,
    rationale="",
    remediation="",
    references=(),
    graph_reads=("deviceAppManagement/mobileApps",),
    permissions=(),
)


def esp_finding(status: Status) -> Finding:
    return Finding(
        rule_id="ESP-003",
        status=status,
        severity=Severity.ERROR,
        subject=Subject("mobileApp", AGENT_ID, AGENT),
        message=f"{AGENT} is {status.value}",
        reasons=(),
        scope=Scope(PROFILE_ID, PROFILE),
    )


def record(
    store: VerdictStore, tenant: str, at: datetime, status: Status, causes: tuple[str, ...] = ()
) -> None:
    store.record_evaluation(
        tenant,
        Evaluation(
            tenant_id=tenant,
            captured_at=format_time(at),
            findings=(esp_finding(status),),
            rules=(ESP_003,),
            unreadable=(),
        ),
        RunInfo(run_id=f"run-{at.timestamp()}", trigger="test", started_at=at),
        cause_event_ids=causes,
    )


@pytest.fixture
def simulator() -> Iterator[GraphSimulator]:
    snapshot = tiny_tenant()
    snapshot["tenantId"] = str(uuid.uuid4())  # the storage emulator lives for the whole session
    with GraphSimulator(snapshot, seed=7) as sim:
        yield sim


@pytest.fixture
def scenario(
    deployed: VerdictStore,  # noqa: F811 - fixture
    simulator: GraphSimulator,
) -> dict[str, Any]:
    """History: the profile green from `baseline`, red from `turned_red` after ACTOR's change."""
    tenant = tenant_of(simulator)
    now = datetime.now(UTC)
    baseline, turned_red = now - timedelta(hours=3), now - timedelta(hours=2)
    record(deployed, tenant, baseline, Status.PASS)
    deployed.record_change_events(
        tenant,
        [
            ChangeEvent(
                event_id=CHANGE_ID,
                at=turned_red - timedelta(minutes=1),
                actor_type="user",
                actor_id="3f2e1d0c-0000-4000-8000-000000000001",
                actor_name=ACTOR,
                activity="Assign MobileApp",
                resource_type="Win32LobApp",
                resource_id=AGENT_ID,
                source="intune-audit",
            )
        ],
    )
    record(deployed, tenant, turned_red, Status.FAIL, (CHANGE_ID,))
    # While the profile was green: a VPN client fails. No rule explains it.
    unexplained = autopilot_event(
        serial="5CG4410AAA",
        profile=PROFILE,
        end=baseline + timedelta(minutes=30),
        failed_in="deviceSetup",
    )
    simulator.add_autopilot_event(
        unexplained,
        [
            StatusDetail(
                "Contoso VPN", compliance_status="error", error_code=signed_error(VPN_ERROR)
            ),
            StatusDetail(AGENT, compliance_status="installed"),
        ],
    )
    # After the change: the blocking app fails on one device, another goes green.
    explained = autopilot_event(
        serial="5CG4410BBB", profile=PROFILE, end=now - timedelta(hours=1), failed_in="deviceSetup"
    )
    simulator.add_autopilot_event(
        explained,
        [StatusDetail(AGENT, compliance_status="error", error_code=signed_error(APP_ERROR))],
    )
    green = autopilot_event(serial="5CG4410CCC", profile=PROFILE, end=now - timedelta(minutes=50))
    simulator.add_autopilot_event(green, [StatusDetail(AGENT)])
    # A user-driven deployment is not a pre-provisioning attempt: never assessed.
    simulator.add_autopilot_event(
        autopilot_event(
            serial="5CG4410DDD",
            profile=PROFILE,
            end=now - timedelta(minutes=40),
            enrollment_type="azureADJoinedWithAutopilotProfile",
            failed_in="accountSetup",
        )
    )
    return {
        "tenant": tenant,
        "app": AGENT,
        "turned_red": turned_red,
        "ids": {
            "unexplained": unexplained["id"],
            "explained": explained["id"],
            "green": green["id"],
        },
    }


def deployments_of(store: VerdictStore, tenant: str) -> dict[str, dict[str, Any]]:
    now = datetime.now(UTC) + timedelta(minutes=1)
    documents = DeploymentStore.beside(store).between(tenant, now - timedelta(days=30), now)
    return {d["eventId"]: d for d in documents}


def card_texts(receiver: Receiver) -> list[str]:
    return [json.dumps(body, ensure_ascii=False) for body in receiver.bodies]


def test_each_attempt_is_judged_by_what_greenscreen_said_at_that_time_and_alerted_once(
    scenario: dict[str, Any],
    deployed: VerdictStore,  # noqa: F811 - fixture
    simulator: GraphSimulator,
    teams: Receiver,  # noqa: F811 - fixture
) -> None:
    tenant, ids, app = scenario["tenant"], scenario["ids"], scenario["app"]
    simulator.clear_log()
    run_timer("poll_autopilot_deployments")

    stored = deployments_of(deployed, tenant)
    assert {event_id: stored[event_id]["category"] for event_id in ids.values()} == {
        ids["unexplained"]: "unexplained",
        ids["explained"]: "explained",
        ids["green"]: "false_alarm",
    }
    assert len(stored) == 3  # the user-driven attempt is not a pre-provisioning one
    explaining = [p for p in stored[ids["explained"]]["predictions"] if p["explains"]]
    assert {p["ruleId"] for p in explaining} >= {"ESP-003"}
    assert all(p["actor"] == ACTOR for p in explaining)  # after whose change
    assert all(p["since"] for p in explaining)
    assert stored[ids["explained"]]["failing"] == [
        {"name": app, "policyType": "application", "status": "error", "errorCode": "0x87D1041C"}
    ]

    # Two cards: the predicted failure with its cause, the unexplained one told apart.
    texts = card_texts(teams)
    assert len(texts) == 2, texts
    (predicted,) = [t for t in texts if "5CG4410BBB" in t]
    assert f"app {app}, error 0x87D1041C" in predicted
    assert "Greenscreen has reported ESP-003" in predicted or "ESP-003" in predicted
    assert f"after a change by {ACTOR}" in predicted
    (blind,) = [t for t in texts if "5CG4410AAA" in t]
    assert "No Greenscreen rule explains it" in blind
    assert "0x80070002" in blind

    # Graph cost: one list page, one detail read per failed pre-provisioning attempt.
    paths = [r.path for r in simulator.request_log]
    assert paths.count("deviceManagement/autopilotEvents") == 1
    assert sorted(p for p in paths if p.endswith("/policyStatusDetails")) == sorted(
        f"deviceManagement/autopilotEvents/{ids[k]}/policyStatusDetails"
        for k in ("unexplained", "explained")
    )

    # The overlap window shows the same events again: known by id, so no detail is read again
    # and no second card is posted.
    simulator.clear_log()
    run_timer("poll_autopilot_deployments")
    assert [r.path for r in simulator.request_log] == ["deviceManagement/autopilotEvents"]
    assert len(teams.bodies) == 2
    # Even a poll that lost its cursor (it died before moving it) posts nothing twice.
    DeploymentStore.beside(deployed)  # same account
    from monitors.deployments.polling import CURSOR_NAME

    deployed.set_cursor(tenant, CURSOR_NAME, json.dumps({"since": "2026-01-01T00:00:00Z"}))
    run_timer("poll_autopilot_deployments")
    assert len(teams.bodies) == 2


def test_the_report_counts_the_three_outcomes(
    scenario: dict[str, Any],
    deployed: VerdictStore,  # noqa: F811 - fixture
    teams: Receiver,  # noqa: F811 - fixture
) -> None:
    tenant = scenario["tenant"]
    run_timer("poll_autopilot_deployments")
    answer = user_function("readiness")(
        func.HttpRequest(method="GET", url="/api/readiness", params={"tenant": tenant}, body=b"")
    )
    assert answer.status_code == 200
    accuracy = json.loads(answer.get_body())["deployments"]
    assert accuracy["categories"] == {
        "explained": 1,
        "predicted": 0,
        "unexplained": 1,
        "false_alarm": 1,
        "green": 0,
        "not_covered": 0,
    }
    assert accuracy["overall"] == {
        "truePositives": 1,
        "falsePositives": 1,
        "falseNegatives": 1,
        "precision": 0.5,
        "recall": 0.5,
    }
    by_rule = {r["ruleId"]: r for r in accuracy["rules"]}
    assert by_rule["ESP-003"]["explained"] == 1
    assert by_rule["ESP-003"]["falsePositives"] == 1
    assert accuracy["unexplained"]["count"] == 1
    traits = {(t["trait"], t["value"]) for t in accuracy["unexplained"]["common"]}
    assert ("errorCode", "0x80070002") in traits
    assert ("item", "Contoso VPN") in traits
    assert ("profile", PROFILE) in traits
    # The same numbers from the report function over the store.
    direct = report(DeploymentStore.beside(deployed), tenant, datetime.now(UTC))
    assert direct["overall"] == accuracy["overall"]


def test_the_history_command_lists_the_attempts_and_the_same_accuracy(
    scenario: dict[str, Any],
    deployed: VerdictStore,  # noqa: F811 - fixture
    teams: Receiver,  # noqa: F811 - fixture
    capsys: pytest.CaptureFixture[str],
) -> None:
    from monitors.cli import main

    tenant, ids = scenario["tenant"], scenario["ids"]
    run_timer("poll_autopilot_deployments")
    assert main(["history", "--tenant", tenant, "--deployments", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert {item["eventId"]: item["category"] for item in document["items"]} == {
        ids["unexplained"]: "unexplained",
        ids["explained"]: "explained",
        ids["green"]: "false_alarm",
    }
    assert (document["overall"]["precision"], document["overall"]["recall"]) == (0.5, 0.5)
    assert main(["history", "--tenant", tenant, "--deployments"]) == 0
    table = capsys.readouterr().out
    assert "precision 50 %, recall 50 % (TP 1, FP 1, FN 1)" in table
    assert "1 failure(s) no rule explains; in common:" in table
    assert "Contoso VPN" in table
    assert main(["history", "--tenant", tenant, "--deployments", "--rule", "ESP-003"]) == 2
    assert capsys.readouterr().err.strip() == (
        "greenscreen: --rule does not apply to --deployments (use --since/--until)"
    )
    assert main(["history", "--tenant", tenant, "--deployments", "--since", "yesterday"]) == 2
    assert "since must be an ISO 8601 date-time" in capsys.readouterr().err
    assert main(["history", "--tenant", tenant, "--deployments", "--until", "2026\x00"]) == 2
    assert capsys.readouterr().err.strip() == (
        "greenscreen: --until must not contain control characters"
    )


def test_the_tenant_page_shows_the_accuracy_and_the_blind_spots(
    scenario: dict[str, Any],
    deployed: VerdictStore,  # noqa: F811 - fixture
    teams: Receiver,  # noqa: F811 - fixture
    table_service: Any,
) -> None:
    from monitors.dashboard.views import Dashboard
    from tests.test_dashboard import page, text_of

    run_timer("poll_autopilot_deployments")
    answer = page(Dashboard.over(table_service), "tenant", tenant=scenario["tenant"])
    text = text_of(answer.body)
    assert "Did pre-provisioning go green? (last 30 days)" in text
    assert (
        "3 attempts, 2 failed (of 3 Greenscreen had verdicts for). Precision 50 %, recall 50 %"
        in text
    )
    assert (
        "1 predicted failures, 1 predicted failures that went green, 1 failures no rule explains"
        in text
    )
    assert "item Contoso VPN (1/1)" in text


def test_failures_past_one_polls_detail_budget_are_read_by_the_next_poll(
    scenario: dict[str, Any],
    deployed: VerdictStore,  # noqa: F811 - fixture
    teams: Receiver,  # noqa: F811 - fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitors.deployments import polling

    monkeypatch.setattr(polling, "MAX_DETAIL_READS", 1)
    tenant, ids = scenario["tenant"], scenario["ids"]
    run_timer("poll_autopilot_deployments")
    first = deployments_of(deployed, tenant)
    assert set(first) == {ids["unexplained"], ids["green"]}  # the older failure, and the success
    assert len(teams.bodies) == 1
    run_timer("poll_autopilot_deployments")
    second = deployments_of(deployed, tenant)
    assert second[ids["explained"]]["category"] == "explained"
    assert second[ids["explained"]]["failing"][0]["errorCode"] == "0x87D1041C"
    assert len(teams.bodies) == 2


def test_a_verdict_that_turned_red_before_the_polls_window_still_names_its_actor(
    scenario: dict[str, Any],
    deployed: VerdictStore,  # noqa: F811 - fixture
    teams: Receiver,  # noqa: F811 - fixture
) -> None:
    """The steady state: the poll reads the last hour, the app turned red two hours ago."""
    from monitors.deployments.polling import CURSOR_NAME

    tenant, ids = scenario["tenant"], scenario["ids"]
    since = datetime.now(UTC) - timedelta(minutes=70)  # read from 130 minutes back
    deployed.set_cursor(tenant, CURSOR_NAME, json.dumps({"since": format_time(since)}))
    run_timer("poll_autopilot_deployments")
    stored = deployments_of(deployed, tenant)
    assert ids["unexplained"] not in stored  # ended before the window
    (explaining,) = [p for p in stored[ids["explained"]]["predictions"] if p["explains"]]
    assert explaining["actor"] == ACTOR
    assert explaining["since"] == format_time(scenario["turned_red"])
    (card,) = card_texts(teams)
    assert f"after a change by {ACTOR}" in card
