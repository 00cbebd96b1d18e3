"""Encrypted OMA-URI values: Graph answers string values encrypted; the reader asks for the plain
text of the ones a rule reads, and a setting it cannot read keeps ESP-010 UNKNOWN, never PASS."""

from __future__ import annotations

import asyncio
import copy
from typing import Any, Final

import pytest

from monitors.graph.client import GraphClient, RetryPolicy
from monitors.graph.credentials import LocalDevelopmentCredential
from monitors.graph.reader import TenantReader
from monitors.guardrail.composition import Services, process_change_text
from monitors.guardrail.queues import ChangeMessage
from rules import tenant_collections as tc
from rules.catalog import rule_by_id
from rules.engine import evaluate_snapshot
from rules.findings import Status
from rules.snapshot_model import TenantSnapshot
from samples import build_sample
from samples import graph_shapes as g
from tests.graphsim import Fault, GraphSimulator
from tests.graphsim.clients import graph_client
from tests.test_function_support import (
    empty_queues,  # noqa: F401 - fixture
    services,  # noqa: F401 - fixture
    simulator,  # noqa: F401 - fixture
    tenant_of,
)

FAST_RETRIES: Final = RetryPolicy(
    max_retries=1, base_delay_s=0.05, transport_retries=1, timeout_s=2.0
)
SKIP_USER_ESP: Final = "Autopilot - Skip account setup (user ESP)"
TIME_ZONE: Final = "Windows - Time zone"
FUNCTION: Final = "getOmaSettingPlainTextValue"


def configuration(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        c for c in document["collections"][tc.DEVICE_CONFIGURATIONS] if c["displayName"] == name
    )
    return found


@pytest.fixture
def tenant() -> dict[str, Any]:
    """The sample, with SkipUserStatusPage written as the String "True", as Graph reads it back."""
    document = copy.deepcopy(build_sample.build_sample_tenant())
    skip = configuration(document, SKIP_USER_ESP)
    [setting] = skip["omaSettings"]
    skip["omaSettings"] = [
        g.oma_setting_string(
            setting["displayName"],
            setting["description"],
            setting["omaUri"],
            "True",
            configuration_id=skip["id"],
        )
    ]
    return document


def read(sim: GraphSimulator) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with GraphClient(
            LocalDevelopmentCredential(), base_url=sim.url, retry=FAST_RETRIES
        ) as client:
            return await TenantReader(client, tenant_id="t").read()

    return asyncio.run(run())


def esp_010(document: dict[str, Any]) -> list[Any]:
    evaluation = evaluate_snapshot(
        TenantSnapshot.from_document(document), rules=[rule_by_id("ESP-010")]
    )
    return list(evaluation.findings)


def function_requests(sim: GraphSimulator) -> list[Any]:
    return [r for r in sim.request_log if FUNCTION in r.path]


def test_graph_answers_string_values_encrypted(tenant: dict[str, Any]) -> None:
    [setting] = configuration(tenant, SKIP_USER_ESP)["omaSettings"]
    assert setting["isEncrypted"] is True
    assert setting["value"] != "True"
    findings = esp_010(tenant)
    assert findings
    assert {f.status for f in findings} == {Status.UNKNOWN}
    assert "ReadWrite.All" in " ".join(r for f in findings for r in f.reasons)


def test_the_simulator_serves_the_plain_text_function(tenant: dict[str, Any]) -> None:
    skip = configuration(tenant, SKIP_USER_ESP)
    reference = skip["omaSettings"][0]["secretReferenceValueId"]
    with GraphSimulator(tenant) as sim, graph_client(sim, "beta") as client:
        path = f"{tc.DEVICE_CONFIGURATIONS}/{skip['id']}/{FUNCTION}"
        answer = client.get(f"{path}(secretReferenceValueId='{reference}')")
        unknown = client.get(f"{path}(secretReferenceValueId='{reference[:-1]}0')")
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"] == "True"
    assert answer.json()["@odata.context"].endswith("$metadata#Edm.String")
    assert unknown.status_code == 404


def test_the_reader_reads_the_plain_value_of_settings_rules_read(tenant: dict[str, Any]) -> None:
    with GraphSimulator(tenant) as sim:
        snapshot = read(sim)
        asked = function_requests(sim)
    [setting] = configuration(snapshot, SKIP_USER_ESP)["omaSettings"]
    assert (setting["isEncrypted"], setting["value"], setting["secretReferenceValueId"]) == (
        False,
        "True",
        None,
    )
    # Only that one: the time zone (a value no rule reads) stays encrypted and is not asked for.
    assert len(asked) == 1
    [time_zone] = configuration(snapshot, TIME_ZONE)["omaSettings"]
    assert time_zone["isEncrypted"] is True
    # Now readable: a string "True" is what the admin meant, not the documented Boolean.
    findings = esp_010(snapshot)
    assert findings
    assert {f.status for f in findings} == {Status.FAIL}
    assert all("as a string or integer" in f.message for f in findings)


def test_a_read_only_app_leaves_it_encrypted_and_esp_010_unknown(tenant: dict[str, Any]) -> None:
    with GraphSimulator(tenant) as sim:
        sim.add_fault(Fault(path=FUNCTION, kind="forbidden", times=None))
        snapshot = read(sim)
        asked = function_requests(sim)
    assert [r.status for r in asked] == [403]
    [setting] = configuration(snapshot, SKIP_USER_ESP)["omaSettings"]
    assert setting["isEncrypted"] is True
    assert tc.DEVICE_CONFIGURATIONS not in snapshot["errors"]
    findings = esp_010(snapshot)
    assert findings
    assert {f.status for f in findings} == {Status.UNKNOWN}


def test_a_refreshed_configuration_gets_its_plain_value_too(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
) -> None:
    tenant = tenant_of(simulator)
    process_change_text(services, ChangeMessage.create(tenant, "manual", "full").to_text())
    skip = configuration(simulator.tenant_snapshot(), SKIP_USER_ESP)
    [setting] = skip["omaSettings"]
    encrypted = g.oma_setting_string(
        setting["displayName"],
        setting["description"],
        setting["omaUri"],
        "True",
        configuration_id=skip["id"],
    )
    simulator.apply_changes(
        {
            "format": "greenscreen.tenant-changes/1",
            "changes": [
                {
                    "op": "set",
                    "collection": tc.DEVICE_CONFIGURATIONS,
                    "id": skip["id"],
                    "path": "omaSettings",
                    "value": [encrypted],
                }
            ],
        }
    )
    simulator.clear_log()
    message = ChangeMessage.create(
        tenant, "audit", "intune", {"collection": tc.DEVICE_CONFIGURATIONS, "id": skip["id"]}
    )
    process_change_text(services, message.to_text())
    stored = services.mirror.get_object(tenant, tc.DEVICE_CONFIGURATIONS, skip["id"])
    assert stored is not None
    assert [(s["isEncrypted"], s["value"]) for s in stored["omaSettings"]] == [(False, "True")]
    assert len(function_requests(simulator)) == 1
