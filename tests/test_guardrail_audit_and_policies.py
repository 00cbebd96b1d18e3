"""Audit records as Graph writes them, and the tenant policies no change channel reports.

End to end through the real function handlers (timers, `process_change`), the Graph simulator
over HTTP and Azurite:

- Intune audit records name the object's *derived* type (`Windows10CustomConfiguration`,
  `Windows10EnrollmentCompletionPageConfiguration`): the change reaches `process_change` and
  re-evaluates the rules that read it, in the same poll.
- A record nothing can place (a type Graph's models do not know, an id the mirror does not hold)
  is counted by type and leads to a re-read of the collections its component points at.
- The MDM user scope, the device registration policy and Conditional Access are compared with
  the mirror every directory poll; a change is re-read, re-evaluated and attributed to the
  directory audit that reports it. The delegated-only MDM scope stays UNKNOWN when unreadable.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from monitors.guardrail.audit_polling import AUDIT_VERSION, place_resources
from monitors.guardrail.queues import (
    ALERTS_QUEUE,
    CHANGES_QUEUE,
    AlertBatch,
    ChangeMessage,
    MessageError,
)
from monitors.store.verdict_store import VerdictStore
from monitors.telemetry import names
from rules import tenant_collections as tc
from tests.azurite import Azurite
from tests.graphsim import Fault, GraphSimulator
from tests.test_function_support import (
    drain,
    empty_queues,  # noqa: F401 - fixture
    sample_snapshot,
    simulator,  # noqa: F401 - fixture
    tenant_of,
)
from tests.test_guardrail_e2e import (
    ACTOR,
    CHANGE_FORMAT,
    baseline,
    causes,
    deliver,
    deployed,  # noqa: F401 - fixture
    run_timer,
)
from tests.test_telemetry import Captured, telemetry  # noqa: F401 - fixture

SKIP_USER_ESP_PROFILE = "b9fa7208-9698-54a2-b874-af3e71e573c7"  # windows10CustomConfiguration
DEFAULT_ESP = (
    "2ac43dfe-b52d-5454-a43a-41903be9693e_DefaultWindows10EnrollmentCompletionPageConfiguration"
)
INTUNE_MDM = "0000000a-0000-0000-c000-000000000000"


def change(*changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": CHANGE_FORMAT,
        "actor": {"userPrincipalName": ACTOR},
        "changes": list(changes),
    }


def queued(azurite: Azurite) -> list[ChangeMessage]:
    return [ChangeMessage.from_text(text) for text in drain(azurite, CHANGES_QUEUE)]


def alerts(azurite: Azurite) -> list[tuple[str, str, str]]:
    return [
        (a.transition["ruleId"], a.transition["from"], a.transition["to"])
        for t in drain(azurite, ALERTS_QUEUE)
        for a in AlertBatch.from_text(t).alerts
    ]


def verdict(store: VerdictStore, tenant: str, rule_id: str) -> set[str]:
    state = store.current_state(tenant)
    found = {v.record.status.value for v in state.verdicts if v.record.rule_id == rule_id}
    if any(count.rule_id == rule_id and count.passing for count in state.passing):
        found.add("pass")  # passes are counted per (rule, scope), not stored per subject
    return found


# -- Intune audit records -------------------------------------------------------------------------


def test_oma_uri_profile_change_named_by_its_derived_type_is_evaluated_in_one_poll(
    deployed: VerdictStore,  # noqa: F811 - fixture
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
) -> None:
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    run_timer("poll_intune_audit")
    assert drain(azurite, CHANGES_QUEUE) == []
    before = verdict(deployed, tenant, "ESP-010")

    [record] = simulator.apply_changes(
        change(
            {
                "op": "set",
                "collection": tc.DEVICE_CONFIGURATIONS,
                "id": SKIP_USER_ESP_PROFILE,
                "path": ["omaSettings", 0, "value"],
                "value": False,
            }
        )
    )
    assert record["resources"][0]["auditResourceType"] == "Windows10CustomConfiguration"
    simulator.clear_log()
    run_timer("poll_intune_audit")
    # Audit events are read on beta (see docs/guardrail.md, "Which Graph version").
    assert {(r.version, r.path) for r in simulator.request_log} == {
        (AUDIT_VERSION, "deviceManagement/auditEvents")
    }
    texts = drain(azurite, CHANGES_QUEUE)
    (message,) = [ChangeMessage.from_text(t) for t in texts]
    assert (message.kind, message.resource) == (
        "intune",
        {"collection": tc.DEVICE_CONFIGURATIONS, "id": SKIP_USER_ESP_PROFILE},
    )
    deliver(texts)
    after = verdict(deployed, tenant, "ESP-010")
    assert after != before
    assert {rule for rule, _, _ in alerts(azurite)} == {"ESP-010"}  # one per profile
    actor, rules = causes(deployed, tenant)[record["id"]]
    assert (actor, set(rules)) == (ACTOR, {"ESP-010"})


def test_esp_change_with_an_underscore_id_reaches_the_mirror_and_the_rules(
    deployed: VerdictStore,  # noqa: F811 - fixture
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
) -> None:
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    run_timer("poll_intune_audit")
    [record] = simulator.apply_changes(
        change(
            {
                "op": "set",
                "collection": tc.ENROLLMENT_CONFIGURATIONS,
                "id": DEFAULT_ESP,
                "path": "showInstallationProgress",
                "value": True,
            }
        )
    )
    resource = record["resources"][0]
    assert (resource["auditResourceType"], resource["resourceId"]) == (
        "Windows10EnrollmentCompletionPageConfiguration",
        DEFAULT_ESP,
    )
    run_timer("poll_intune_audit")
    texts = drain(azurite, CHANGES_QUEUE)
    messages = [ChangeMessage.from_text(t) for t in texts]
    # Refreshed by id where the id check accepts Intune's `<guid>_<type>` ids, else by a re-read
    # of the collection: either way it is not dropped, and it carries the actor's event.
    assert len(messages) == 1
    assert messages[0].kind in ("intune", "collections")
    assert messages[0].event_ids == (record["id"],)
    deliver(texts)
    from monitors.guardrail.composition import build_services
    from tests.test_function_support import guardrail_env

    services = build_services(guardrail_env(azurite, [{"tenantId": tenant}], simulator.url))
    stored = services.mirror.get_object(tenant, tc.ENROLLMENT_CONFIGURATIONS, DEFAULT_ESP)
    assert stored is not None
    assert stored["showInstallationProgress"] is True


def test_unplaceable_audit_resource_is_counted_and_rereads_its_component(
    azurite: Azurite,
    empty_queues: None,  # noqa: F811 - fixture
    telemetry: Captured,  # noqa: F811 - fixture
) -> None:
    from monitors.guardrail.composition import (
        build_services,
        poll_intune_audit_all,
        process_change_text,
    )
    from tests.test_function_support import guardrail_env

    snapshot = sample_snapshot()
    tenant = snapshot["tenantId"]
    with GraphSimulator(snapshot, seed=3) as sim:
        services = build_services(guardrail_env(azurite, [{"tenantId": tenant}], sim.url))
        process_change_text(services, ChangeMessage.create(tenant, "manual", "full").to_text())
        poll_intune_audit_all(services)
        [known] = sim.apply_changes(
            change(
                {
                    "op": "set",
                    "collection": tc.DEVICE_CONFIGURATIONS,
                    "id": SKIP_USER_ESP_PROFILE,
                    "path": "description",
                    "value": "renamed",
                }
            )
        )
        # The same object under a type name this release of Graph's models does not know: the
        # mirror knows the id.
        by_id = _renamed(known, "Windows13FutureConfiguration")
        # A new object of an unknown type, in the device configuration component.
        unknown = _renamed(known, "Windows13FutureConfiguration", str(uuid.uuid4()))
        # A known type that is none of ours changes nothing the rules read.
        other = _renamed(known, "ManagedDevice", str(uuid.uuid4()))
        placed = place_resources(tenant, [by_id, unknown, other], services.mirror)
        assert dict(placed.objects) == {
            (tc.DEVICE_CONFIGURATIONS, SKIP_USER_ESP_PROFILE): [by_id["id"]]
        }
        assert sorted(placed.reread) == sorted(
            [tc.DEVICE_CONFIGURATIONS, tc.SETTINGS_CATALOG_POLICIES, tc.PLATFORM_SCRIPTS]
        )
        assert placed.unmapped_types == ["Windows13FutureConfiguration"]

        # An assignment names its own id, `<parent id>_<group id>`: its parent is refreshed.
        assignment = _renamed(
            known, "DeviceConfigurationAssignment", f"{SKIP_USER_ESP_PROFILE}_{uuid.uuid4()}"
        )
        orphan = _renamed(known, "DeviceConfigurationAssignment", f"{uuid.uuid4()}_{uuid.uuid4()}")
        failed = dict(_renamed(known, "Windows10CustomConfiguration"), activityResult="Failure")
        read_only = dict(
            _renamed(known, "Windows10CustomConfiguration"), activityOperationType="Get"
        )
        navigations = place_resources(
            tenant, [assignment, orphan, failed, read_only], services.mirror
        )
        assert dict(navigations.objects) == {
            (tc.DEVICE_CONFIGURATIONS, SKIP_USER_ESP_PROFILE): [assignment["id"]]
        }
        assert dict(navigations.reread) == {tc.DEVICE_CONFIGURATIONS: [orphan["id"]]}
        assert navigations.unmapped_types == []  # a known navigation type is not "unmapped"

        # Through the poll: the unknown record is counted by type and becomes a re-read.
        sim.clear_log()
        _append_audit_events(sim, [unknown])
        outcome = poll_intune_audit_all(services)[tenant]
        assert not isinstance(outcome, Exception)
        texts = drain(azurite, CHANGES_QUEUE)
        by_kind = {m.kind: m for m in (ChangeMessage.from_text(t) for t in texts)}
        reread = by_kind["collections"]
        assert sorted(reread.resource["collections"]) == sorted(placed.reread)
        assert unknown["id"] in reread.event_ids
        assert (
            telemetry.total(
                names.METRIC_AUDIT_UNMAPPED,
                **{names.AUDIT_RESOURCE_TYPE: "Windows13FutureConfiguration"},
            )
            == 1
        )
        assert telemetry.total(names.METRIC_REREADS, **{names.REREAD_REASON: "unmapped_audit"}) == 3
        for text in texts:
            result = process_change_text(services, text)
            assert result.outcome in ("committed", "nothing-to-evaluate")
            # Read whole as a full read reads them (settings, assignments): nothing else moved.
            assert result.transitions == ()
        requested = {r.path.split("?")[0] for r in sim.request_log if r.method == "GET"}
        assert {tc.DEVICE_CONFIGURATIONS, tc.SETTINGS_CATALOG_POLICIES, tc.PLATFORM_SCRIPTS} <= (
            requested
        )


def _renamed(event: dict[str, Any], type_name: str, object_id: str | None = None) -> dict[str, Any]:
    renamed = copy.deepcopy(event)
    renamed["id"] = str(uuid.uuid4())
    resource = renamed["resources"][0]
    resource["auditResourceType"] = resource["type"] = type_name
    if object_id is not None:
        resource["resourceId"] = object_id
    return renamed


def _append_audit_events(sim: GraphSimulator, events: list[dict[str, Any]]) -> None:
    """Records Graph would write for changes the change document format cannot express."""
    from tests.graphsim.simulator import INTUNE_AUDIT_EVENTS

    with sim._lock:
        sim._audit_logs[INTUNE_AUDIT_EVENTS].extend(copy.deepcopy(events))


def test_collections_message_accepts_only_rereadable_collections() -> None:
    tenant = str(uuid.uuid4())
    ok = ChangeMessage.create(tenant, "delta", "collections", {"collections": [tc.MDM_POLICIES]})
    assert ChangeMessage.from_text(ok.to_text()) == ok
    for bad in ([], [tc.AUTOPILOT_DEVICES], [tc.GROUPS], [tc.MDM_POLICIES, tc.MDM_POLICIES], "x"):
        with pytest.raises(MessageError, match="re-readable collections"):
            ChangeMessage.create(tenant, "delta", "collections", {"collections": bad})


# -- tenant policies with no change channel -------------------------------------------------------


def test_mdm_scope_change_is_noticed_in_one_poll_and_alerted_with_its_actor(
    deployed: VerdictStore,  # noqa: F811 - fixture
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
    telemetry: Captured,  # noqa: F811 - fixture
) -> None:
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    run_timer("poll_directory_changes")
    assert drain(azurite, CHANGES_QUEUE) == []  # the mirror and Graph agree: nothing to re-read
    assert verdict(deployed, tenant, "ENR-001") == {"pass"}

    [audit] = simulator.apply_changes(
        change(
            {
                "op": "set",
                "collection": tc.MDM_POLICIES,
                "id": INTUNE_MDM,
                "path": "appliesTo",
                "value": "none",
            }
        )
    )
    assert audit["activityDisplayName"] == "Update mobility management policy"
    run_timer("poll_directory_changes")
    texts = drain(azurite, CHANGES_QUEUE)
    (message,) = [ChangeMessage.from_text(t) for t in texts]
    assert (message.kind, message.resource) == ("collections", {"collections": [tc.MDM_POLICIES]})
    assert message.event_ids == (audit["id"],)
    assert telemetry.total(names.METRIC_POLICY_CHANGES, **{names.COLLECTION: tc.MDM_POLICIES}) == 1

    deliver(texts)
    assert verdict(deployed, tenant, "ENR-001") == {"fail"}
    assert ("ENR-001", "pass", "fail") in alerts(azurite)
    assert causes(deployed, tenant)[audit["id"]][0] == ACTOR

    run_timer("poll_directory_changes")  # the mirror holds the new scope: nothing more
    assert drain(azurite, CHANGES_QUEUE) == []


def test_conditional_access_change_re_evaluates_the_compliance_rules(
    deployed: VerdictStore,  # noqa: F811 - fixture
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
) -> None:
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    run_timer("poll_directory_changes")
    policies = simulator.tenant_snapshot()["collections"][tc.CONDITIONAL_ACCESS_POLICIES]
    policy_id = policies[0]["id"]
    [audit] = simulator.apply_changes(
        change(
            {
                "op": "set",
                "collection": tc.CONDITIONAL_ACCESS_POLICIES,
                "id": policy_id,
                "path": "state",
                "value": "disabled",
            }
        )
    )
    assert audit["activityDisplayName"] == "Update conditional access policy"
    run_timer("poll_directory_changes")
    texts = drain(azurite, CHANGES_QUEUE)
    (message,) = [ChangeMessage.from_text(t) for t in texts]
    assert message.resource == {"collections": [tc.CONDITIONAL_ACCESS_POLICIES]}
    assert message.event_ids == (audit["id"],)

    from monitors.guardrail.composition import build_services, process_change_text
    from tests.test_function_support import guardrail_env

    services = build_services(guardrail_env(azurite, [{"tenantId": tenant}], simulator.url))
    outcome = process_change_text(services, texts[0])
    assert outcome.touched == (tc.CONDITIONAL_ACCESS_POLICIES,)
    assert outcome.rules_evaluated > 0
    stored = services.mirror.get_object(tenant, tc.CONDITIONAL_ACCESS_POLICIES, policy_id)
    assert stored is not None
    assert stored["state"] == "disabled"
    # CMP-001 reads Conditional Access: its facts now come from the changed policy set.
    assert verdict(deployed, tenant, "CMP-001")


def test_device_registration_policy_change_is_read_again(
    deployed: VerdictStore,  # noqa: F811 - fixture
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
) -> None:
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    run_timer("poll_directory_changes")
    [audit] = simulator.apply_changes(
        change(
            {
                "op": "set",
                "collection": tc.DEVICE_REGISTRATION_POLICY,
                "id": "deviceRegistrationPolicy",
                "path": "userDeviceQuota",
                "value": 5,
            }
        )
    )
    assert audit["activityDisplayName"] == "Set device registration policies"
    run_timer("poll_directory_changes")
    texts = drain(azurite, CHANGES_QUEUE)
    (message,) = [ChangeMessage.from_text(t) for t in texts]
    assert message.resource == {"collections": [tc.DEVICE_REGISTRATION_POLICY]}
    deliver(texts)
    from monitors.guardrail.composition import build_services
    from tests.test_function_support import guardrail_env

    services = build_services(guardrail_env(azurite, [{"tenantId": tenant}], simulator.url))
    stored = services.mirror.get_object(
        tenant, tc.DEVICE_REGISTRATION_POLICY, "deviceRegistrationPolicy"
    )
    assert stored is not None
    assert stored["userDeviceQuota"] == 5


def test_unreadable_delegated_only_mdm_scope_stays_unknown_and_costs_no_request(
    deployed: VerdictStore,  # noqa: F811 - fixture
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
) -> None:
    simulator.add_fault(Fault(path="mobileDeviceManagementPolicies", kind="forbidden", times=None))
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    assert verdict(deployed, tenant, "ENR-001") == {"unknown"}
    run_timer("poll_directory_changes")
    simulator.apply_changes(
        change(
            {
                "op": "set",
                "collection": tc.MDM_POLICIES,
                "id": INTUNE_MDM,
                "path": "appliesTo",
                "value": "none",
            }
        )
    )
    simulator.clear_log()
    run_timer("poll_directory_changes")
    assert not [r for r in simulator.request_log if "mobileDeviceManagementPolicies" in r.path]
    assert [m.kind for m in queued(azurite)] == []
    assert verdict(deployed, tenant, "ENR-001") == {"unknown"}
    assert deployed.history(tenant, since=datetime(2026, 1, 1, tzinfo=UTC)).items == ()


def test_a_policy_that_cannot_be_read_leaves_the_rest_of_the_directory_poll_working(
    azurite: Azurite,
    empty_queues: None,  # noqa: F811 - fixture
) -> None:
    from monitors.guardrail.composition import (
        build_services,
        poll_directory_all,
        process_change_text,
    )
    from monitors.guardrail.directory_polling import DirectoryOutcome
    from tests.test_function_support import ALL_DEVICES_GROUP, guardrail_env

    snapshot = sample_snapshot()
    tenant = snapshot["tenantId"]
    with GraphSimulator(snapshot, seed=4) as sim:
        services = build_services(guardrail_env(azurite, [{"tenantId": tenant}], sim.url))
        process_change_text(services, ChangeMessage.create(tenant, "manual", "full").to_text())
        poll_directory_all(services)
        sim.add_fault(Fault(path="conditionalAccess/policies", kind="forbidden", times=None))
        sim.apply_changes(
            change(
                {
                    "op": "setGroupRule",
                    "id": ALL_DEVICES_GROUP,
                    "membershipRuleProcessingState": "Paused",
                }
            )
        )
        outcome = poll_directory_all(services)[tenant]
        assert isinstance(outcome, DirectoryOutcome)
        assert outcome.policies_unreadable == {tc.CONDITIONAL_ACCESS_POLICIES: 403}
        assert [(m.kind, m.resource.get("id")) for m in queued(azurite)] == [
            ("group", ALL_DEVICES_GROUP)
        ]
