"""The last step of the guardrail act of `make demo`: did pre-provisioning actually go green?

A technician pre-provisions a device of the sample tenant's pre-provisioning profile and the ESP
fails on an app Greenscreen already reported. Intune records the attempt
(`deviceManagement/autopilotEvents`, served by the Graph simulator); the deployment poll reads
it, looks up what Greenscreen said about that profile at that time, and posts one card with the
probable cause. Design: docs/deployments.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.functions.timer import TimerRequest

from monitors.deployments.accuracy import report
from monitors.store.deployment_store import DeploymentStore
from monitors.store.records import StoredStatus
from monitors.store.verdict_store import VerdictStore
from tests.graphsim import GraphSimulator
from tests.graphsim.deployments import StatusDetail, autopilot_event, signed_error

SERIAL = "5CG4410XQZ"
ERROR_CODE = 0x87D1041C  # the app was not detected after installation completed


def deployment_step(
    tenant_id: str,
    sim: GraphSimulator,
    store: VerdictStore,
    webhook_bodies: list[dict[str, Any]],
    handler: Callable[[str], Callable[[TimerRequest], None]],
    out: Path,
) -> bool:
    """A failed attempt on an app Greenscreen reported; True when it was alerted with its cause."""
    reported = [
        v.record
        for v in store.current_state(tenant_id).verdicts
        if v.record.status is StoredStatus.FAIL
        and v.record.rule_id == "APP-001"
        and v.record.subject_type == "mobileApp"
    ]
    if not reported:
        print("no APP-001 finding to compare a deployment with", flush=True)
        return False
    record = sorted(reported, key=lambda r: (r.scope_name, r.subject_name))[0]
    event = autopilot_event(
        serial=SERIAL,
        profile=record.scope_name,
        end=datetime.now(UTC) - timedelta(seconds=1),
        failed_in="deviceSetup",
    )
    sim.add_autopilot_event(
        event,
        [StatusDetail(record.subject_name, "application", "error", signed_error(ERROR_CODE))],
    )
    print(
        f"\nA technician pre-provisions {SERIAL} ({record.scope_name}); the ESP fails on "
        f"{record.subject_name}: Intune records the attempt (deviceManagement/autopilotEvents).",
        flush=True,
    )
    posted = len(webhook_bodies)
    handler("poll_autopilot_deployments")(TimerRequest(past_due=False))
    cards = webhook_bodies[posted:]
    for body in cards:
        card = body["attachments"][0]["content"]
        (out / "deployment-alert-card.json").write_text(
            json.dumps(body, indent=2) + "\n", encoding="utf-8"
        )
        print(f"poll_autopilot_deployments -> the Teams webhook received: {_text(card, 1)}")
    accuracy = report(DeploymentStore.beside(store), tenant_id, datetime.now(UTC))
    overall = accuracy["overall"]
    print(
        f"last 30 days: {accuracy['attempts']} pre-provisioning attempt(s), "
        f"{overall['truePositives']} predicted failure(s), "
        f"{overall['falseNegatives']} no rule explains, "
        f"{overall['falsePositives']} predicted failure(s) that went green",
        flush=True,
    )
    handler("poll_autopilot_deployments")(TimerRequest(past_due=False))  # again: nothing new
    return len(cards) == 1 and len(webhook_bodies) == posted + 1 and _cause_told(cards[0], record)


def _text(card: Mapping[str, Any], index: int) -> str:
    blocks = [b for b in card.get("body", ()) if b.get("type") == "TextBlock"]
    return str(blocks[index]["text"]) if len(blocks) > index else ""


def _cause_told(body: Mapping[str, Any], record: Any) -> bool:
    text = json.dumps(body, ensure_ascii=False)
    return f"APP-001 on {record.subject_name}" in text and f"0x{ERROR_CODE:08X}" in text
