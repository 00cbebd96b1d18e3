"""The settle check of a run's alert batch (`monitors/alerts/settle.py`), against Azurite: the
transitions superseded within the settle time leave the batch before its cards are composed,
causes attached since the batch was queued are picked up, and a large batch reads the tenant's
history once instead of once per subject."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from monitors.alerts.settle import PER_SUBJECT_QUERIES, settled_batch
from monitors.store.verdict_store import VerdictStore
from rules.findings import Status
from tests.conftest import evaluation, finding, run_info

AT = datetime(2026, 11, 24, 12, tzinfo=UTC)
SETTLE_S = 120.0


def baseline(store: VerdictStore, tenant_id: str, names: list[str]) -> None:
    """The tenant's first evaluation, every subject passing (a baseline records no transition)."""
    store.record_evaluation(
        tenant_id,
        evaluation(
            tenant_id,
            (AT - timedelta(hours=1)).isoformat(),
            [finding(n, Status.PASS) for n in names],
        ),
        run_info(),
    )


@pytest.mark.parametrize("subjects", [4, PER_SUBJECT_QUERIES + 4])
def test_a_batch_keeps_only_the_transitions_that_are_still_the_news(
    table_service: TableServiceClient,
    tenant_id: str,
    subjects: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One run fails every subject; seconds later a second run passes the first three again
    (a flap). Settled, the first run's batch keeps the other subjects' failures, each with the
    cause recorded after the batch was queued; the second run's batch keeps nothing."""
    store = VerdictStore(table_service)
    names = [f"app-{i:02d}" for i in range(subjects)]
    baseline(store, tenant_id, names)
    first = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, AT.isoformat(), [finding(n, Status.FAIL) for n in names]),
        run_info(),
        cause_event_ids=("evt-1",),
    ).transitions
    later = AT + timedelta(seconds=5)
    second = store.record_evaluation(
        tenant_id,
        evaluation(
            tenant_id,
            later.isoformat(),
            [finding(n, Status.PASS if n in names[:3] else Status.FAIL) for n in names],
        ),
        run_info(),
    ).transitions
    assert len(first) == subjects
    assert len(second) == 3
    queries: list[Any] = []
    history = store.history

    def counted(*args: Any, **kwargs: Any) -> Any:
        queries.append(kwargs)
        return history(*args, **kwargs)

    monkeypatch.setattr(store, "history", counted)

    queued = [replace(t, cause_event_ids=()) for t in first]  # as queued before the audit
    kept = settled_batch(queued, store, SETTLE_S)
    survivors = [t for t, _ in kept if t is not None]
    assert sorted(t.record.subject_id for t in survivors) == names[3:]
    assert {t.cause_event_ids for t in survivors} == {("evt-1",)}
    assert all("superseded" in why for t, why in kept if t is None)
    assert [t for t, _ in settled_batch(second, store, SETTLE_S) if t is not None] == []
    # Bounded: a few subjects are asked one by one, more with one read of the window.
    expected = 1 if subjects > PER_SUBJECT_QUERIES else subjects
    assert len(queries) == expected + 3  # + the second batch's three subjects


def test_without_a_settle_time_every_transition_is_kept_with_its_cause(
    table_service: TableServiceClient, tenant_id: str
) -> None:
    store = VerdictStore(table_service)
    baseline(store, tenant_id, ["app"])
    (failing,) = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, AT.isoformat(), [finding("app", Status.FAIL)]),
        run_info(),
        cause_event_ids=("evt-2",),
    ).transitions
    store.record_evaluation(
        tenant_id,
        evaluation(
            tenant_id, (AT + timedelta(seconds=1)).isoformat(), [finding("app", Status.PASS)]
        ),
        run_info(),
    )
    ((kept, _),) = settled_batch([replace(failing, cause_event_ids=())], store, 0.0)
    assert kept is not None
    assert kept.cause_event_ids == ("evt-2",)
