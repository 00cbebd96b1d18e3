"""Retention, operational records and settings of the verdict store, against Azurite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ResourceModifiedError
from azure.data.tables import TableServiceClient

from monitors.store.records import ChangeEvent, StoredStatus
from monitors.store.settings import StoreSettingsError, record_check, store_from_settings
from monitors.store.verdict_store import VerdictStore
from rules.findings import Status
from tests.conftest import Azurite, evaluation, finding, run_info

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def event(event_id: str, at: datetime) -> ChangeEvent:
    return ChangeEvent(
        event_id, at, "user", "u-1", "admin@contoso.com", "Patch", "group", "g-1", "test"
    )


def test_purge_removes_history_older_than_retention_and_keeps_the_rest(
    table_service: TableServiceClient, tenant_id: str
) -> None:
    store = VerdictStore(table_service, retention_days=30, clock=lambda: NOW)
    old, recent = NOW - timedelta(days=75), NOW - timedelta(days=3)
    for at, status in (
        (old - timedelta(days=1), Status.PASS),
        (old, Status.FAIL),
        (recent, Status.PASS),
    ):
        store.record_evaluation(
            tenant_id,
            evaluation(
                tenant_id, at.isoformat(), [finding("a", status), finding("b", Status.FAIL)]
            ),
            run_info(),
            cause_event_ids=("old-event",),
        )
    store.record_change_events(tenant_id, [event("old-event", old), event("new-event", recent)])
    deleted = store.purge_expired(tenant_id)

    assert deleted["GreenscreenTransitions"] == 1
    assert deleted["GreenscreenChanges"] >= 1
    since = NOW - timedelta(days=400)
    assert [t.to_status for t in store.history(tenant_id, since=since).items] == [StoredStatus.PASS]
    assert [c.event.event_id for c in store.changes(tenant_id, since=since).items] == ["new-event"]
    # "a" passes now: counted, not stored; "b" still fails.
    assert {v.record.subject_id for v in store.current_state(tenant_id).verdicts} == {"b"}


def test_purge_forgets_long_resolved_verdicts_but_keeps_recent_ones(
    table_service: TableServiceClient, tenant_id: str
) -> None:
    store = VerdictStore(table_service, retention_days=30, clock=lambda: NOW)
    base = NOW - timedelta(days=90)
    store.record_evaluation(
        tenant_id,
        evaluation(
            tenant_id,
            base.isoformat(),
            [finding("gone", Status.FAIL), finding("late", Status.FAIL)],
        ),
        run_info(),
    )
    store.record_evaluation(
        tenant_id,
        evaluation(
            tenant_id, (base + timedelta(days=1)).isoformat(), [finding("late", Status.FAIL)]
        ),
        run_info(),
    )
    store.record_evaluation(tenant_id, evaluation(tenant_id, NOW.isoformat(), []), run_info())
    assert store.purge_expired(tenant_id)["GreenscreenState"] == 1
    remaining = {
        v.record.subject_id: v.record.status for v in store.current_state(tenant_id).verdicts
    }
    assert remaining == {"late": StoredStatus.RESOLVED}


def test_cursor_compare_and_set_refuses_a_stale_etag(store: VerdictStore, tenant_id: str) -> None:
    assert store.get_cursor(tenant_id, "intune-audit") is None
    first = store.set_cursor(tenant_id, "intune-audit", "2026-11-24T10:00:00Z")
    store.set_cursor(tenant_id, "intune-audit", "2026-11-24T10:05:00Z", etag=first)
    with pytest.raises(ResourceModifiedError):
        store.set_cursor(tenant_id, "intune-audit", "2026-11-24T10:01:00Z", etag=first)
    assert store.get_cursor(tenant_id, "intune-audit")[0] == "2026-11-24T10:05:00Z"  # type: ignore[index]


def test_delta_links_and_subscriptions_round_trip_without_client_state(
    store: VerdictStore, tenant_id: str
) -> None:
    link = "https://graph.microsoft.com/v1.0/groups/delta?$deltatoken=abc/def#x"
    store.set_delta_link(tenant_id, "groups", link)
    assert store.get_delta_link(tenant_id, "groups")[0] == link  # type: ignore[index]
    store.set_subscription(
        tenant_id, "sub/1", {"id": "sub/1", "resource": "groups", "clientState": "hidden"}
    )
    assert store.get_subscription(tenant_id, "sub/1") == {"id": "sub/1", "resource": "groups"}
    assert store.list_subscriptions(tenant_id) == [{"id": "sub/1", "resource": "groups"}]


def test_record_check_records_a_cli_run_in_the_configured_store(
    azurite: Azurite, table_service: TableServiceClient, tenant_id: str
) -> None:
    store = store_from_settings({"GREENSCREEN_STORAGE_CONNECTION": azurite.table_connection})
    result = record_check(
        evaluation(tenant_id, "2026-11-20T10:00:00Z", [finding("a", Status.FAIL)]),
        {"graphRequests": 12, "durationMs": 900},
        store,
    )
    assert result.outcome == "committed"
    [run] = store.runs(tenant_id, since=NOW - timedelta(days=30)).items
    assert (run.trigger, run.graph_requests, run.duration_ms) == ("cli", 12, 900)


@pytest.mark.parametrize("days", ["0", "-5", "many", "99999999"])
def test_settings_refuse_a_malformed_retention(days: str) -> None:
    with pytest.raises(StoreSettingsError, match="GREENSCREEN_RETENTION_DAYS"):
        store_from_settings({"GREENSCREEN_RETENTION_DAYS": days}, create_tables=False)


def test_settings_without_storage_and_without_default_are_refused() -> None:
    with pytest.raises(StoreSettingsError, match="GREENSCREEN_STORAGE_CONNECTION"):
        store_from_settings({}, default_connection=None, create_tables=False)
