"""Reading Intune's Autopilot deployment record incrementally, like the audit poll.

`GET beta/deviceManagement/autopilotEvents?$filter=deploymentEndDateTime ge <cursor - overlap>`,
every page followed; events are de-duplicated by id against the digests the cursor remembers (a
record can appear in several overlapping windows). Only finished pre-provisioning attempts are
kept. For each failed one, its `policyStatusDetails` are read per event (the list does not carry
them), the attempt is assessed against the verdicts valid at its time, stored, and alerted once
(the delivery ledger is keyed by the event id). The cursor moves last, with an ETag
compare-and-set, so a poll that dies halfway re-reads the same events and changes nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from monitors.deployments.assessment import (
    FAILURE_CATEGORIES,
    Assessment,
    HistoryAt,
    assess,
    assessment_document,
)
from monitors.deployments.attempts import Attempt, event_end, finished_attempt
from monitors.graph.client import GraphClient
from monitors.graph.reader import is_safe_id
from monitors.store.deployment_store import DeploymentStore
from monitors.store.keys import format_time, parse_time
from monitors.store.verdict_store import VerdictStore

log = logging.getLogger(__name__)

CURSOR_NAME: Final = "autopilot-deployments"
EVENTS_PATH: Final = "deviceManagement/autopilotEvents"
VERSION: Final = "beta"  # the resource exists in beta only
MAX_PAGES: Final = 50  # a poll reads at most 50 pages; the rest waits for the next run
MAX_DETAIL_READS: Final = 1_000  # failed attempts one poll reads details of; the rest waits
MAX_REMEMBERED: Final = 600  # id digests kept in the cursor (it must stay under 32 K characters)
FIRST_LOOKBACK: Final = timedelta(days=30)  # how far the first poll of a tenant looks back

Notify = Callable[[str, Sequence[Mapping[str, Any]]], int]


@dataclass(frozen=True, slots=True)
class DeploymentPollOutcome:
    events_read: int
    new_events: int
    attempts: int  # finished pre-provisioning attempts among the new events
    failures: int
    details_read: int
    graph_requests: int
    alerts: int
    cursor: str
    categories: Mapping[str, int]


async def poll_deployments(
    client: GraphClient,
    tenant_id: str,
    *,
    store: VerdictStore,
    deployments: DeploymentStore,
    now: datetime,
    overlap: timedelta,
    notify: Notify | None = None,
    first_lookback: timedelta = FIRST_LOOKBACK,
) -> DeploymentPollOutcome:
    cursor = DeploymentCursor.load(store, tenant_id, now - first_lookback)
    events, requests = await read_events(client, cursor.since - overlap)
    fresh = [e for e in events if cursor.is_new(e)]
    attempts = [
        a for a in (finished_attempt(e) for e in fresh) if a is not None and a.pre_provisioning
    ]
    details_read = 0
    detailed: list[Attempt] = []
    deferred: list[Attempt] = []  # failures past this poll's detail budget: the next poll's
    for attempt in sorted(attempts, key=lambda a: a.at):
        if attempt.failed and is_safe_id(attempt.event_id):
            if details_read >= MAX_DETAIL_READS:
                deferred.append(attempt)
                continue
            details, cost = await read_details(client, attempt.event_id)
            details_read += 1
            requests += cost
            attempt = attempt.with_failing(details)
        detailed.append(attempt)
    assessments: list[Assessment] = []
    if detailed:
        history = HistoryAt.load(store, tenant_id, min(a.at for a in detailed))
        assessments = [assess(a, history) for a in detailed]
    documents = [assessment_document(a) for a in assessments]
    deployments.record(tenant_id, documents)
    failed = [
        d
        for d in documents
        if d["category"] in FAILURE_CATEGORIES
        or (d["category"] == "not_covered" and d["deploymentState"] == "failure")
    ]
    alerts = notify(tenant_id, failed) if notify is not None and failed else 0
    newest = cursor.save(store, tenant_id, events, overlap, deferred)
    categories: dict[str, int] = {}
    for document in documents:
        categories[document["category"]] = categories.get(document["category"], 0) + 1
    return DeploymentPollOutcome(
        events_read=len(events),
        new_events=len(fresh),
        attempts=len(attempts),
        failures=sum(1 for a in attempts if a.failed),
        details_read=details_read,
        graph_requests=requests,
        alerts=alerts,
        cursor=format_time(newest),
        categories=categories,
    )


async def read_events(client: GraphClient, read_from: datetime) -> tuple[list[dict[str, Any]], int]:
    url = f"{EVENTS_PATH}?$filter=deploymentEndDateTime ge {format_time(read_from)}"
    page = await client.get_json(VERSION, url)
    requests = 1
    events: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        events.extend(e for e in page.get("value") or () if isinstance(e, dict) and e.get("id"))
        next_link = page.get("@odata.nextLink")
        if not isinstance(next_link, str) or not next_link:
            break
        page = await client.request_json("GET", next_link)
        requests += 1
    return events, requests


async def read_details(client: GraphClient, event_id: str) -> tuple[list[dict[str, Any]], int]:
    page = await client.get_json(VERSION, f"{EVENTS_PATH}/{event_id}/policyStatusDetails")
    requests = 1
    details: list[dict[str, Any]] = []
    for _ in range(5):
        details.extend(d for d in page.get("value") or () if isinstance(d, dict))
        next_link = page.get("@odata.nextLink")
        if not isinstance(next_link, str) or not next_link:
            break
        page = await client.request_json("GET", next_link)
        requests += 1
    return details, requests


@dataclass
class DeploymentCursor:
    """`{"since": newest end time read, "seen": {sha256(id)[:16]: end time}}` in one cursor."""

    since: datetime
    remembered: dict[str, str]
    etag: str | None

    @classmethod
    def load(cls, store: VerdictStore, tenant_id: str, start: datetime) -> DeploymentCursor:
        stored = store.get_cursor(tenant_id, CURSOR_NAME)
        if stored is None:
            return cls(start, {}, None)
        document = json.loads(stored[0])
        return cls(parse_time(document["since"]), dict(document.get("seen", {})), stored[1])

    def is_new(self, event: Mapping[str, Any]) -> bool:
        if finished_attempt(event) is None:
            return False  # still running: read again once it ends
        return _digest(str(event.get("id"))) not in self.remembered

    def save(
        self,
        store: VerdictStore,
        tenant_id: str,
        events: Iterable[Mapping[str, Any]],
        overlap: timedelta,
        deferred: Sequence[Attempt] = (),
    ) -> datetime:
        """Remember what was read; deferred attempts stay unseen and hold the cursor back."""
        waiting = {a.event_id for a in deferred}
        finished = [
            e for e in events if finished_attempt(e) is not None and str(e.get("id")) not in waiting
        ]
        newest = max((event_end(e) for e in finished), default=self.since)
        newest = max(newest, self.since)
        if deferred:
            newest = min(newest, min(a.at for a in deferred) + overlap)
        seen = dict(self.remembered)
        for event in finished:
            seen[_digest(str(event.get("id")))] = format_time(event_end(event))
        keep_after = newest - overlap
        kept = {d: at for d, at in seen.items() if parse_time(at) >= keep_after}
        trimmed = dict(sorted(kept.items(), key=lambda item: item[1])[-MAX_REMEMBERED:])
        text = json.dumps({"since": format_time(newest), "seen": trimmed}, separators=(",", ":"))
        try:
            store.set_cursor(tenant_id, CURSOR_NAME, text, etag=self.etag)
        except (ResourceModifiedError, ResourceExistsError, ResourceNotFoundError):
            log.info("another poll moved the deployment cursor first")
        return newest


def _digest(event_id: str) -> str:
    return hashlib.sha256(event_id.encode()).hexdigest()[:16]
