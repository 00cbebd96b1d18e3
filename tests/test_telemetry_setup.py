"""Exporter setup from the environment: nothing, OTLP, or Azure Monitor with an Entra credential.

`configure_telemetry` sets the process's global providers, which can happen once per process, so
each configuration runs in a child Python. OTLP goes for real over HTTP to a collector on
loopback in this process; for Azure Monitor the exporter's network send (`_transmit`) is replaced
by a recorder, everything else (the distro, its providers and exporters) runs as in production.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from monitors.telemetry import names
from monitors.telemetry.setup import (
    AZURE_MONITOR,
    CONNECTION_STRING_SETTING,
    CREDENTIAL_SETTING,
    OTLP,
    OTLP_ENDPOINT_SETTING,
    TelemetrySettingsError,
    azure_monitor_options,
    chosen_exporters,
    telemetry_credential,
)

ROOT = Path(__file__).resolve().parents[1]
# Identifies a component; not a credential. The ingestion endpoint is a closed loopback port.
CONNECTION_STRING = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=http://127.0.0.1:9/"
)

EMIT = """
import json, logging, sys
from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider
from monitors.telemetry import names
from monitors.telemetry.instruments import instruments, span
from monitors.telemetry.setup import configure_telemetry

first = configure_telemetry()
provider = trace.get_tracer_provider()
second = configure_telemetry()
assert trace.get_tracer_provider() is provider, "a second configure replaced the provider"
logging.getLogger("monitors").setLevel(logging.INFO)
with span(names.SPAN_EVALUATION, {names.TENANT_ID: "tenant-1"}) as current:
    logging.getLogger("monitors.example").warning("evaluated %s", "tenant-1")
    trace_id = format(current.get_span_context().trace_id, "032x")
instruments().transitions.add(1, {names.RULE_ID: "GRP-002"})
for flushed in (trace.get_tracer_provider(), metrics.get_meter_provider(), get_logger_provider()):
    flush = getattr(flushed, "force_flush", None)
    if flush is not None:
        flush()
print(json.dumps({"first": first, "second": second, "trace_id": trace_id, **RESULTS()}))
"""

NOTHING_EXTRA = "RESULTS = lambda: {}\n"

RECORD_AZURE_MONITOR = """
from azure.monitor.opentelemetry.exporter.export import _base

sent = []

def transmit(self, envelopes, *args, **kwargs):
    for envelope in envelopes:
        base = envelope.data.base_data if envelope.data else None
        sent.append({
            "exporter": type(self).__name__,
            "ikey": self._instrumentation_key,
            "credential": type(self._credential).__name__,
            "type": envelope.name,
            "name": getattr(base, "name", None),
            "message": getattr(base, "message", None),
            "metrics": [point.name for point in getattr(base, "metrics", None) or ()],
            "operation": (envelope.tags or {}).get("ai.operation.id"),
        })
    return _base.ExportResult.SUCCESS

_base.BaseExporter._transmit = transmit
RESULTS = lambda: {"sent": sent}
"""


def child_environment(**settings: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in (CONNECTION_STRING_SETTING, OTLP_ENDPOINT_SETTING)
        and not key.startswith(("OTEL_", "APPLICATIONINSIGHTS_", "GREENSCREEN_TELEMETRY"))
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "NO_PROXY": "127.0.0.1,localhost",
            "OTEL_SERVICE_NAME": "greenscreen-test",
            # No background channels in a test: statistics, the control plane, cloud detectors.
            "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
            "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
            "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
            "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel",
            **settings,
        }
    )
    return env


def run_child(prelude: str, env: dict[str, str]) -> dict[str, Any]:
    finished = subprocess.run(  # noqa: S603 - this interpreter, a script from this module
        [sys.executable, "-c", prelude + EMIT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def test_exporters_are_chosen_from_the_environment() -> None:
    assert chosen_exporters({}) == ()
    assert chosen_exporters({CONNECTION_STRING_SETTING: "  "}) == ()
    assert chosen_exporters({OTLP_ENDPOINT_SETTING: "http://127.0.0.1:4318"}) == (OTLP,)
    assert chosen_exporters({CONNECTION_STRING_SETTING: CONNECTION_STRING}) == (AZURE_MONITOR,)
    both = {CONNECTION_STRING_SETTING: CONNECTION_STRING, OTLP_ENDPOINT_SETTING: "http://x"}
    assert chosen_exporters(both) == (AZURE_MONITOR, OTLP)


def test_azure_monitor_uses_an_entra_credential_and_no_automatic_http_instrumentation() -> None:
    options = azure_monitor_options({CONNECTION_STRING_SETTING: CONNECTION_STRING})
    assert type(options["credential"]).__name__ == "ManagedIdentityCredential"
    assert options["connection_string"] == CONNECTION_STRING
    assert options["logger_name"] == "monitors"
    assert all(not o["enabled"] for o in options["instrumentation_options"].values())
    assert {"httpx", "requests", "azure_sdk"} <= set(options["instrumentation_options"])
    chosen = telemetry_credential({CREDENTIAL_SETTING: "default"})
    assert type(chosen).__name__ == "DefaultAzureCredential"
    with pytest.raises(TelemetrySettingsError, match=CREDENTIAL_SETTING):
        telemetry_credential({CREDENTIAL_SETTING: "client-secret"})


def test_nothing_is_configured_without_settings() -> None:
    prelude = NOTHING_EXTRA + "from opentelemetry import trace as _t\n"
    result = run_child(prelude, child_environment())
    assert result["first"] == result["second"] == []
    assert result["trace_id"] == "0" * 32  # the API's no-op span: nothing is recorded


class Collector:
    """An OTLP/HTTP collector on loopback: records each POST's path and protobuf body."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.received.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def bodies(self, path: str) -> list[bytes]:
        return [body for received, body in self.received if received == path]


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.server.shutdown()
    running.server.server_close()


def test_otlp_exports_spans_metrics_and_logs_that_carry_the_trace_id(
    collector: Collector,
) -> None:
    result = run_child(NOTHING_EXTRA, child_environment(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url))
    assert result["first"] == result["second"] == ["otlp"]

    spans = []
    for body in collector.bodies("/v1/traces"):
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}[
                "service.name"
            ]
            for scope_spans in resource_spans.scope_spans:
                spans += [(service, scope_spans.scope.name, s) for s in scope_spans.spans]
    ((service, scope, span),) = spans
    assert (service, scope, span.name) == ("greenscreen-test", "greenscreen", names.SPAN_EVALUATION)
    assert span.trace_id.hex() == result["trace_id"]
    assert {a.key: a.value.string_value for a in span.attributes} == {names.TENANT_ID: "tenant-1"}

    logs = [
        record
        for body in collector.bodies("/v1/logs")
        for resource_logs in ExportLogsServiceRequest.FromString(body).resource_logs
        for scope_logs in resource_logs.scope_logs
        for record in scope_logs.log_records
    ]
    (record,) = [r for r in logs if r.body.string_value == "evaluated tenant-1"]
    assert record.trace_id.hex() == result["trace_id"]
    assert record.span_id == span.span_id

    metric_names = {
        metric.name
        for body in collector.bodies("/v1/metrics")
        for resource_metrics in ExportMetricsServiceRequest.FromString(body).resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    }
    assert names.METRIC_TRANSITIONS in metric_names


def test_azure_monitor_is_configured_with_the_connection_string_and_a_managed_identity(
    tmp_path: Path,
) -> None:
    env = child_environment(
        APPLICATIONINSIGHTS_CONNECTION_STRING=CONNECTION_STRING,
        TMPDIR=str(tmp_path),
        # The distro samples traces by rate (5 per second) with a clock-driven estimate: a test
        # cannot depend on that, so every trace is kept here.
        OTEL_TRACES_SAMPLER="always_on",
    )
    result = run_child(RECORD_AZURE_MONITOR, env)
    assert result["first"] == result["second"] == ["azure_monitor"]
    sent = result["sent"]
    assert {item["ikey"] for item in sent} == {"00000000-0000-0000-0000-000000000001"}
    assert {item["credential"] for item in sent} == {"ManagedIdentityCredential"}
    dependencies = [item for item in sent if item["name"] == names.SPAN_EVALUATION]
    assert len(dependencies) == 1, sent
    dependency = dependencies[0]
    assert dependency["operation"] == result["trace_id"]
    (message,) = [item for item in sent if item["message"] == "evaluated tenant-1"]
    assert message["operation"] == result["trace_id"]  # the log joins the span's operation
    assert any(names.METRIC_TRANSITIONS in item["metrics"] for item in sent)
