"""The guardrail act of `make demo` (samples/demo_guardrail.py), run as the demo runs it: the
real function handlers against the Graph simulator and Azurite, a loopback Teams webhook.

The rest of the demo drives `greenscreen` commands that have tests of their own; this act is
the one whose story (a change arriving by notification, one transition, one card naming its
actor once the audit record came, redelivery harmless, a second break a second card) is only
told here, so its computed output is checked.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from samples import demo_guardrail
from samples.demo_guardrail import ACTOR, AUTOPILOT_GROUP, run_guardrail
from tests.azurite import Azurite
from tests.test_function_support import (
    empty_queues,  # noqa: F401 - fixture
    sample_snapshot,
    user_function,
)


def test_guardrail_act_alerts_a_notified_change_once_with_its_actor_and_a_second_break_again(
    azurite: Azurite,
    empty_queues: None,  # noqa: F811 - fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings: dict[str, str] = {}

    def remember(*args: Any) -> dict[str, str]:
        settings.update(real_settings_for(*args))
        return settings

    real_settings_for = demo_guardrail.settings_for
    monkeypatch.setattr(demo_guardrail, "settings_for", remember)
    tenant = sample_snapshot()  # the sample under a fresh tenant id: a store of its own
    monkeypatch.delenv("GREENSCREEN_CLIENT_STATE", raising=False)

    status = run_guardrail(tenant, azurite, handler=user_function, out=tmp_path)
    output = capsys.readouterr().out

    assert status == 0, output
    baseline = re.search(r"baseline recorded: (\d+) findings, (\d+) failing; 0 alerts", output)
    assert baseline is not None, output
    assert int(baseline[1]) > int(baseline[2]) > 0
    assert f"{ACTOR}: Pause dynamic membership processing of '{AUTOPILOT_GROUP}'" in output
    # The change arrives by notification: recorded at once, its alert held for the audit record.
    assert (
        f"receive_graph_notification answered 202; 1 message on `changes`: group "
        f"'{AUTOPILOT_GROUP}' from a notification with 0 audit events"
    ) in output
    assert "1 transition recorded at once, cause not known yet; 0 alerts visible" in output
    # The directory poll brings the audit record: attached, and the alert goes out.
    assert f"1 message on `changes`: group '{AUTOPILOT_GROUP}' with 1 audit event" in output
    assert "0 new transitions; the audit record is attached to the transition and 1 alert" in output
    (transition,) = [line for line in output.splitlines() if "caused by" in line]
    assert transition.split()[:4] == ["GRP-002", "group", "'Autopilot", "-"]
    assert "pass -> fail (error)" in transition
    assert transition.endswith(f"caused by {ACTOR} (Update group)")
    assert output.count("send_alert -> the Teams webhook received:") == 1
    assert "devices at risk: 40 registered Autopilot devices" in output

    # The card the webhook received, as written to out/.
    (card_file,) = tmp_path.glob("guardrail-alert-card*.json")
    card = json.loads(card_file.read_text())
    assert card["type"] == "message"
    assert "GRP-002" in json.dumps(card)
    assert ACTOR in json.dumps(card)

    # The history query: the transition, and the change event that caused it.
    tenant_id = tenant["tenantId"]
    history = table(output, f"$ greenscreen history --tenant {tenant_id}")
    (row,) = history[1:]  # exactly one transition
    assert row[1] == "GRP-002"
    assert row[-4:-1] == ["pass", "fail", "error"]
    changes = table(output, f"$ greenscreen history --tenant {tenant_id} --changes")
    (event,) = changes[1:]  # exactly one change event, which caused it
    assert event[-2:] == ["entra-directory-audit", "1"]
    assert ACTOR in event

    assert "(dequeue count 2): 0 new transitions." in output
    assert "The held copy shows up after" in output
    assert (
        "1 message -> send_alert, 0 cards posted: nothing new recorded, no second alert." in output
    )

    # Fixed (one resolved card), then broken again (a second card): each naming the admin.
    # The last two such lines (the deployment act follows them).
    resumed = [line for line in output.splitlines() if line.startswith(f"{ACTOR}: Resume")][-1]
    paused = [line for line in output.splitlines() if line.startswith(f"{ACTOR}: Pause")][-1]
    assert resumed.startswith(f"{ACTOR}: Resume dynamic membership processing")
    assert "-> 1 card (RESOLVED" in resumed
    assert resumed.endswith("1 naming the admin")
    assert paused.startswith(f"{ACTOR}: Pause dynamic membership processing")
    assert "-> 1 card (" in paused
    assert "RESOLVED" not in paused
    assert paused.endswith("1 naming the admin")

    # Then a real pre-provisioning attempt fails on an app Greenscreen reported: one card with
    # the probable cause, and the report counts it as a predicted failure.
    (deployment,) = [
        line for line in output.splitlines() if line.startswith("poll_autopilot_deployments ->")
    ]
    assert "Device 5CG4410XQZ failed in device setup: app " in deployment
    assert ", error 0x87D1041C. Greenscreen has reported APP-001 on " in deployment
    assert output.rstrip().endswith(
        "last 30 days: 1 pre-provisioning attempt(s), 1 predicted failure(s), 0 no rule "
        "explains, 0 predicted failure(s) that went green"
    )
    card = json.loads((tmp_path / "deployment-alert-card.json").read_text(encoding="utf-8"))
    assert "Pre-provisioning failed where Greenscreen predicted it" in json.dumps(card)

    # Secrets stay in the settings: neither the clientState nor the webhook URL is printed,
    # and the settings are gone from the environment afterwards.
    assert settings["GREENSCREEN_CLIENT_STATE"] not in output
    assert settings[demo_guardrail.WEBHOOK_SETTING] not in output
    assert "GREENSCREEN_CLIENT_STATE" not in os.environ


def table(output: str, command: str) -> list[list[str]]:
    """The rows (header first) printed after `command`, up to the next blank line."""
    after = output.split(command + "\n", 1)[1]
    return [line.split() for line in after.split("\n\n", 1)[0].splitlines()]
