"""Telemetry of the pollers: what the audit logs named that no map could place, which polled
tenant policies changed, and which collections were re-read whole because of either.

These are the counters that move the day Microsoft changes something (a new audit type name, a
policy shape): docs/runbook.md, "When Microsoft changes something".
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final

from opentelemetry.metrics import Counter, MeterProvider

from monitors.telemetry import names
from monitors.telemetry.instruments import _meter_provider

_TYPE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,79}")


@dataclass(frozen=True, slots=True)
class PollingInstruments:
    unmapped: Counter
    policy_changes: Counter
    rereads: Counter


@functools.lru_cache(maxsize=8)
def _instruments_of(provider: MeterProvider) -> PollingInstruments:
    meter = provider.get_meter(names.INSTRUMENTATION_SCOPE, "1")
    return PollingInstruments(
        meter.create_counter(
            names.METRIC_AUDIT_UNMAPPED,
            unit="{resource}",
            description="Intune audit resources no type map or mirror lookup could place",
        ),
        meter.create_counter(
            names.METRIC_POLICY_CHANGES,
            unit="{change}",
            description="Polled tenant policies found different from the last stored state",
        ),
        meter.create_counter(
            names.METRIC_REREADS,
            unit="{collection}",
            description="Collections queued to be re-read whole, by reason",
        ),
    )


def _instruments() -> PollingInstruments:
    return _instruments_of(_meter_provider())


def resource_type_label(type_name: str) -> str:
    """A type name as a metric attribute: Graph type names only, anything else "other"."""
    return type_name if _TYPE_NAME.fullmatch(type_name) else "other"


def record_unmapped(tenant_id: str, type_name: str) -> None:
    _instruments().unmapped.add(
        1, {names.TENANT_ID: tenant_id, names.AUDIT_RESOURCE_TYPE: resource_type_label(type_name)}
    )


def record_policy_change(tenant_id: str, collection: str) -> None:
    _instruments().policy_changes.add(1, {names.TENANT_ID: tenant_id, names.COLLECTION: collection})


def record_reread(tenant_id: str, collection: str, reason: str) -> None:
    _instruments().rereads.add(
        1, {names.TENANT_ID: tenant_id, names.COLLECTION: collection, names.REREAD_REASON: reason}
    )
