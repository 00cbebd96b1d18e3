"""The per-tenant concurrency limit, against Azurite, with real concurrent holders."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient

from monitors.guardrail.composition import Services, process_change_text
from monitors.guardrail.queues import CHANGES_QUEUE, ChangeMessage
from monitors.guardrail.settings import SettingsError, read_settings
from monitors.guardrail.slots import TenantBusyError, TenantSlots
from tests.azurite import Azurite
from tests.graphsim import GraphSimulator
from tests.test_function_support import (
    empty_queues,  # noqa: F401 - fixture
    queue_client,
    services,  # noqa: F401 - fixture
    simulator,  # noqa: F401 - fixture
    tenant_of,
)


def slots(azurite: Azurite, **kwargs: object) -> TenantSlots:
    service = TableServiceClient.from_connection_string(azurite.table_connection)
    return TenantSlots(service, **kwargs)  # type: ignore[arg-type]


def tenant() -> str:
    return str(uuid.uuid4())


def test_at_most_limit_holders_and_a_released_slot_is_taken_again(azurite: Azurite) -> None:
    limiter = slots(azurite, limit=2)
    who = tenant()
    first, second = limiter.try_acquire(who), limiter.try_acquire(who)
    assert first is not None
    assert second is not None
    assert {first.slot, second.slot} == {0, 1}
    assert limiter.try_acquire(who) is None
    limiter.release(first)
    third = limiter.try_acquire(who)
    assert third is not None
    assert third.slot == first.slot


def test_a_full_tenant_does_not_block_another(azurite: Azurite) -> None:
    limiter = slots(azurite, limit=1)
    busy, other = tenant(), tenant()
    assert limiter.try_acquire(busy) is not None
    assert limiter.try_acquire(busy) is None
    assert limiter.try_acquire(other) is not None


def test_an_expired_lease_is_taken_over_and_its_late_release_frees_nothing(
    azurite: Azurite,
) -> None:
    start = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    who = tenant()
    crashed = slots(azurite, limit=1, lease_s=60.0, clock=lambda: start)
    stale = crashed.try_acquire(who)
    assert stale is not None
    assert (
        slots(azurite, limit=1, clock=lambda: start + timedelta(seconds=59)).try_acquire(who)
        is None
    )
    later = slots(azurite, limit=1, clock=lambda: start + timedelta(seconds=61))
    taken = later.try_acquire(who)
    assert taken is not None
    crashed.release(stale)  # the old holder wakes up: its ETag is stale
    assert later.try_acquire(who) is None


def test_hold_gives_up_after_the_wait_with_a_retryable_error(azurite: Azurite) -> None:
    waits: list[float] = []
    limiter = slots(azurite, limit=1, wait_s=0.0, sleep=waits.append)
    who = tenant()
    assert limiter.try_acquire(who) is not None
    with (
        pytest.raises(TenantBusyError, match="all 1 slots of the tenant are busy"),
        limiter.hold(who),
    ):
        pytest.fail("entered without a slot")
    assert waits == []


def test_concurrent_holders_never_exceed_the_limit(azurite: Azurite) -> None:
    """Twelve threads, each with its own client (as separate instances would), share a limit
    of three; each holds its slot while the others try."""
    who, limit = tenant(), 3
    inside, peak, done = 0, 0, 0
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        nonlocal inside, peak, done
        limiter = slots(azurite, limit=limit, wait_s=60.0, sleep=lambda _: time.sleep(0.01))
        try:
            for _ in range(3):
                with limiter.hold(who):
                    with lock:
                        inside += 1
                        peak = max(peak, inside)
                    time.sleep(0.02)
                    with lock:
                        inside -= 1
            with lock:
                done += 1
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert done == 12
    assert 1 <= peak <= limit


def test_a_busy_tenant_change_is_retried_later_without_reading_graph(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    who = tenant_of(simulator)
    limiter = slots(azurite, limit=1, wait_s=0.0)
    limited = replace(services, slots=limiter)
    holder = limiter.try_acquire(who)
    assert holder is not None
    simulator.clear_log()
    message = ChangeMessage.create(who, "manual", "full")
    changes = queue_client(azurite, CHANGES_QUEUE)
    # Busy is not a failure: the message goes back on the queue (delayed, as a new delivery)
    # instead of raising, so a busy tenant never uses up a message's attempts into poison.
    assert process_change_text(limited, message.to_text()) is None
    assert simulator.request_log == []
    assert changes.get_queue_properties().approximate_message_count == 1
    limiter.release(holder)
    process_change_text(limited, message.to_text())
    assert simulator.request_log
    assert limiter.try_acquire(who) is not None  # the run freed its slot


def test_a_failed_release_strands_the_slot_for_one_lease_only(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storage gone at the end of a run: the release fails, and must neither raise nor keep the
    tenant's slots for the function timeout; the next run gets the slot once the lease ran out."""
    from azure.core.exceptions import ServiceRequestError
    from azure.data.tables import TableClient

    limiter = slots(azurite, limit=1, lease_s=1.5, wait_s=10.0)
    who = tenant()
    original = TableClient.update_entity

    def unreachable(self: TableClient, entity: object, **kwargs: object) -> object:
        if isinstance(entity, dict) and entity.get("Holder") == "":
            raise ServiceRequestError("storage unreachable")
        return original(self, entity, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as patched:
        patched.setattr(TableClient, "update_entity", unreachable)
        with limiter.hold(who):
            pass  # the release in `finally` fails: no exception reaches the caller
    assert limiter.try_acquire(who) is None  # still leased, for at most one lease
    with limiter.hold(who) as lease:  # waits for the lease to run out, then takes the slot
        assert lease.slot == 0


def test_a_run_longer_than_its_lease_keeps_the_slot(azurite: Azurite) -> None:
    limiter = slots(azurite, limit=1, lease_s=0.9, wait_s=0.0)
    who = tenant()
    with limiter.hold(who):
        time.sleep(2.0)  # more than two leases: renewed every third of one
        assert limiter.try_acquire(who) is None
    assert limiter.try_acquire(who) is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GREENSCREEN_TENANT_CONCURRENCY", "0"),
        ("GREENSCREEN_TENANT_CONCURRENCY", "many"),
        ("GREENSCREEN_TENANT_WAIT_SECONDS", "-1"),
        ("GREENSCREEN_TENANT_WAIT_SECONDS", "9999"),
    ],
)
def test_bad_concurrency_settings_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name} must be a whole number"):
        read_settings({name: value})


def test_concurrency_settings_are_read() -> None:
    settings = read_settings(
        {"GREENSCREEN_TENANT_CONCURRENCY": "4", "GREENSCREEN_TENANT_WAIT_SECONDS": "0"}
    )
    assert (settings.tenant_concurrency, settings.tenant_wait_seconds) == (4, 0)
