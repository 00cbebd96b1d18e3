"""Configure the OpenTelemetry SDK once, at the edge (`function_app.py` at import).

- `APPLICATIONINSIGHTS_CONNECTION_STRING` set: the Azure Monitor distro, authenticated with Entra
  (the Application Insights resource has local auth disabled): the app's managed identity, or
  `DefaultAzureCredential` when `GREENSCREEN_TELEMETRY_CREDENTIAL=default` (local development).
- `OTEL_EXPORTER_OTLP_ENDPOINT` set: traces, metrics and logs over OTLP/HTTP (protobuf).
- both: Azure Monitor, with the OTLP exporters added to the same providers;
- neither: nothing. The API stays a no-op and costs next to nothing.

Only the `monitors` logger tree is exported as log records, through the SDK's logging handler,
so every record written inside a span carries that span's trace and span id. Automatic
instrumentation of HTTP clients and the Azure SDK is off: their spans would carry full URLs
(webhook URLs, query values), and Graph calls have spans of their own (`names.SPAN_GRAPH_REQUEST`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any, Final

log = logging.getLogger(__name__)

CONNECTION_STRING_SETTING: Final = "APPLICATIONINSIGHTS_CONNECTION_STRING"
OTLP_ENDPOINT_SETTING: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME_SETTING: Final = "OTEL_SERVICE_NAME"
CREDENTIAL_SETTING: Final = "GREENSCREEN_TELEMETRY_CREDENTIAL"  # "managed-identity" | "default"
LOGS_SETTING: Final = "GREENSCREEN_TELEMETRY_LOGS"  # "false": export no log records
LIVE_METRICS_SETTING: Final = "GREENSCREEN_TELEMETRY_LIVE_METRICS"  # "true": App Insights live
EXPORTED_LOGGER: Final = "monitors"

AZURE_MONITOR: Final = "azure_monitor"
OTLP: Final = "otlp"
# Instrumentations the distro would switch on; see the module docstring for why none are wanted.
_DISTRO_INSTRUMENTATIONS: Final = (
    "azure_sdk",
    "django",
    "fastapi",
    "flask",
    "httpx",
    "psycopg2",
    "requests",
    "urllib",
    "urllib3",
)

_lock = threading.Lock()
_configured: list[tuple[str, ...]] = []  # the exporters chosen, once per process


class TelemetrySettingsError(ValueError):
    pass


def chosen_exporters(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Which exporters the environment asks for: () for none."""
    chosen = []
    if environ.get(CONNECTION_STRING_SETTING, "").strip():
        chosen.append(AZURE_MONITOR)
    if environ.get(OTLP_ENDPOINT_SETTING, "").strip():
        chosen.append(OTLP)
    return tuple(chosen)


def configure_telemetry(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Install the global providers the environment asks for; later calls change nothing and
    return what the first one chose. Telemetry never stops the app: a setup failure is logged
    and the app runs without exporters."""
    env = os.environ if environ is None else environ
    with _lock:
        if _configured:
            return _configured[0]
        exporters = chosen_exporters(env)
        try:
            if AZURE_MONITOR in exporters:
                _configure_azure_monitor(env, with_otlp=OTLP in exporters)
            elif OTLP in exporters:
                _configure_otlp(env)
        except Exception as error:  # isolation boundary: the app runs on without telemetry
            # The type only: the message could quote a connection string or an endpoint.
            log.error("telemetry is off: its configuration failed (%s)", type(error).__name__)
            exporters = ()
        _configured.append(exporters)
        return exporters


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in ("true", "false"):
        raise TelemetrySettingsError(f"{name} must be true or false")
    return value == "true"


def telemetry_credential(environ: Mapping[str, str]) -> Any:
    """The Entra credential telemetry is sent with (local auth is off on Application Insights)."""
    choice = environ.get(CREDENTIAL_SETTING, "").strip().lower() or "managed-identity"
    if choice == "managed-identity":
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential()
    if choice == "default":
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()
    raise TelemetrySettingsError(f"{CREDENTIAL_SETTING} must be managed-identity or default")


def azure_monitor_options(environ: Mapping[str, str]) -> dict[str, Any]:
    """The keyword arguments for `configure_azure_monitor`, the OTLP pipeline excepted."""
    logs = _flag(environ, LOGS_SETTING, default=True)
    return {
        "connection_string": environ[CONNECTION_STRING_SETTING].strip(),
        "credential": telemetry_credential(environ),
        "logger_name": EXPORTED_LOGGER,
        "disable_logging": not logs,
        "enable_live_metrics": _flag(environ, LIVE_METRICS_SETTING, default=False),
        "instrumentation_options": {name: {"enabled": False} for name in _DISTRO_INSTRUMENTATIONS},
        "resource": _resource(environ),
    }


def _configure_azure_monitor(environ: Mapping[str, str], *, with_otlp: bool) -> None:
    from azure.monitor.opentelemetry import configure_azure_monitor

    options = azure_monitor_options(environ)
    if with_otlp:
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        spans, metrics, logs = _otlp_exporters(environ)
        options["span_processors"] = [BatchSpanProcessor(spans)]
        options["metric_readers"] = [PeriodicExportingMetricReader(metrics)]
        if not options["disable_logging"]:
            options["log_record_processors"] = [BatchLogRecordProcessor(logs)]
    configure_azure_monitor(**options)


def _resource(environ: Mapping[str, str]) -> Any:
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    from monitors.telemetry.names import SERVICE_NAME as DEFAULT_SERVICE_NAME

    name = environ.get(SERVICE_NAME_SETTING, "").strip() or DEFAULT_SERVICE_NAME
    return Resource.create({SERVICE_NAME: name})


def _otlp_exporters(environ: Mapping[str, str]) -> tuple[Any, Any, Any]:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # Signal paths as the OTLP specification appends them to the base endpoint. Headers
    # (OTEL_EXPORTER_OTLP_HEADERS, which may hold a key) are read by the exporters themselves.
    base = environ[OTLP_ENDPOINT_SETTING].strip().rstrip("/")
    return (
        OTLPSpanExporter(endpoint=f"{base}/v1/traces"),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics"),
        OTLPLogExporter(endpoint=f"{base}/v1/logs"),
    )


def _configure_otlp(environ: Mapping[str, str]) -> None:
    from opentelemetry import metrics, trace
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    logs_wanted = _flag(environ, LOGS_SETTING, default=True)
    resource = _resource(environ)
    spans, metric_exporter, logs = _otlp_exporters(environ)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(spans))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(
        MeterProvider(
            resource=resource, metric_readers=[PeriodicExportingMetricReader(metric_exporter)]
        )
    )
    if logs_wanted:
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(logs))
        set_logger_provider(logger_provider)
        # The handler stamps each record with the current span's trace and span id.
        logging.getLogger(EXPORTED_LOGGER).addHandler(
            LoggingHandler(level=logging.NOTSET, logger_provider=logger_provider)
        )
