"""Breaking changes and their undo, chosen from any tenant snapshot (the sample or a synthetic one),
and the loop that drives them through the deployed guardrail: simulator mutation, the poll that
notices it (run at once: the poll interval is excluded), `process_change` on each queued message,
and the alert on the `alerts` queue.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.harness import Deployment, change_document, delta
from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE, ChangeMessage
from monitors.store.keys import format_time
from rules import tenant_collections as tc

ESP_TYPE = "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration"


@dataclass(frozen=True)
class Scenario:
    """One kind of change: the document that breaks readiness, the one that undoes it, and the
    timer that notices it (`poll_intune_audit` or `poll_directory_changes`)."""

    kind: str
    poll: str
    breaks: dict[str, Any]
    undoes: dict[str, Any]


def _is_user_group(group: Mapping[str, Any]) -> bool:
    return str(group.get("membershipRule") or "").lstrip("( ").lower().startswith("user.")


def _is_device_group(group: Mapping[str, Any]) -> bool:
    return str(group.get("membershipRule") or "").lstrip("( ").lower().startswith("device.")


def scenarios(snapshot: Mapping[str, Any]) -> list[Scenario]:
    """Three kinds of change, each found in the tenant: an ESP-blocking app's required assignment
    moved from a device group to a user group, the dynamic group a pre-provisioning profile
    targets paused, and a platform script assigned to a group that does not exist."""
    collections = snapshot["collections"]
    groups = {g["id"]: g for g in collections[tc.GROUPS]}
    device_groups = {i for i, g in groups.items() if _is_device_group(g)}
    user_group = next(i for i, g in groups.items() if _is_user_group(g))
    blocking = {
        app_id
        for config in collections[tc.ENROLLMENT_CONFIGURATIONS]
        if config.get("@odata.type") == ESP_TYPE
        for app_id in config.get("selectedMobileAppIds") or ()
    }

    def required_device_assignment(app: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return next(
            (
                a
                for a in app.get("assignments") or ()
                if a.get("intent") == "required" and a["target"].get("groupId") in device_groups
            ),
            None,
        )

    apps = [a for a in collections[tc.MOBILE_APPS] if required_device_assignment(a)]
    app = next((a for a in apps if a["id"] in blocking), apps[0])
    assignment = dict(required_device_assignment(app) or {})
    device_group = assignment["target"]["groupId"]
    moved_id = f"{app['id']}_{user_group}_bench"
    moved = {k: v for k, v in assignment.items() if k not in ("source", "sourceId")}
    moved.update(id=moved_id, target={**assignment["target"], "groupId": user_group})
    original = {k: v for k, v in assignment.items() if k not in ("source", "sourceId")}
    remove_original: dict[str, Any] = (
        {"assignmentId": assignment["id"]}
        if assignment.get("id")
        else {"target": {"groupId": device_group}}
    )
    app_move = Scenario(
        "app moved to a user group",
        "poll_intune_audit",
        change_document(
            {"op": "removeAssignment", "collection": tc.MOBILE_APPS, "id": app["id"]}
            | remove_original,
            {
                "op": "addAssignment",
                "collection": tc.MOBILE_APPS,
                "id": app["id"],
                "assignment": moved,
            },
        ),
        change_document(
            {
                "op": "removeAssignment",
                "collection": tc.MOBILE_APPS,
                "id": app["id"],
                "assignmentId": moved_id,
            },
            {
                "op": "addAssignment",
                "collection": tc.MOBILE_APPS,
                "id": app["id"],
                "assignment": original,
            },
        ),
    )
    profile_groups = [
        a["target"].get("groupId")
        for p in collections[tc.AUTOPILOT_PROFILES]
        if p.get("preprovisioningAllowed")
        for a in p.get("assignments") or ()
    ]
    paused = next(
        g
        for g in profile_groups
        if g in groups and "DynamicMembership" in (groups[g].get("groupTypes") or ())
    )
    group_pause = Scenario(
        "dynamic group paused",
        "poll_directory_changes",
        change_document(
            {"op": "setGroupRule", "id": paused, "membershipRuleProcessingState": "Paused"}
        ),
        change_document(
            {"op": "setGroupRule", "id": paused, "membershipRuleProcessingState": "On"}
        ),
    )
    script = collections[tc.PLATFORM_SCRIPTS][0]["id"]
    unknown = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-unknown-group:{script}"))
    script_unknown = Scenario(
        "script assigned to an unknown group",
        "poll_intune_audit",
        change_document(
            {
                "op": "addAssignment",
                "collection": tc.PLATFORM_SCRIPTS,
                "id": script,
                "assignment": {
                    "target": {
                        "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                        "groupId": unknown,
                    }
                },
            }
        ),
        change_document(
            {
                "op": "removeAssignment",
                "collection": tc.PLATFORM_SCRIPTS,
                "id": script,
                "target": {"groupId": unknown},
            }
        ),
    )
    return [app_move, group_pause, script_unknown]


@dataclass
class Handled:
    """One change through the guardrail, from the mutation to the alerts."""

    kind: str
    direction: str  # "break" or "undo"
    mode: str  # "incremental" or "full"
    poll_s: float = 0.0
    poll_graph: int = 0
    process_s: float = 0.0
    process_graph: int = 0
    messages: int = 0
    alerts: int = 0
    detection_s: float | None = None  # mutation -> first alert on the queue
    storage: dict[Any, int] = field(default_factory=dict)


def bootstrap(deployed: Deployment) -> tuple[float, int]:
    """The first `full` message (what `evaluate_now` queues), then the polls' first runs."""
    import azure.functions as func

    from bench.harness import handler

    request = func.HttpRequest(
        method="POST",
        url="/api/evaluate",
        params={"tenant": deployed.tenant_id},
        body=b"",
    )
    started = time.perf_counter()
    response = handler("evaluate_now")(request)
    assert response.status_code == 202, response.get_body()
    deployed.simulator.clear_log()
    deployed.deliver_changes()
    elapsed = time.perf_counter() - started
    graph = deployed.graph_requests()
    deployed.run_timer("poll_intune_audit")
    deployed.run_timer("poll_directory_changes")
    deployed.deliver_changes()
    deployed.drain(ALERTS_QUEUE)
    return elapsed, graph


def handle(deployed: Deployment, scenario: Scenario, direction: str, mode: str) -> Handled:
    """Apply one change and handle it: through its poll (incremental) or a `full` message."""
    document = scenario.breaks if direction == "break" else scenario.undoes
    result = Handled(scenario.kind, direction, mode)
    before = deployed.storage.snapshot()
    deployed.drain(ALERTS_QUEUE)
    started = time.perf_counter()
    deployed.simulator.apply_changes(document)
    if mode == "incremental":
        deployed.simulator.clear_log()
        poll_started = time.perf_counter()
        deployed.run_timer(scenario.poll)
        result.poll_s = time.perf_counter() - poll_started
        result.poll_graph = deployed.graph_requests()
    else:
        message = ChangeMessage.create(
            deployed.tenant_id, "manual", "full", discriminator=format_time_now()
        )
        deployed.queue(CHANGES_QUEUE).send_message(message.to_text())
    deployed.simulator.clear_log()
    process_started = time.perf_counter()
    result.messages = len(deployed.deliver_changes())
    result.process_s = time.perf_counter() - process_started
    result.process_graph = deployed.graph_requests()
    result.alerts = deployed.queue_length(ALERTS_QUEUE)
    if result.alerts:
        result.detection_s = time.perf_counter() - started
    result.storage = dict(delta(deployed.storage.snapshot(), before))
    deployed.drain(ALERTS_QUEUE)
    if mode == "full":
        # The audit records of the change are still ahead of the poll cursors: read them now
        # (nothing new to find) so that the next measured poll sees only its own change.
        deployed.run_timer(scenario.poll)
        deployed.deliver_changes()
        deployed.drain(ALERTS_QUEUE)
    return result


_COUNTER = [0]


def format_time_now() -> str:
    from datetime import UTC, datetime

    _COUNTER[0] += 1
    return f"{format_time(datetime.now(UTC))}-{_COUNTER[0]}"
