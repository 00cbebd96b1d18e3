"""Telemetry through real flows: the names and attributes dashboards rely on, and no secrets.

Each test installs its own in-memory providers (`use_providers`): the global providers can be set
only once per process, and production code looks its providers up at the moment of use. The
flows are the real ones: the Graph reader over HTTP against the simulator (with throttling), the
rules engine over the sample tenant, and the Functions handlers with real `azure.functions`
objects against Azurite. Exporter setup runs in child processes (it sets global providers).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from monitors.graph.client import GraphClient, RetryPolicy
from monitors.graph.credentials import LocalDevelopmentCredential
from monitors.graph.reader import TenantReader
from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE, AlertMessage, ChangeMessage
from monitors.telemetry import names
from monitors.telemetry.evaluation import evaluate_observed
from monitors.telemetry.graph import RequestShape
from monitors.telemetry.instruments import use_providers
from rules.catalog import all_rules
from rules.engine import Rule
from rules.snapshot_model import TenantSnapshot
from tests.azurite import Azurite
from tests.graphsim import Fault, GraphSimulator
from tests.test_alert_dispatch import paused_group_transition
from tests.test_alert_sender import SECRET, Answer, Receiver
from tests.test_function_support import (
    ALL_DEVICES_GROUP,
    CLIENT_STATE,
    drain,
    empty_queues,  # noqa: F401 - fixture
    guardrail_env,
    reset_function_app,
    sample_snapshot,
    user_function,
)

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "contoso-sample.json"
FAST_RETRIES = RetryPolicy(max_retries=3, base_delay_s=0.05, transport_retries=1, timeout_s=5.0)
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
CHANGE_FORMAT = "greenscreen.tenant-changes/1"


# -- capturing -----------------------------------------------------------------------------------


@dataclass
class Captured:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    collected: list[Any] = field(default_factory=list)  # every collection, oldest first

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        found = list(self.exporter.get_finished_spans())
        return [s for s in found if name is None or s.name == name]

    def one(self, name: str, **attributes: Any) -> ReadableSpan:
        matching = [
            s
            for s in self.spans(name)
            if all((s.attributes or {}).get(k) == v for k, v in attributes.items())
        ]
        assert len(matching) == 1, [dict(s.attributes or {}) for s in self.spans(name)]
        return matching[0]

    def points(self, metric: str) -> list[tuple[dict[str, Any], Any]]:
        """The metric's points in the latest collection that has it. Counters and histograms
        are cumulative, so the latest has everything; readiness is reported once per value."""
        self.collected.append(self.reader.get_metrics_data())
        for data in reversed(self.collected):
            found: list[tuple[dict[str, Any], Any]] = []
            for resource_metrics in data.resource_metrics if data else ():
                for scope_metrics in resource_metrics.scope_metrics:
                    for each in scope_metrics.metrics:
                        if each.name == metric:
                            found += [(dict(p.attributes or {}), p) for p in each.data.data_points]
            if found:
                return found
        return []

    def total(self, metric: str, **attributes: Any) -> float:
        return sum(
            point.value
            for attrs, point in self.points(metric)
            if all(attrs.get(k) == v for k, v in attributes.items())
        )

    def everything(self) -> str:
        """Every span (name, attributes, events, status, resource) and metric point as text."""
        parts: list[str] = []
        for s in self.spans():
            parts += [s.name, repr(dict(s.attributes or {})), repr(s.status.description)]
            parts += [repr((e.name, dict(e.attributes or {}))) for e in s.events]
            parts.append(repr(dict(s.resource.attributes)))
        self.collected.append(self.reader.get_metrics_data())
        for data in self.collected:
            for resource_metrics in data.resource_metrics if data else ():
                for scope_metrics in resource_metrics.scope_metrics:
                    for each in scope_metrics.metrics:
                        parts += [each.name, each.description]
                        parts += [repr(dict(p.attributes or {})) for p in each.data.data_points]
        return "\n".join(parts)


@pytest.fixture
def telemetry() -> Iterator[Captured]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    use_providers(tracer_provider, meter_provider)
    yield Captured(exporter, reader)
    use_providers(None, None)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def descendants(captured: Captured, root: ReadableSpan) -> list[ReadableSpan]:
    assert root.context is not None
    return [
        s
        for s in captured.spans()
        if s.context is not None and s.context.trace_id == root.context.trace_id and s is not root
    ]


# -- Graph requests ------------------------------------------------------------------------------


def test_request_shape_replaces_ids_and_drops_query_values() -> None:
    shape = RequestShape.of(
        "https://graph.microsoft.com/beta/deviceAppManagement/mobileApps/"
        "726fa256-e828-5e6f-8b88-e64c38807a52/assignments?$expand=target&$filter=x eq 'secret'"
    )
    assert (shape.version, shape.template, shape.query_options) == (
        "beta",
        "deviceAppManagement/mobileApps/{id}/assignments",
        "$expand,$filter",
    )
    delta = RequestShape.of("http://127.0.0.1:1/v1.0/groups/delta()?$deltatoken=abc123")
    assert (delta.template, delta.query_options) == ("groups/delta()", "$deltatoken")
    keyed = RequestShape.of("groups(uniqueName='x')/members", version="v1.0")
    assert keyed.template == "groups({params})/members"
    assert RequestShape.of("$batch", version="beta").template == "$batch"


def read_tenant(sim: GraphSimulator, tenant_id: str) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with GraphClient(
            LocalDevelopmentCredential(), base_url=sim.url, retry=FAST_RETRIES
        ) as client:
            return await TenantReader(client, tenant_id=tenant_id).read()

    return asyncio.run(run())


def test_graph_reads_record_a_span_per_request_with_template_retries_and_throttling(
    telemetry: Captured,
) -> None:
    sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
    with GraphSimulator(sample) as sim:
        sim.add_fault(
            Fault(path=r"^deviceAppManagement/mobileApps$", kind="throttle", times=1, retry_after=1)
        )
        sim.add_fault(Fault(path=r"/settings$", kind="throttle", times=1, retry_after=1))
        snapshot = read_tenant(sim, sample["tenantId"])
    assert snapshot["errors"] == {}

    apps = telemetry.one(
        names.SPAN_GRAPH_REQUEST, **{names.URL_TEMPLATE: "deviceAppManagement/mobileApps"}
    )
    attributes = dict(apps.attributes or {})
    assert attributes[names.HTTP_METHOD] == "GET"
    assert attributes[names.GRAPH_VERSION] == "beta"
    assert attributes[names.HTTP_STATUS] == 200
    assert attributes[names.HTTP_RESEND_COUNT] == 1
    assert attributes[names.GRAPH_THROTTLED] is True
    assert attributes[names.GRAPH_RETRY_AFTER] == 1.0
    assert attributes[names.GRAPH_QUERY_OPTIONS] == "$expand,$top"  # names, never values

    requests = telemetry.spans(names.SPAN_GRAPH_REQUEST)
    assert len(requests) > 10
    for span in requests:
        template = str((span.attributes or {})[names.URL_TEMPLATE])
        assert "?" not in template, template
        assert not GUID.search(template), template
        assert span.kind.name == "CLIENT"
    unthrottled = [s for s in requests if s is not apps and s.attributes]
    assert any(s.attributes[names.GRAPH_THROTTLED] is False for s in unthrottled)

    # A throttled item inside a batch is resubmitted and counted like a request of its own.
    batches = telemetry.spans(names.SPAN_GRAPH_BATCH)
    assert batches
    assert all((b.attributes or {})[names.GRAPH_BATCH_SIZE] >= 1 for b in batches)
    assert sum((b.attributes or {})[names.GRAPH_BATCH_THROTTLED] for b in batches) == 1
    assert telemetry.total(names.METRIC_GRAPH_THROTTLES, **{names.GRAPH_IN_BATCH: True}) == 1
    assert telemetry.total(names.METRIC_GRAPH_THROTTLES, **{names.GRAPH_IN_BATCH: False}) == 1
    assert (
        telemetry.total(
            names.METRIC_GRAPH_REQUESTS,
            **{names.URL_TEMPLATE: "deviceAppManagement/mobileApps", names.HTTP_STATUS: 429},
        )
        == 1
    )
    inner = [a for a, _ in telemetry.points(names.METRIC_GRAPH_REQUESTS) if a[names.GRAPH_IN_BATCH]]
    assert inner
    assert "deviceManagement/configurationPolicies/{id}/settings" in {
        a[names.URL_TEMPLATE] for a in inner
    }
    assert not any(
        GUID.search(a[names.URL_TEMPLATE]) or "?" in a[names.URL_TEMPLATE] for a in inner
    )


# -- evaluations and rules -----------------------------------------------------------------------


def test_evaluation_of_the_sample_tenant_records_its_span_rule_spans_and_findings(
    telemetry: Captured,
) -> None:
    snapshot = TenantSnapshot.from_document(json.loads(SAMPLE.read_text(encoding="utf-8")))
    evaluation = evaluate_observed(snapshot, trigger="manual")

    root = telemetry.one(names.SPAN_EVALUATION)
    attributes = dict(root.attributes or {})
    assert attributes[names.TENANT_ID] == snapshot.tenant_id
    assert attributes[names.TRIGGER] == "manual"
    assert attributes[names.RULE_COUNT] == len(all_rules())
    for status, count in evaluation.counts().items():
        assert attributes[names.FINDINGS_PREFIX + status] == count

    rules = telemetry.spans(names.SPAN_RULE)
    assert sorted(str((s.attributes or {})[names.RULE_ID]) for s in rules) == sorted(
        rule.metadata.id for rule in all_rules()
    )
    assert root.context is not None
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in rules)
    assert (
        sum((s.attributes or {})[names.FINDINGS_PREFIX + "fail"] for s in rules)
        == (evaluation.counts()["fail"])
    )

    expected = Counter((f.status.value, f.severity.value) for f in evaluation.findings)
    recorded = {
        (a[names.FINDING_STATUS], a[names.FINDING_SEVERITY]): p.value
        for a, p in telemetry.points(names.METRIC_FINDINGS)
    }
    assert recorded == dict(expected)
    assert {a[names.TENANT_ID] for a, _ in telemetry.points(names.METRIC_FINDINGS)} == {
        snapshot.tenant_id
    }


def test_a_rule_that_raises_is_marked_on_its_span(telemetry: Captured) -> None:
    snapshot = TenantSnapshot.from_document(json.loads(SAMPLE.read_text(encoding="utf-8")))
    healthy = all_rules()[0]

    def broken(context: Any) -> list[Any]:
        raise RuntimeError("boom")

    evaluate_observed(snapshot, trigger="test", rules=[Rule(healthy.metadata, broken)])
    span = telemetry.one(names.SPAN_RULE)
    assert (span.attributes or {})[names.RULE_ERROR] is True
    assert (span.attributes or {})[names.FINDINGS_PREFIX + "unknown"] == 1


# -- the Functions handlers ----------------------------------------------------------------------

TENANT = "11111111-2222-3333-4444-555555555555"
SUBSCRIPTION = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.fixture
def webhook_settings(
    azurite: Azurite,
    monkeypatch: pytest.MonkeyPatch,
    empty_queues: None,  # noqa: F811 - fixture
) -> Iterator[None]:
    env = guardrail_env(azurite, [{"tenantId": TENANT}], "https://graph.microsoft.com")
    env["GREENSCREEN_GRAPH_AUTH"] = "default"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_function_app()
    yield
    reset_function_app()


def notification(client_state: str) -> dict[str, Any]:
    return {
        "subscriptionId": SUBSCRIPTION,
        "changeType": "updated",
        "clientState": client_state,
        "resource": f"Groups/{ALL_DEVICES_GROUP}",
        "tenantId": TENANT,
        "resourceData": {"id": ALL_DEVICES_GROUP},
    }


def post_notification(body: bytes, params: dict[str, str] | None = None) -> func.HttpResponse:
    request = func.HttpRequest(
        method="POST", url="/api/notifications", params=params or {}, body=body
    )
    response: func.HttpResponse = user_function("receive_graph_notification")(request)
    return response


def test_webhook_records_latency_and_notifications_accepted_and_dropped(
    telemetry: Captured, webhook_settings: None, azurite: Azurite
) -> None:
    body = json.dumps(
        {"value": [notification(CLIENT_STATE), notification("a guess at the client state")]}
    ).encode()
    assert post_notification(body).status_code == 202
    assert post_notification(b"", {"validationToken": "handshake"}).status_code == 200
    assert len(drain(azurite, CHANGES_QUEUE)) == 1

    invocations = telemetry.spans(names.SPAN_FUNCTION)
    assert [(s.attributes or {}).get(names.WEBHOOK_KIND) for s in invocations] == [
        "notification",
        "validation",
    ]
    for span in invocations:
        attributes = dict(span.attributes or {})
        assert attributes[names.FAAS_NAME] == "receive_graph_notification"
        assert attributes[names.FAAS_TRIGGER] == names.TRIGGER_HTTP
    assert (
        telemetry.total(names.METRIC_NOTIFICATIONS, **{names.NOTIFICATION_OUTCOME: "accepted"}) == 1
    )
    assert (
        telemetry.total(
            names.METRIC_NOTIFICATIONS, **{names.NOTIFICATION_OUTCOME: "wrong_client_state"}
        )
        == 1
    )
    durations = {
        (a[names.WEBHOOK_KIND], a[names.HTTP_STATUS]): p.count
        for a, p in telemetry.points(names.METRIC_WEBHOOK_DURATION)
    }
    assert durations == {("notification", 202): 1, ("validation", 200): 1}


@pytest.fixture
def deployed(
    azurite: Azurite,
    monkeypatch: pytest.MonkeyPatch,
    empty_queues: None,  # noqa: F811 - fixture
) -> Iterator[GraphSimulator]:
    with GraphSimulator(sample_snapshot(), seed=1) as sim:
        tenant = str(sim.tenant_snapshot()["tenantId"])
        for name, value in guardrail_env(azurite, [{"tenantId": tenant}], sim.url).items():
            monkeypatch.setenv(name, value)
        reset_function_app()
        yield sim
        reset_function_app()


def deliver_change(message: ChangeMessage, queued_ago: timedelta) -> None:
    queued = QueueMessage(
        id="m-1",
        body=message.to_text().encode(),
        dequeue_count=1,
        insertion_time=datetime.now(UTC) - queued_ago,
    )
    user_function("process_change")(queued)


def test_process_change_traces_the_trigger_evaluation_and_graph_and_records_outcomes(
    telemetry: Captured, deployed: GraphSimulator, azurite: Azurite
) -> None:
    tenant = str(deployed.tenant_snapshot()["tenantId"])
    deliver_change(ChangeMessage.create(tenant, "manual", "full"), timedelta(seconds=90))

    trigger = telemetry.one(names.SPAN_FUNCTION, **{names.FAAS_NAME: "process_change"})
    attributes = dict(trigger.attributes or {})
    assert attributes[names.FAAS_TRIGGER] == names.TRIGGER_QUEUE
    assert attributes[names.TENANT_ID] == tenant
    assert attributes[names.CHANGE_KIND] == "full"
    assert attributes[names.CHANGE_OUTCOME] == "committed"
    assert attributes[names.QUEUE_NAME] == CHANGES_QUEUE
    inside = {s.name for s in descendants(telemetry, trigger)}
    assert {names.SPAN_EVALUATION, names.SPAN_RULE, names.SPAN_GRAPH_REQUEST} <= inside
    evaluation = telemetry.one(names.SPAN_EVALUATION)
    assert (evaluation.attributes or {})[names.TRIGGER] == "reconcile"
    (lag,) = telemetry.points(names.METRIC_QUEUE_LAG)
    assert lag[0] == {names.QUEUE_NAME: CHANGES_QUEUE}
    assert lag[1].count == 1
    assert lag[1].sum >= 90

    readiness = {
        a[names.PROFILE_ID]: p.value
        for a, p in telemetry.points(names.METRIC_READINESS)
        if a[names.TENANT_ID] == tenant
    }
    profiles = {
        p["id"]
        for p in deployed.tenant_snapshot()["collections"][
            "deviceManagement/windowsAutopilotDeploymentProfiles"
        ]
    }
    assert "" in readiness
    assert profiles <= set(readiness)
    assert set(readiness.values()) <= {0.0, 1.0}
    assert telemetry.points(names.METRIC_READINESS_BLOCKING)
    # Reported once per computation: a later export does not repeat an old verdict.
    later = telemetry.reader.get_metrics_data()
    assert names.METRIC_READINESS not in {
        each.name
        for resource_metrics in (later.resource_metrics if later else ())
        for scope_metrics in resource_metrics.scope_metrics
        for each in scope_metrics.metrics
    }

    # A breaking change: the transition is counted by rule, severity and statuses.
    deployed.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "changes": [
                {
                    "op": "setGroupRule",
                    "id": ALL_DEVICES_GROUP,
                    "membershipRuleProcessingState": "Paused",
                }
            ],
        }
    )
    group_change = ChangeMessage.create(tenant, "delta", "group", {"id": ALL_DEVICES_GROUP})
    deliver_change(group_change, timedelta(seconds=1))
    assert len(drain(azurite, ALERTS_QUEUE)) == 1
    transitions = {
        (a[names.RULE_ID], a[names.TRANSITION_FROM], a[names.TRANSITION_TO]): p.value
        for a, p in telemetry.points(names.METRIC_TRANSITIONS)
    }
    assert transitions == {("GRP-002", "pass", "fail"): 1}
    assert all(a[names.TENANT_ID] == tenant for a, _ in telemetry.points(names.METRIC_TRANSITIONS))
    severities = {a[names.FINDING_SEVERITY] for a, _ in telemetry.points(names.METRIC_TRANSITIONS)}
    assert severities <= {"blocker", "error", "warning", "info"}
    assert severities


@pytest.fixture
def teams(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    receiver = Receiver()
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    monkeypatch.setenv("GREENSCREEN_HISTORY_BASE_URL", "https://greenscreen.example.org")
    monkeypatch.setenv("TEAMS_OPS_WEBHOOK", receiver.url.reveal())
    monkeypatch.setenv(
        "GREENSCREEN_ALERT_ROUTES",
        json.dumps(
            [{"name": "ops", "webhookSetting": "TEAMS_OPS_WEBHOOK", "minSeverity": "error"}]
        ),
    )
    yield receiver
    receiver.close()


def send_alert(run_id: str) -> None:
    message = AlertMessage.for_transition(paused_group_transition(run_id))
    queued = QueueMessage(
        id="a-1",
        body=message.to_text().encode(),
        dequeue_count=1,
        insertion_time=datetime.now(UTC) - timedelta(seconds=5),
    )
    user_function("send_alert")(queued)


def test_alert_deliveries_and_failures_are_counted_by_destination_name(
    telemetry: Captured, teams: Receiver
) -> None:
    from monitors.alerts.delivery import AlertUndeliverable

    send_alert("run-telemetry-sent")
    sent = telemetry.one(names.SPAN_ALERT_DELIVERY)
    assert dict(sent.attributes or {}) == {
        names.TENANT_ID: paused_group_transition("x").tenant_id,
        names.ALERT_DESTINATION: "ops",
        names.ALERT_OUTCOME: "sent",
        names.ALERT_ATTEMPTS: 1,
    }
    assert telemetry.total(names.METRIC_ALERT_DELIVERIES, **{names.ALERT_OUTCOME: "sent"}) == 1

    teams.answer(Answer(status=404))
    with pytest.raises(AlertUndeliverable):
        send_alert("run-telemetry-undelivered")
    failed = telemetry.one(names.SPAN_ALERT_DELIVERY, **{names.ALERT_OUTCOME: "undelivered"})
    assert (failed.attributes or {})[names.ALERT_DESTINATION] == "ops"
    assert telemetry.total(names.METRIC_ALERT_FAILURES, **{names.ALERT_DESTINATION: "ops"}) == 1
    trigger = telemetry.one(names.SPAN_FUNCTION, **{names.ERROR_TYPE: "AlertUndeliverable"})
    assert trigger.status.status_code.name == "ERROR"
    (lag,) = telemetry.points(names.METRIC_QUEUE_LAG)
    assert lag[0] == {names.QUEUE_NAME: ALERTS_QUEUE}
    assert lag[1].count == 2
    assert lag[1].min >= 5


# -- secrets -------------------------------------------------------------------------------------


def test_no_token_client_state_webhook_url_or_connection_string_reaches_telemetry_or_logs(
    telemetry: Captured,
    deployed: GraphSimulator,
    azurite: Azurite,
    teams: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = str(deployed.tenant_snapshot()["tenantId"])
    account_key = re.search(r"AccountKey=([^;]+)", azurite.table_connection)
    assert account_key is not None
    secrets = {
        "Graph token": LocalDevelopmentCredential.token,
        "clientState": CLIENT_STATE,
        "validation token": "validation-token-7f3a",
        "webhook signature": SECRET,
        "webhook URL": teams.url.reveal(),
        "storage connection string": azurite.table_connection,
        "storage account key": account_key.group(1),
    }
    # Graph calls (signed with the token), a throttle, the webhook (clientState, handshake), a
    # change processed against storage, and an alert posted after one failed attempt.
    deployed.add_fault(Fault(path=r"^groups$", kind="throttle", times=1, retry_after=1))
    deliver_change(ChangeMessage.create(tenant, "manual", "full"), timedelta(seconds=3))
    body = {"value": [{**notification(CLIENT_STATE), "tenantId": tenant}, notification("x")]}
    assert post_notification(json.dumps(body).encode()).status_code == 202
    post_notification(b"", {"validationToken": secrets["validation token"]})
    teams.answer(Answer(status=500), Answer(status=202))
    send_alert("run-telemetry-secrets")
    assert len(teams.bodies) == 2

    assert telemetry.spans(names.SPAN_GRAPH_REQUEST)
    assert telemetry.spans(names.SPAN_ALERT_DELIVERY)
    emitted = telemetry.everything()
    logged = "\n".join(
        [record.getMessage() for record in caplog.records]
        + [repr(vars(record)) for record in caplog.records]
    )
    assert caplog.records
    for what, secret in secrets.items():
        assert secret not in emitted, f"{what} in telemetry"
        assert secret not in logged, f"{what} in a log record"


# -- configuration and documentation -------------------------------------------------------------


def test_the_functions_host_runs_in_opentelemetry_mode_and_the_app_configures_at_import() -> None:
    import function_app  # noqa: F401 - importing the app is what configures telemetry
    from monitors.telemetry import setup

    host = json.loads((SAMPLE.parents[1] / "host.json").read_text())
    assert host["telemetryMode"] == "OpenTelemetry"
    assert setup._configured  # configured once, at the edge (nothing chosen in tests)


def test_every_span_metric_and_attribute_name_is_documented() -> None:
    documented = (SAMPLE.parents[1] / "docs" / "telemetry.md").read_text()
    values_not_names = ("TRIGGER_", "INSTRUMENTATION_SCOPE", "SERVICE_NAME")
    published = {
        value
        for key, value in vars(names).items()
        if key.isupper() and isinstance(value, str) and not key.startswith(values_not_names)
    }
    assert len(published) > 40
    assert {name for name in published if f"`{name}" not in documented} == set()
