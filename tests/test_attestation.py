"""MDM scope attestation for app-only deployments, through the real Functions handlers.

The simulator answers 403 for the delegated-only MDM policies, as Graph does to a managed
identity. With an attestation in `TENANTS`, ENR-001 and ENR-003 are evaluated from it and shown
as attested (readiness, history, cards); when the directory audit shows the MDM policy changed
after the attestation, or it expires, they are UNKNOWN again and a card asks to re-attest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest

from monitors.attestation import (
    INTUNE_MDM_APP_ID,
    MdmAttestation,
    is_mdm_policy_change,
    operator_settings,
    parse_attestation,
)
from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE, AlertBatch
from monitors.guardrail.settings import SettingsError, parse_tenants
from monitors.store.keys import format_time
from monitors.store.records import ChangeEvent
from monitors.store.settings import store_from_settings
from monitors.store.verdict_store import VerdictStore
from rules import tenant_collections as tc
from rules.catalog import rule_by_id
from rules.engine import evaluate_snapshot
from rules.findings import Status
from rules.snapshot_model import TenantSnapshot
from tests.azurite import Azurite
from tests.graphsim import Fault, GraphSimulator
from tests.test_alert_sender import Receiver
from tests.test_function_support import (
    drain,
    empty_queues,  # noqa: F401 - fixture
    guardrail_env,
    reset_function_app,
    sample_snapshot,
    simulator,  # noqa: F401 - fixture
    tenant_of,
    user_function,
)
from tests.test_guardrail_e2e import deliver

NOW = datetime.now(UTC).replace(microsecond=0)
ATTESTOR = "jane.admin@contoso.onmicrosoft.com"


def attestation_json(**changes: Any) -> dict[str, Any]:
    document = {
        "mdmUserScope": "all",
        "otherMdmApps": "none",
        "attestedBy": ATTESTOR,
        "attestedAt": format_time(NOW - timedelta(days=1)),
        "expires": format_time(NOW + timedelta(days=90)),
    }
    document.update(changes)
    return document


@dataclass
class Deployed:
    store: VerdictStore
    teams: Receiver


@pytest.fixture
def app_only(
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
    monkeypatch: pytest.MonkeyPatch,
    empty_queues: None,  # noqa: F811 - fixture
) -> Iterator[Deployed]:
    """Deployed with an app-only identity (MDM policies answer 403), the tenant attested."""
    import function_app

    simulator.add_fault(Fault(rf"^{tc.MDM_POLICIES}", "forbidden", times=None))
    tenants = [{"tenantId": tenant_of(simulator), "mdmScopeAttestation": attestation_json()}]
    env = guardrail_env(azurite, tenants, simulator.url)
    receiver = Receiver()
    env.update(
        {
            "GREENSCREEN_HISTORY_BASE_URL": "https://greenscreen.example.org",
            "TEAMS_OPS_WEBHOOK": receiver.url.reveal(),
            "GREENSCREEN_ALERT_ROUTES": json.dumps(
                [{"name": "ops", "webhookSetting": "TEAMS_OPS_WEBHOOK", "minSeverity": "info"}]
            ),
        }
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_function_app()
    function_app._store.cache_clear()
    try:
        yield Deployed(store_from_settings(env), receiver)
    finally:
        receiver.close()
        reset_function_app()
        function_app._store.cache_clear()


def evaluate(azurite: Azurite, tenant: str) -> list[str]:
    request = func.HttpRequest(
        method="POST",
        url="/api/evaluate",
        params={},
        body=json.dumps({"tenantId": tenant}).encode(),
    )
    assert user_function("evaluate_now")(request).status_code == 202
    deliver(drain(azurite, CHANGES_QUEUE))
    return drain(azurite, ALERTS_QUEUE)


def readiness(tenant: str) -> dict[str, Any]:
    request = func.HttpRequest(
        method="GET", url="/api/readiness", params={"tenant": tenant}, body=b""
    )
    response = user_function("readiness")(request)
    assert response.status_code == 200
    document: dict[str, Any] = json.loads(response.get_body())
    return document


def verdict(document: dict[str, Any], rule_id: str) -> dict[str, Any]:
    (found,) = [v for v in document["verdicts"] if v["ruleId"] == rule_id]
    return found


def test_attested_scope_is_used_and_shown_as_attested_until_the_audit_shows_a_change(
    app_only: Deployed,
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
) -> None:
    tenant = tenant_of(simulator)
    assert evaluate(azurite, tenant) == []  # a baseline alerts nobody
    state = readiness(tenant)
    for rule_id in ("ENR-001", "ENR-003"):
        shown = verdict(state, rule_id)
        assert shown["status"] == "pass"  # not UNKNOWN forever ...
        assert shown["basis"] == "attested"  # ... and not presented as read from Graph
        assert ATTESTOR in shown["attestation"]
        assert "expires" in shown["attestation"]

    # The directory audit records a change of the Intune MDM policy after the attestation.
    app_only.store.record_change_events(
        tenant,
        [
            ChangeEvent(
                event_id="mdm-change-1",
                at=datetime.now(UTC),
                actor_type="user",
                actor_id="u-2",
                actor_name="mallory.admin@contoso.onmicrosoft.com",
                activity="Update mobility management policy",
                resource_type="MobilityManagementPolicy",
                resource_id=INTUNE_MDM_APP_ID,
                source="entra-directory-audit",
            )
        ],
    )
    texts = evaluate(azurite, tenant)
    alerts = [a for text in texts for a in AlertBatch.from_text(text).alerts]
    assert {(a.transition["ruleId"], a.transition["to"]) for a in alerts} == {
        ("ENR-001", "unknown"),
        ("ENR-003", "unknown"),
    }
    state = readiness(tenant)
    assert verdict(state, "ENR-001")["status"] == "unknown"
    assert "basis" not in verdict(state, "ENR-001")
    # History shows the attested verdict it left.
    request = func.HttpRequest(
        method="GET", url="/api/history", params={"tenant": tenant, "rule": "ENR-001"}, body=b""
    )
    history = json.loads(user_function("history")(request).get_body())
    (item,) = history["items"]
    assert "attest it again" in " ".join(item["reasons"])

    for index, text in enumerate(texts):
        user_function("send_alert")(func.QueueMessage(id=f"a{index}", body=text.encode()))
    (card,) = app_only.teams.bodies
    shown_text = re.sub(r"\\(.)", r"\1", json.dumps(card, ensure_ascii=False))
    assert "attestation lapsed" in shown_text
    assert "mallory.admin@contoso.onmicrosoft.com" in shown_text


def _sample_without_mdm() -> TenantSnapshot:
    document = sample_snapshot()
    document["collections"].pop(tc.MDM_POLICIES, None)
    document.setdefault("errors", {})[tc.MDM_POLICIES] = {
        "status": 403,
        "message": "Forbidden: application permissions are not supported",
    }
    return TenantSnapshot.from_document(document)


def _status(snapshot: TenantSnapshot, settings: Any, rule_id: str) -> Any:
    rules = [rule_by_id(rule_id)]
    (finding,) = evaluate_snapshot(snapshot, rules, settings).findings
    return finding


def test_an_expired_attestation_is_unknown_and_asks_to_attest_again() -> None:
    attestation = parse_attestation(attestation_json(), "t")
    snapshot = _sample_without_mdm()
    holding = _status(snapshot, operator_settings(attestation, NOW), "ENR-001")
    assert holding.status is Status.PASS
    assert any(ATTESTOR in reason for reason in holding.reasons)
    lapsed = operator_settings(attestation, attestation.expires + timedelta(seconds=1))
    for rule_id in ("ENR-001", "ENR-003"):
        finding = _status(snapshot, lapsed, rule_id)
        assert finding.status is Status.UNKNOWN
        assert any("attest it again" in reason for reason in finding.reasons)
    assert _status(snapshot, operator_settings(None, NOW), "ENR-001").status is Status.UNKNOWN


@pytest.mark.parametrize(
    ("others", "scope", "expected"),
    [
        ("none", "all", Status.PASS),
        ("active", "all", Status.FAIL),
        ("active", "none", Status.PASS),
    ],
)
def test_enr_003_counts_the_attested_mdm_applications(
    others: str, scope: str, expected: Status
) -> None:
    attestation = parse_attestation(attestation_json(otherMdmApps=others, mdmUserScope=scope), "t")
    finding = _status(_sample_without_mdm(), operator_settings(attestation, NOW), "ENR-003")
    assert finding.status is expected


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"mdmUserScope": "most"}, "mdmUserScope"),
        ({"otherMdmApps": "some"}, "otherMdmApps"),
        ({"attestedBy": ""}, "attestedBy"),
        ({"attestedBy": "x\x1b[2K"}, "attestedBy"),
        ({"attestedAt": "yesterday"}, "attestedAt"),
        ({"expires": format_time(NOW - timedelta(days=2))}, "expires"),
        ({"expires": format_time(NOW + timedelta(days=400))}, "expires"),
        ({"note": "x"}, "unknown keys"),
    ],
)
def test_a_malformed_attestation_is_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    tenants = [{"tenantId": "contoso.onmicrosoft.com", "mdmScopeAttestation": attestation_json()}]
    tenants[0]["mdmScopeAttestation"].update(changes)  # type: ignore[union-attr]
    with pytest.raises(SettingsError, match=re.escape(field)) as raised:
        parse_tenants(json.dumps(tenants))
    assert "TENANTS[0].mdmScopeAttestation" in str(raised.value)
    assert "\x1b" not in str(raised.value)


def test_mdm_policy_changes_are_told_apart_from_other_directory_changes() -> None:
    def event(activity: str, resource_type: str, resource_id: str = "x") -> ChangeEvent:
        return ChangeEvent("e", NOW, "user", "u", "n", activity, resource_type, resource_id, "s")

    assert is_mdm_policy_change(event("Update policy", "Policy", INTUNE_MDM_APP_ID))
    assert is_mdm_policy_change(event("Update mobility management policy", "Policy"))
    assert is_mdm_policy_change(event("Update MDM policy", "Policy"))
    assert not is_mdm_policy_change(event("Update group", "Group"))
    assert not is_mdm_policy_change(event("Add member to group", "Group"))
    assert isinstance(parse_attestation(attestation_json(), "t"), MdmAttestation)


def test_the_command_line_can_attest_both_mdm_facts(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitors.cli import main

    document = sample_snapshot()
    document["collections"].pop(tc.MDM_POLICIES, None)
    document.setdefault("errors", {})[tc.MDM_POLICIES] = {"status": 403, "message": "Forbidden"}
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    def statuses(*extra: str) -> dict[str, str]:
        main(["check", "--snapshot", str(path), "--format", "json", "--all", *extra])
        findings = json.loads(capsys.readouterr().out)["findings"]
        return {f["ruleId"]: f["status"] for f in findings if f["ruleId"] in ("ENR-001", "ENR-003")}

    assert statuses() == {"ENR-001": "unknown", "ENR-003": "unknown"}
    assert statuses("--attest-mdm-scope", "all") == {"ENR-001": "pass", "ENR-003": "unknown"}
    assert statuses("--attest-mdm-scope", "all", "--attest-other-mdm-apps", "none") == {
        "ENR-001": "pass",
        "ENR-003": "pass",
    }
    assert main(["check", "--snapshot", str(path), "--attest-other-mdm-apps", "none"]) == 2
    assert "needs --attest-mdm-scope" in capsys.readouterr().err
