"""The instance's kept state of a tenant (`VerdictStore.current_state(kept=True)`): what the
readiness gauges read after a change. It must answer what a whole read of the state answers,
over commits of this instance, commits of another one and purges."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.data.tables import TableServiceClient

from monitors.http_api import readiness_summaries
from monitors.store import keys
from monitors.store.keys import tenant_key
from monitors.store.records import RecordResult
from monitors.store.verdict_store import StateView, VerdictStore
from rules.findings import Finding, RuleMetadata, Status
from tests.conftest import evaluation, finding, rule_metadata, run_info

RULES = (rule_metadata("PRF-001"), rule_metadata("PRF-002"), rule_metadata("GRP-003"))
PROFILES = ("profile-1", "profile-2", None)  # None: tenant-wide
STATUSES = (Status.PASS, Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE)
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _findings(rng: random.Random, rules: tuple[RuleMetadata, ...]) -> list[Finding]:
    found = []
    for rule in rules:
        for profile in PROFILES:
            # Some subjects come and go: a failing one that is no longer reported is resolved.
            for subject in rng.sample(range(12), rng.randint(6, 12)):
                status = rng.choice(STATUSES)
                found.append(finding(f"app-{subject}", status, rule.id, profile=profile))
    return found


def _comparable(state: StateView) -> tuple[Any, ...]:
    verdicts = sorted(
        state.verdicts,
        key=lambda v: (v.record.rule_id, v.record.scope_id, v.record.subject_id),
    )
    return (state.tenant_id, state.last_run_id, state.captured_at, verdicts, state.passing)


def _gauge_inputs(state: StateView) -> dict[str, Any]:
    """What `record_readiness` computes from a state (the profiles' names included)."""
    verdicts = sorted(
        state.verdicts,
        key=lambda v: (v.record.scope_id, v.record.rule_id, v.record.subject_id),
    )
    return readiness_summaries(verdicts, state.passing, not_used=frozenset())


def _record(store: VerdictStore, tenant: str, step: int, rng: random.Random) -> RecordResult:
    rules = tuple(rule for rule in RULES if rng.random() < 0.6) or (RULES[step % 3],)
    at = (START + timedelta(minutes=step)).isoformat().replace("+00:00", "Z")
    result = store.record_evaluation(
        tenant, evaluation(tenant, at, _findings(rng, rules), rules), run_info()
    )
    assert result.outcome == "committed"
    return result


def _stored(store: VerdictStore, tenant: str) -> Any:
    """The visible content of every state entity as a whole read finds it (what a kept state
    must equal, transition marks included)."""
    fresh = VerdictStore(store._service)
    fresh.current_state(tenant)
    return fresh._kept[tenant_key(tenant)].rules


def test_the_kept_state_answers_what_a_whole_read_answers_over_changes(
    table_service: TableServiceClient,
) -> None:
    tenant = str(uuid.uuid4())
    rng = random.Random(7)
    # Small buckets: the writes split, merge and re-lay buckets as the records come and go.
    writer = VerdictStore(table_service, bucket_records=4)
    _record(writer, tenant, 0, rng)
    writer.current_state(tenant, kept=True)  # a cold instance reads the whole state once
    assert writer.last_state_read > 0
    gauges_seen = []
    for step in range(1, 13):
        recorded = _record(writer, tenant, step, rng)
        assert recorded.entities_read == 0  # recorded over the kept state: no state rows read
        assert writer._kept[tenant_key(tenant)].rules == _stored(writer, tenant)
        kept = writer.current_state(tenant, kept=True)
        assert writer.last_state_read == 0  # answered from the kept state: the head read only
        whole = VerdictStore(table_service).current_state(tenant)
        assert _comparable(kept) == _comparable(whole), f"diverged after change {step}"
        gauges = _gauge_inputs(kept)
        assert gauges == _gauge_inputs(whole)
        gauges_seen.append(gauges)
    statuses = {v.record.status.value for v in whole.verdicts}
    assert {"fail", "unknown", "resolved"} <= statuses  # the run covered what it should
    # Unknown is never green: a profile counting an unknown verdict is never ready.
    with_unknown = [p for g in gauges_seen for p in g["profiles"] if p["counts"]["unknown"]]
    assert with_unknown
    assert all(p["ready"] is not True for p in with_unknown)


def test_another_writers_commit_makes_the_kept_state_read_again(
    table_service: TableServiceClient,
) -> None:
    tenant = str(uuid.uuid4())
    rng = random.Random(11)
    mine, other = VerdictStore(table_service), VerdictStore(table_service)
    _record(mine, tenant, 0, rng)
    mine.current_state(tenant, kept=True)
    _record(other, tenant, 1, rng)  # another instance commits
    _record(mine, tenant, 2, rng)  # this one commits over it: its kept state is stale
    kept = mine.current_state(tenant, kept=True)
    assert mine.last_state_read > 0  # read again, not advanced from a stale state
    assert _comparable(kept) == _comparable(VerdictStore(table_service).current_state(tenant))
    _record(mine, tenant, 3, rng)
    again = mine.current_state(tenant, kept=True)
    assert mine.last_state_read == 0
    assert _comparable(again) == _comparable(VerdictStore(table_service).current_state(tenant))


def test_a_purge_by_another_instance_is_seen_by_the_kept_state(
    table_service: TableServiceClient,
) -> None:
    """A purge deletes long-resolved records without a commit: the head's purge mark makes
    every instance's kept state of the tenant stale."""
    tenant = str(uuid.uuid4())
    mine = VerdictStore(table_service)
    at = START.isoformat().replace("+00:00", "Z")
    later = (START + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    failing = [finding("app-1", Status.FAIL), finding("app-2", Status.FAIL)]
    mine.record_evaluation(tenant, evaluation(tenant, at, failing), run_info())
    # app-1 is no longer reported: resolved.
    mine.record_evaluation(tenant, evaluation(tenant, later, failing[1:]), run_info())
    before = mine.current_state(tenant, kept=True)
    assert "resolved" in {v.record.status.value for v in before.verdicts}

    purger = VerdictStore(table_service)
    deleted = purger.purge_expired(tenant, now=START + timedelta(days=500))
    assert deleted[keys.STATE_TABLE] > 0
    whole = VerdictStore(table_service).current_state(tenant)
    assert "resolved" not in {v.record.status.value for v in whole.verdicts}
    kept = mine.current_state(tenant, kept=True)
    assert mine.last_state_read > 0
    assert _comparable(kept) == _comparable(whole)


def test_recording_over_the_kept_state_writes_what_recording_over_a_read_writes(
    table_service: TableServiceClient,
) -> None:
    """The same evaluations recorded by an instance that keeps the state (reads no state rows
    after the first) and by one that keeps none (reads them every time): the same state and
    the same transitions, none lost, none doubled."""
    keeping, reading = VerdictStore(table_service), VerdictStore(table_service, kept_states=0)
    tenants = {store: str(uuid.uuid4()) for store in (keeping, reading)}
    transitions: dict[VerdictStore, list[tuple[str, ...]]] = {keeping: [], reading: []}
    for store, tenant in tenants.items():
        rng = random.Random(5)
        store.current_state(tenant, kept=True)
        for step in range(10):
            result = _record(store, tenant, step, rng)
            transitions[store] += sorted(
                (
                    str(step),
                    t.record.rule_id,
                    t.record.scope_id,
                    t.record.subject_id,
                    t.from_status.value if t.from_status else "",
                    t.to_status.value,
                )
                for t in result.transitions
            )
            if store is reading:
                assert result.entities_read > 0 or step == 0
    assert transitions[keeping] == transitions[reading]
    assert len(transitions[keeping]) > 20
    stored = {
        store: _comparable(VerdictStore(table_service).current_state(tenant))[3]
        for store, tenant in tenants.items()
    }
    assert [v.record for v in stored[keeping]] == [v.record for v in stored[reading]]
    history = {
        store: sorted(
            (t.seq, t.record.rule_id, t.record.subject_id, t.to_status.value)
            for t in store.history(tenant, page_size=1000).items
        )
        for store, tenant in tenants.items()
    }
    assert history[keeping]
    assert history[keeping] == history[reading]
