"""Tenants for the dashboard tests, stored through the real store, rules and mirror.

`seed_sample_tenant`: the Contoso sample evaluated by every rule yesterday, then today after an
admin paused the Autopilot group (a change event with its actor, and the transitions it
caused), with the changed tenant in the mirror: what the guardrail leaves behind.
`seed_hostile_tenant`: findings, names, reasons and an actor full of markup and script URLs.
Each evaluation also writes the readiness summary, as the guardrail and `check --store` do
after recording (`summarize=False`: data of a version that wrote none).
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from azure.data.tables import TableServiceClient

from monitors.dashboard.summary import summarize_recorded
from monitors.guardrail.mirror import TenantMirror
from monitors.store.records import ChangeEvent, ModifiedProperty, RunInfo
from monitors.store.verdict_store import VerdictStore
from monitors.tenant_changes import apply_changes, load_change_document
from rules.engine import evaluate_snapshot
from rules.findings import Finding, Scope, Severity, Status, Subject
from rules.snapshot_model import TenantSnapshot
from tests.conftest import evaluation, rule_metadata

ROOT: Final = Path(__file__).resolve().parent.parent
SAMPLE: Final = ROOT / "samples" / "contoso-sample.json"
BREAKING_CHANGE: Final = ROOT / "samples" / "what-if" / "pause-autopilot-all-devices.json"
ACTOR: Final = "helpdesk.lead@contoso.com"
AUTOPILOT_GROUP_ID: Final = "3a76f5df-c71f-5e69-acd4-cca139633a72"
EVENT_ID: Final = "audit-pause-group"
HOSTILE_NAME: Final = "<script>document.title='pwned'</script>\"'><img src=x onerror=alert(1)>"
HOSTILE_URL: Final = "javascript:alert(document.cookie)"
HOSTILE_ACTOR: Final = "\"><script>alert('actor')</script>@evil.example"


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _run(started: datetime) -> RunInfo:
    return RunInfo(str(uuid.uuid4()), "test", started, 10, 5)


def sample_document(tenant_id: str) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(json.loads(SAMPLE.read_text(encoding="utf-8")))
    document["tenantId"] = tenant_id
    return document


def seed_sample_tenant(
    service: TableServiceClient,
    tenant_id: str,
    now: datetime | None = None,
    *,
    summarize: bool = True,
) -> datetime:
    """Store the sample's two evaluations, the change between them and the mirror."""
    store = VerdictStore(service)
    store.ensure_tables()
    today = (now or datetime.now(UTC)).replace(microsecond=0) - timedelta(hours=1)
    yesterday = today - timedelta(days=1)
    before = sample_document(tenant_id)
    before["capturedAt"] = _time(yesterday)
    changed = apply_changes(before, load_change_document(BREAKING_CHANGE)).snapshot
    changed["capturedAt"] = _time(today)
    first = TenantSnapshot.from_document(before)
    first_evaluation = evaluate_snapshot(first)
    result = store.record_evaluation(tenant_id, first_evaluation, _run(yesterday))
    if summarize:
        summarize_recorded(store, first_evaluation, result, first)
    store.record_change_events(
        tenant_id,
        [
            ChangeEvent(
                event_id=EVENT_ID,
                at=today - timedelta(minutes=5),
                actor_type="user",
                actor_id=str(uuid.uuid4()),
                actor_name=ACTOR,
                activity="Update group",
                resource_type="group",
                resource_id=AUTOPILOT_GROUP_ID,
                source="entra-directory-audit",
                modified_properties=(
                    ModifiedProperty("MembershipRuleProcessingState", '"On"', '"Paused"'),
                ),
            )
        ],
    )
    second = TenantSnapshot.from_document(changed)
    second_evaluation = evaluate_snapshot(second)
    result = store.record_evaluation(
        tenant_id, second_evaluation, _run(today), cause_event_ids=(EVENT_ID,)
    )
    if summarize:
        summarize_recorded(store, second_evaluation, result, second)
    mirror = TenantMirror(service)
    mirror.ensure_table()
    mirror.save_snapshot(tenant_id, changed)
    return today


def hostile_finding(subject_id: str, status: Status) -> Finding:
    return Finding(
        rule_id="PRF-001",
        status=status,
        severity=Severity.ERROR,
        subject=Subject("mobileApp", subject_id, HOSTILE_NAME),
        message=f"{HOSTILE_NAME} fails; see {HOSTILE_URL}",
        reasons=(HOSTILE_URL, "a \"quoted\" & 'single' <b>bold</b> reason"),
        scope=Scope("profile-1", HOSTILE_NAME),
    )


def seed_hostile_tenant(
    service: TableServiceClient, tenant_id: str, *, summarize: bool = True
) -> None:
    store = VerdictStore(service)
    store.ensure_tables()
    now = datetime.now(UTC).replace(microsecond=0)
    first, second = now - timedelta(hours=3), now - timedelta(hours=2)
    subject = "app-1"
    store.record_evaluation(
        tenant_id,
        evaluation(
            tenant_id, _time(first), [hostile_finding(subject, Status.PASS)], (rule_metadata(),)
        ),
        _run(first),
    )
    store.record_change_events(
        tenant_id,
        [
            ChangeEvent(
                event_id="hostile-event",
                at=second - timedelta(minutes=1),
                actor_type="user",
                actor_id=HOSTILE_URL,
                actor_name=HOSTILE_ACTOR,
                activity=HOSTILE_NAME,
                resource_type="mobileApp",
                resource_id=subject,
                source="intune-audit",
                modified_properties=(ModifiedProperty(HOSTILE_NAME, HOSTILE_URL, '"quoted"'),),
            )
        ],
    )
    failing = evaluation(
        tenant_id, _time(second), [hostile_finding(subject, Status.FAIL)], (rule_metadata(),)
    )
    result = store.record_evaluation(
        tenant_id, failing, _run(second), cause_event_ids=("hostile-event",)
    )
    if summarize:
        summarize_recorded(store, failing, result)
