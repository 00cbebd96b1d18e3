"""process_change on a warm instance: the snapshot model of the tenant is kept beside the
mirror's cached copy, so a change parses only the objects it brought in, and finds exactly what
a cold instance finds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitors.guardrail import change_processing
from monitors.guardrail.composition import Services, build_services
from monitors.guardrail.queues import ChangeMessage
from monitors.guardrail.snapshot_models import MODEL_CACHE_SETTING
from rules import tenant_collections as tc
from rules.engine import Evaluation
from rules.snapshot_model import TenantSnapshot
from tests.azurite import Azurite
from tests.graphsim import GraphSimulator
from tests.test_function_support import (
    ALL_DEVICES_GROUP,
    empty_queues,  # noqa: F401 - fixture
    guardrail_env,
    services,  # noqa: F401 - fixture
    simulator,  # noqa: F401 - fixture
    tenant_of,
)
from tests.test_guardrail_processing import (
    CHANGE_FORMAT,
    NEW_GROUP,
    PAUSE,
    SCRIPT,
    process,
    read_baseline,
)

SCRIPT_TO_A_MISSING_GROUP = {
    "format": CHANGE_FORMAT,
    "changes": [
        {
            "op": "addAssignment",
            "collection": tc.PLATFORM_SCRIPTS,
            "id": SCRIPT,
            "assignment": {
                "target": {
                    "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                    "groupId": NEW_GROUP,
                }
            },
        }
    ],
}


def findings_of(evaluation: Evaluation) -> list[str]:
    return sorted(json.dumps(f.as_json(), sort_keys=True) for f in evaluation.findings)


def test_a_warm_instance_parses_only_the_changed_object_and_finds_what_a_cold_one_finds(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evaluated: list[tuple[TenantSnapshot, Evaluation]] = []
    evaluate = change_processing.evaluate_observed

    def observed(snapshot: TenantSnapshot, **kwargs: Any) -> Evaluation:
        evaluation = evaluate(snapshot, **kwargs)
        evaluated.append((snapshot, evaluation))
        return evaluation

    monkeypatch.setattr(change_processing, "evaluate_observed", observed)
    tenant = tenant_of(simulator)
    read_baseline(services, tenant)
    simulator.apply_changes(PAUSE)
    process(services, ChangeMessage.create(tenant, "delta", "group", {"id": ALL_DEVICES_GROUP}))
    first = evaluated[-1][0]
    # The first change's load read the whole mirror (new objects): parsed whole, then kept.
    assert services.models.last.reused == 0
    assert services.models.kept_version(tenant) == services.mirror.version(tenant)

    simulator.apply_changes(SCRIPT_TO_A_MISSING_GROUP)
    script_change = {"collection": tc.PLATFORM_SCRIPTS, "id": SCRIPT}
    outcome = process(services, ChangeMessage.create(tenant, "audit", "intune", script_change))
    # The change flips a verdict: a model that missed the changed script would not see it.
    assert outcome.transitions
    assert services.models.last.parsed == 1
    assert services.models.last.parsed_collections == (tc.PLATFORM_SCRIPTS,)
    warm_snapshot, warm = evaluated[-1]
    assert warm_snapshot is not first
    # Collections the change did not touch are the very objects parsed for the first change.
    assert warm_snapshot.groups is first.groups
    assert warm_snapshot.entra_devices is first.entra_devices
    assert warm_snapshot.autopilot_devices is first.autopilot_devices
    assert warm_snapshot.mobile_apps is first.mobile_apps
    assert warm_snapshot.platform_scripts != first.platform_scripts

    # A cold instance (its own mirror copy, no kept models) handles the same change again.
    env = guardrail_env(azurite, [{"tenantId": tenant}], simulator.url)
    cold = build_services({**env, MODEL_CACHE_SETTING: "0"})
    assert cold.models.max_tenants == 0
    again = process(cold, ChangeMessage.create(tenant, "audit", "intune", script_change))
    assert again.transitions == ()  # already recorded by the warm instance
    assert cold.models.last.reused == 0
    assert cold.mirror.last_load.mode == "full"
    cold_snapshot, cold_evaluation = evaluated[-1]
    assert cold_snapshot.groups is not first.groups
    assert findings_of(cold_evaluation) == findings_of(warm)
