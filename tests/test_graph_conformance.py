"""Every object we serve, bundle or generate has the shape Microsoft's published Graph models give
its `@odata.type`, and every property a rule reads exists in those models.

Models: `msgraph_beta` (beta; Intune, the MDM policies, Intune audit events) and `msgraph` (v1.0;
groups, devices, the device registration policy, Conditional Access, directory audits,
subscriptions). See `tests/graph_models.py` and docs/graph-simulator.md, "Shapes and models".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import pytest

from monitors.graph.collections import spec_for
from rules import tenant_collections as tc
from rules.engine import evaluate_snapshot
from rules.snapshot_model import TenantSnapshot
from samples import build_sample
from samples.graph_shapes import EMPTY_GUID
from samples.synthetic import generate_tenant
from tests.graph_models import (
    COLLECTION_MODELS,
    DIRECTORY_AUDIT,
    DIRECTORY_OBJECT,
    GRAPH_EXTRA_PROPERTIES,
    INTUNE_AUDIT_EVENT,
    SUBSCRIPTION,
    check_collection,
    check_object,
)
from tests.graphsim import GraphSimulator
from tests.graphsim.clients import graph_client
from tests.graphsim.sample_tenants import examples_tenant, tiny_tenant
from tests.graphsim.webhook_receiver import WebhookReceiver
from tests.rule_reads import (
    ReadLog,
    all_wire_names,
    instrumented_document,
    literal_reads,
    recording_freeze,
    rule_sources,
    unknown_literal_reads,
)
from tests.tenant_builder import healthy_tenant

REPOSITORY: Final = Path(__file__).resolve().parents[1]
PAUSE_CHANGE: Final = REPOSITORY / "samples" / "what-if" / "pause-autopilot-all-devices.json"

# Small, but every kind the generator makes shows up (checked below against a larger tenant).
SMALL: Final = {
    "apps": 200,
    "device_configurations": 60,
    "settings_policies": 24,
    "scripts": 6,
    "enrollment_configurations": 12,
    "profiles": 6,
    "groups": 60,
    "devices": 24,
    "compliance_policies": 8,
    "filters": 4,
}

# The doc examples are verbatim Graph documentation: a property the docs still show that the
# published model has dropped is listed here with the page it comes from.
DOC_EXAMPLE_EXTRA: Final = {
    **GRAPH_EXTRA_PROPERTIES,
    ("DeviceManagementScript", "runSchedule"): (
        "microsoft-graph-docs-contrib api-reference/beta/api/"
        "intune-shared-devicemanagementscript-get.md (example response)"
    ),
}


def problems_of(document: Mapping[str, Any], **options: Any) -> list[str]:
    return [
        problem
        for path, objects in document["collections"].items()
        for problem in check_collection(path, objects, **options)
    ]


def synthetic(**sizes: int) -> dict[str, Any]:
    return generate_tenant(**{**SMALL, **sizes}, seed=7)


def odata_types(document: Mapping[str, Any]) -> set[str]:
    """The @odata.type of every object and nested object."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, Mapping):
            odata_type = value.get("@odata.type")
            if isinstance(odata_type, str):
                found.add(odata_type)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document["collections"])
    return found


# --- the models -------------------------------------------------------------------------------


def test_every_snapshot_collection_has_a_model() -> None:
    assert set(COLLECTION_MODELS) == set(tc.ALL_COLLECTIONS)


def test_every_excused_property_cites_where_graph_returns_it() -> None:
    for (model, name), source in DOC_EXAMPLE_EXTRA.items():
        assert model
        assert name
        assert "learn.microsoft.com" in source or "github.com" in source or ".md" in source


# --- the tenants ------------------------------------------------------------------------------


def test_contoso_sample_conforms() -> None:
    assert problems_of(build_sample.build_sample_tenant()) == []


def test_synthetic_tenant_conforms() -> None:
    assert problems_of(synthetic()) == []


def test_small_synthetic_tenant_holds_every_kind_the_generator_makes() -> None:
    small = odata_types(synthetic())
    larger = odata_types(synthetic(**{key: value * 4 for key, value in SMALL.items()}))
    assert larger - small == set()


def test_simulator_sample_tenants_conform() -> None:
    assert problems_of(tiny_tenant()) == []
    assert problems_of(examples_tenant(), hashless_ok=True, exceptions=DOC_EXAMPLE_EXTRA) == []


def test_rule_test_tenant_conforms() -> None:
    assert problems_of(healthy_tenant().document()) == []


def test_records_the_simulator_writes_conform() -> None:
    """Audit events and directory audits the simulator appends, and subscriptions it creates."""
    change = json.loads(PAUSE_CHANGE.read_text(encoding="utf-8"))
    with GraphSimulator(build_sample.build_sample_tenant()) as sim, WebhookReceiver() as receiver:
        sim.apply_changes(change)
        sim.apply_changes(
            {
                "format": "greenscreen.tenant-changes/1",
                "actor": {"userPrincipalName": "adele.vance@contoso.com"},
                "changes": [
                    {
                        "op": "set",
                        "collection": tc.MOBILE_APPS,
                        "id": sim.tenant_snapshot()["collections"][tc.MOBILE_APPS][0]["id"],
                        "path": "displayName",
                        "value": "Renamed app",
                    }
                ],
            }
        )
        with graph_client(sim, "v1.0") as client:
            created = client.post(
                "subscriptions",
                json={
                    "changeType": "updated",
                    "notificationUrl": receiver.url,
                    "resource": "groups",
                    "expirationDateTime": (sim.now() + timedelta(days=2))
                    .isoformat()
                    .replace("+00:00", "Z"),
                    "clientState": "conformance",
                },
            )
        intune_events, directory_audits = sim.audit_events(), sim.directory_audits()
    assert created.status_code == 201, created.text
    assert intune_events
    assert directory_audits
    subscription = {k: v for k, v in created.json().items() if k != "@odata.context"}
    problems = [
        *(
            problem
            for index, event in enumerate(intune_events)
            for problem in check_object(event, INTUNE_AUDIT_EVENT, f"auditEvents[{index}]")
        ),
        *(
            problem
            for index, audit in enumerate(directory_audits)
            for problem in check_object(audit, DIRECTORY_AUDIT, f"directoryAudits[{index}]")
        ),
        *check_object(subscription, SUBSCRIPTION, "subscription"),
    ]
    assert problems == []


# --- the check can fail -------------------------------------------------------------------------


def test_a_property_the_model_lacks_is_reported() -> None:
    document = healthy_tenant().document()
    document["collections"][tc.MOBILE_APPS][0]["installExperiance"] = {"runAsAccount": "system"}
    assert any("has no property 'installExperiance'" in p for p in problems_of(document))


def test_an_unmapped_type_is_reported() -> None:
    document = healthy_tenant().document()
    document["collections"][tc.DEVICE_CONFIGURATIONS].append(
        {"@odata.type": "#microsoft.graph.windows10CustomConfig", "id": "x"}
    )
    document["collections"][tc.GROUPS].append({"@odata.type": "#microsoft.graph.Group", "id": "y"})
    problems = problems_of(document)
    assert any("'#microsoft.graph.windows10CustomConfig' is not" in p for p in problems)
    assert any("is spelled '#microsoft.graph.group'" in p for p in problems)


def test_an_enum_value_the_model_lacks_is_reported() -> None:
    document = healthy_tenant().document()
    app = next(
        a
        for a in document["collections"][tc.MOBILE_APPS]
        if a.get("@odata.type") == "#microsoft.graph.win32LobApp"
    )
    app["installExperience"]["runAsAccount"] = "System"
    app["applicableArchitectures"] = "x64,arm65"
    problems = problems_of(document)
    assert any("'System' is not a RunAsAccountType value" in p for p in problems)
    assert any("'arm65' is not a WindowsArchitecture value" in p for p in problems)


def test_a_value_of_the_wrong_type_is_reported() -> None:
    document = healthy_tenant().document()
    document["collections"][tc.ENROLLMENT_CONFIGURATIONS][0]["priority"] = "1"
    assert any(".priority: '1' is not a int" in p for p in problems_of(document))


# --- what the rules read ------------------------------------------------------------------------


def rule_read_log(document: Mapping[str, Any]) -> ReadLog:
    log = ReadLog()
    with recording_freeze():
        evaluate_snapshot(TenantSnapshot.from_document(instrumented_document(document, log)))
    return log


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(build_sample.build_sample_tenant, id="contoso"),
        pytest.param(synthetic, id="synthetic"),
        pytest.param(lambda: healthy_tenant().document(), id="rule-tests"),
    ],
)
def test_every_property_a_rule_reads_exists_on_the_real_type(document: Any) -> None:
    log = rule_read_log(document())
    assert len(log.reads) > 100  # the recording saw the rules at work
    assert log.misreads() == []


def test_every_property_name_in_the_rule_code_exists_in_graph() -> None:
    reads = [
        read
        for path, source in rule_sources()
        for read in literal_reads(source, str(path.relative_to(REPOSITORY)))
    ]
    assert len(reads) > 100
    assert unknown_literal_reads(reads, all_wire_names()) == []


def test_a_rule_reading_a_misspelled_property_is_caught_statically() -> None:
    source = (
        "from rules.graph_json import optional_str\n"
        "_KEY = 'installComandLine'\n"
        "def evaluate(app):\n"
        "    return optional_str(app.raw, _KEY), app.raw.get('displayNmae'), app.raw['id']\n"
        "def nested(setting):\n"
        "    return setting.get('vaule')\n"
    )
    reads = literal_reads(source, "rules/checks/new_rule.py")
    assert {r.name for r in reads} == {"installComandLine", "displayNmae", "id", "vaule"}
    assert sorted(unknown_literal_reads(reads, all_wire_names())) == [
        "rules/checks/new_rule.py:4: 'displayNmae' is a property of no Graph model a snapshot "
        "holds",
        "rules/checks/new_rule.py:4: 'installComandLine' is a property of no Graph model a "
        "snapshot holds",
        "rules/checks/new_rule.py:6: 'vaule' is a property of no Graph model a snapshot holds",
    ]


def test_a_rule_reading_a_misspelled_property_is_caught_while_it_runs() -> None:
    log = ReadLog()
    with recording_freeze():
        snapshot = TenantSnapshot.from_document(
            instrumented_document(healthy_tenant().document(), log)
        )
    for app in snapshot.mobile_apps or ():
        app.raw.get("instalExperience")
    assert any("reads 'instalExperience'" in p for p in log.misreads())


# --- real shapes --------------------------------------------------------------------------------


def block_actions(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for policy in document["collections"][tc.COMPLIANCE_POLICIES]:
        for rule in policy.get("scheduledActionsForRule") or ():
            for action in rule.get("scheduledActionConfigurations") or ():
                if action.get("actionType") == "block":
                    yield action


@pytest.mark.parametrize(
    "document", [build_sample.build_sample_tenant, synthetic], ids=["contoso", "synthetic"]
)
def test_block_actions_carry_the_all_zero_template_guid(document: Any) -> None:
    actions = list(block_actions(document()))
    assert actions
    assert {action["notificationTemplateId"] for action in actions} == {EMPTY_GUID}


SECRET_REFERENCE: Final = re.compile(
    r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}_(?P<configuration>[^_]+)_"
    r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$"
)


@pytest.mark.parametrize(
    "document", [build_sample.build_sample_tenant, synthetic], ids=["contoso", "synthetic"]
)
def test_string_oma_values_come_back_encrypted(document: Any) -> None:
    found = 0
    for configuration in document()["collections"][tc.DEVICE_CONFIGURATIONS]:
        for setting in configuration.get("omaSettings") or ():
            if setting["@odata.type"] != "#microsoft.graph.omaSettingString":
                assert setting["isEncrypted"] is False
                continue
            found += 1
            assert setting["isEncrypted"] is True
            reference = SECRET_REFERENCE.match(setting["secretReferenceValueId"])
            assert reference is not None
            assert reference["configuration"] == configuration["id"]
    assert found


def test_the_bundled_sample_is_its_builders_output() -> None:
    bundled = json.loads((REPOSITORY / "samples" / "contoso-sample.json").read_text("utf-8"))
    assert bundled == json.loads(json.dumps(build_sample.build_sample_tenant()))


def test_the_excused_properties_are_not_needed_by_our_data_alone() -> None:
    """Each excuse is exercised: without it, some tenant we hold would fail."""
    document = build_sample.build_sample_tenant()
    assert any("'createdDateTime'" in p for p in problems_of(document, exceptions={}))


def served_objects(client: Any, path: str) -> Iterator[dict[str, Any]]:
    """Every object a GET of `path` answers, following nextLinks; annotations dropped."""
    url: str | None = path
    while url:
        body = client.get(url).raise_for_status().json()
        items = body.get("value", [body])
        for item in items:
            yield {
                k: v for k, v in item.items() if not k.startswith("@odata.") or k == "@odata.type"
            }
        url = body.get("@odata.nextLink")


def test_what_the_simulator_serves_conforms() -> None:
    """Every collection as served over HTTP (in the version the reader reads it), the groups'
    members, delta pages, and single objects."""
    snapshot = build_sample.build_sample_tenant()
    group = next(
        g for g in snapshot["collections"][tc.GROUPS] if "DynamicMembership" not in g["groupTypes"]
    )
    configuration = snapshot["collections"][tc.DEVICE_CONFIGURATIONS][0]
    problems: list[str] = []
    with GraphSimulator(snapshot) as sim:
        for path in tc.ALL_COLLECTIONS:
            # Groups are read by id, the rest as `COLLECTION_SPECS` says.
            version = "v1.0" if path == tc.GROUPS else spec_for(path).version
            with graph_client(sim, version) as client:
                objects = list(served_objects(client, path))
            assert objects, path
            problems.extend(check_collection(path, objects))
        with graph_client(sim, "v1.0") as client:
            members = list(served_objects(client, f"groups/{group['id']}/members"))
            delta = [
                item for item in served_objects(client, "groups/delta") if "@removed" not in item
            ]
        with graph_client(sim, "beta") as client:
            single = list(
                served_objects(client, f"{tc.DEVICE_CONFIGURATIONS}/{configuration['id']}")
            )
    assert members
    problems.extend(
        p for i, m in enumerate(members) for p in check_object(m, DIRECTORY_OBJECT, f"members[{i}]")
    )
    problems.extend(
        check_collection(
            tc.GROUPS, [{k: v for k, v in d.items() if k != "members@delta"} for d in delta]
        )
    )
    problems.extend(check_collection(tc.DEVICE_CONFIGURATIONS, single))
    assert problems == []


def test_autopilot_deployment_events_the_simulator_serves_conform() -> None:
    """Events and their policy status details, read over HTTP, in Microsoft's beta models."""
    from msgraph_beta.generated.models.device_management_autopilot_event import (
        DeviceManagementAutopilotEvent,
    )
    from msgraph_beta.generated.models.device_management_autopilot_policy_status_detail import (
        DeviceManagementAutopilotPolicyStatusDetail,
    )

    from tests.graphsim.deployments import (
        WHITE_GLOVE_HYBRID,
        StatusDetail,
        autopilot_event,
        signed_error,
    )

    with GraphSimulator(tiny_tenant()) as sim:
        end = sim.now()
        failed = autopilot_event(serial="5CG4410AAA", profile="P", end=end, failed_in="deviceSetup")
        sim.add_autopilot_event(
            failed,
            [
                StatusDetail("Contoso VPN", "application", "error", signed_error(0x87D1041C)),
                StatusDetail("Baseline", "configurationPolicy", "compliant"),
                StatusDetail("Store app", "appModel", "notInstalled", signed_error(0x80070002)),
            ],
        )
        sim.add_autopilot_event(
            autopilot_event(serial="5CG4410BBB", profile="P", end=end),
        )
        sim.add_autopilot_event(
            autopilot_event(
                serial="5CG4410CCC", profile="H", end=end, enrollment_type=WHITE_GLOVE_HYBRID
            ),
        )
        with graph_client(sim, "beta") as client:
            events = client.get("deviceManagement/autopilotEvents").json()["value"]
            details = client.get(
                f"deviceManagement/autopilotEvents/{failed['id']}/policyStatusDetails"
            ).json()["value"]
    assert len(events) == 3
    assert len(details) == 3
    problems = [
        *(
            problem
            for index, event in enumerate(events)
            for problem in check_object(
                event, DeviceManagementAutopilotEvent, f"autopilotEvents[{index}]"
            )
        ),
        *(
            problem
            for index, detail in enumerate(details)
            for problem in check_object(
                detail,
                DeviceManagementAutopilotPolicyStatusDetail,
                f"policyStatusDetails[{index}]",
            )
        ),
    ]
    assert problems == []
