"""The last look before an alert is posted: is its transition still the news?

Alerts wait on the queue for the settle time (`GREENSCREEN_ALERT_SETTLE_SECONDS`, see
docs/guardrail.md), so when one is sent, every transition of its subject that followed within
that time is recorded. Then:

- a transition followed within the settle time by another of the same subject is a flap: its
  alert is dropped (the later transition's alert tells the story);
- a transition that ends such a quick chain where it began (fail → pass within seconds, or a new
  subject seen failing and then passing) is dropped too: nothing is different from before;
- a transition recorded without a cause whose stored copy has one now (the directory audit
  record arrived after the change notification) is sent with that cause.

A run's batch is judged alert by alert before its cards are composed (`settled_batch`): the
superseded transitions leave the batch, the rest are grouped as usual. When the store cannot be
read the alert goes out as it is: an alert matters more than its polish.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Final

from monitors.store.records import StoredStatus, Transition
from monitors.store.verdict_store import VerdictStore

log = logging.getLogger(__name__)

SETTLE_SETTING: Final = "GREENSCREEN_ALERT_SETTLE_SECONDS"
DEFAULT_SETTLE_S: Final = 120.0
QUIET: Final = frozenset(
    {None, StoredStatus.PASS, StoredStatus.NOT_APPLICABLE, StoredStatus.RESOLVED}
)
CHAIN_LOOKBACK: Final = 10  # settle periods to look back for the start of a quick chain
PER_SUBJECT_QUERIES: Final = 10  # batches with more subjects read the history window once
MAX_WINDOW_PAGES: Final = 5  # of 1,000 transitions


def settle_seconds(environ: Mapping[str, str] | None) -> float:
    text = (environ if environ is not None else os.environ).get(SETTLE_SETTING) or ""
    try:
        value = float(text) if text else DEFAULT_SETTLE_S
    except ValueError:
        return DEFAULT_SETTLE_S
    return value if 0 <= value <= 3600 else DEFAULT_SETTLE_S


def settled(
    transition: Transition, store: VerdictStore, settle_s: float
) -> tuple[Transition | None, str]:
    """The transition to alert (with any cause attached since), or None and why not."""
    if transition.seq <= 0:  # a message from before the sequence travelled with it
        return transition, ""
    record = transition.record
    since = transition.at - timedelta(seconds=max(settle_s, 1.0) * CHAIN_LOOKBACK)
    page = store.history(
        transition.tenant_id,
        rule=record.rule_id,
        subject=record.subject_id,
        since=since,
        page_size=200,
    )
    return _judge(transition, page.items, settle_s)


def settled_batch(
    transitions: Sequence[Transition], store: VerdictStore, settle_s: float
) -> list[tuple[Transition | None, str]]:
    """`settled` for every transition of one run's batch, in order.

    A few subjects are looked up one by one; more (a reconcile that moved hundreds of verdicts)
    with one read of the tenant's history around the run, so the cost stays a handful of
    queries per batch. When that window holds more than `MAX_WINDOW_PAGES` pages, the alerts
    go out as they are."""
    judged = [t for t in transitions if t.seq > 0]
    subjects = {(t.record.rule_id, t.record.subject_id) for t in judged}
    if len(subjects) <= PER_SUBJECT_QUERIES:
        return [settled(t, store, settle_s) for t in transitions]
    lookback = timedelta(seconds=max(settle_s, 1.0) * CHAIN_LOOKBACK)
    since = min(t.at for t in judged) - lookback
    until = max(t.at for t in judged) + timedelta(seconds=max(settle_s, 1.0) + 1)
    window: list[Transition] = []
    continuation = None
    for _ in range(MAX_WINDOW_PAGES):
        page = store.history(
            judged[0].tenant_id,
            since=since,
            until=until,
            continuation=continuation,
            page_size=1000,
        )
        window.extend(page.items)
        continuation = page.continuation
        if continuation is None:
            break
    else:
        log.warning("history around a batch of %d alerts is too large to settle", len(judged))
        return [(t, "") for t in transitions]
    by_subject: dict[tuple[str, str], list[Transition]] = {}
    for item in window:
        by_subject.setdefault((item.record.rule_id, item.record.subject_id), []).append(item)
    return [
        _judge(t, by_subject.get((t.record.rule_id, t.record.subject_id), []), settle_s)
        if t.seq > 0
        else (t, "")
        for t in transitions
    ]


def _judge(
    transition: Transition, history: Sequence[Transition], settle_s: float
) -> tuple[Transition | None, str]:
    record = transition.record
    same = sorted(
        (
            t
            for t in history
            if t.record.scope_id == record.scope_id and t.record.subject_type == record.subject_type
        ),
        key=lambda t: t.seq,
    )
    stored = [t for t in same if t.seq == transition.seq]
    if stored and not transition.cause_event_ids and stored[0].cause_event_ids:
        transition = replace(transition, cause_event_ids=stored[0].cause_event_ids)
    if settle_s <= 0:
        return transition, ""
    later = [t for t in same if t.seq > transition.seq]
    if later and (later[0].at - transition.at).total_seconds() <= settle_s:
        return None, f"superseded within {settle_s:.0f} s by the transition to {later[0].to_status}"
    origin, chained = _chain_origin(
        transition, [t for t in same if t.seq < transition.seq], settle_s
    )
    if chained and _same_side(origin, transition.to_status):
        return None, f"back to {transition.to_status} within {settle_s:.0f} s of leaving it"
    return transition, ""


def _chain_origin(
    transition: Transition, earlier: Sequence[Transition], settle_s: float
) -> tuple[StoredStatus | None, bool]:
    origin, at, chained = transition.from_status, transition.at, False
    for previous in reversed(earlier):  # newest first
        if (at - previous.at).total_seconds() > settle_s:
            break
        origin, at, chained = previous.from_status, previous.at, True
    return origin, chained


def _same_side(a: StoredStatus | None, b: StoredStatus | None) -> bool:
    return a == b or (a in QUIET and b in QUIET)


def settled_batch_from_settings(
    transitions: Sequence[Transition], environ: Mapping[str, str] | None
) -> list[Transition | None]:
    """`settled_batch` with the store and settle time of the app settings; logs what is
    dropped. When the store cannot be read, every alert goes out as it is."""
    from azure.core.exceptions import AzureError

    from monitors.store.settings import store_from_settings

    if not transitions:
        return []
    try:
        store = store_from_settings(environ, create_tables=False)
        judged = settled_batch(transitions, store, settle_seconds(environ))
    except (AzureError, ValueError) as error:
        log.warning("could not check alerts against history: %s", type(error).__name__)
        return list(transitions)
    for transition, (kept, why) in zip(transitions, judged, strict=True):
        if kept is None:
            log.info(
                "alert for %s on %s not sent: %s",
                transition.record.rule_id,
                transition.record.subject_id,
                why,
                extra={"tenant_id": transition.tenant_id, "rule_id": transition.record.rule_id},
            )
    return [kept for kept, _ in judged]


def settled_from_settings(
    transition: Transition, environ: Mapping[str, str] | None
) -> Transition | None:
    """`settled` with the store and settle time of the app settings; logs a dropped alert."""
    from azure.core.exceptions import AzureError

    from monitors.store.settings import store_from_settings

    try:
        store = store_from_settings(environ, create_tables=False)
        kept, why = settled(transition, store, settle_seconds(environ))
    except (AzureError, ValueError) as error:
        log.warning("could not check an alert against history: %s", type(error).__name__)
        return transition
    if kept is None:
        log.info(
            "alert for %s on %s not sent: %s",
            transition.record.rule_id,
            transition.record.subject_id,
            why,
            extra={"tenant_id": transition.tenant_id, "rule_id": transition.record.rule_id},
        )
    return kept
