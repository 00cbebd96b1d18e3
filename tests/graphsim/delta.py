"""Delta queries for `groups/delta` and `devices/delta`.

A change journal (fed by applied changes) records which groups and devices changed and how their
membership moved. A delta link stands for a position in that journal plus the query that made
it (`$select`, `$filter`), as Graph's opaque state tokens do; the next call returns only what
changed after that position. The answer for one round is computed once and then paged, so
objects do not shift between pages while a client follows `@odata.nextLink`.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from rules.tenant_collections import DEVICES, GROUPS
from tests.graphsim.exchange import GraphError, GraphRequest, GraphResponse, bad_request
from tests.graphsim.navigation import project, without_navigations
from tests.graphsim.odata_filter import DELTA_PROFILE, compile_filter
from tests.graphsim.odata_query import ODataQuery
from tests.graphsim.paging import page_size
from tests.graphsim.tenant_view import TenantView

DELTA_COLLECTIONS: Final = (GROUPS, DEVICES)
# Delta tokens of directory objects are good for seven days (Graph's delta query overview).
DELTA_TOKEN_LIFETIME: Final = timedelta(days=7)
# Rounds kept for paging; a client that comes back to an evicted round gets 410 and resyncs.
MAX_OPEN_ROUNDS: Final = 256


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    collection: str
    object_id: str
    properties_changed: bool
    removed_reason: str | None = None  # "changed" (soft delete) | "deleted"
    members_added: tuple[Mapping[str, Any], ...] = ()
    members_removed: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class DeltaState:
    """What a `$deltatoken` stands for."""

    collection: str
    seq: int
    issued_at: datetime
    select: tuple[str, ...] | None
    filter_text: str | None


@dataclass(frozen=True)
class DeltaRound:
    """One answer being paged through with `$skiptoken`."""

    collection: str
    items: tuple[dict[str, Any], ...]
    next_state: DeltaState
    created_at: datetime


def sync_state_gone() -> GraphError:
    return GraphError(
        410,
        "syncStateNotFound",
        "The sync state for this delta token was not found or has expired. "
        "Start a new sync without a token.",
    )


class DeltaTracker:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._journal: list[JournalEntry] = []
        self._seq = 0
        self._tokens: dict[str, DeltaState] = {}
        self._rounds: OrderedDict[str, DeltaRound] = OrderedDict()

    # --- journal ------------------------------------------------------------------------------

    def record(
        self,
        collection: str,
        object_id: str,
        *,
        properties_changed: bool,
        removed_reason: str | None = None,
        members_added: Iterable[Mapping[str, Any]] = (),
        members_removed: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        with self._lock:
            self._seq += 1
            self._journal.append(
                JournalEntry(
                    seq=self._seq,
                    collection=collection,
                    object_id=object_id,
                    properties_changed=properties_changed,
                    removed_reason=removed_reason,
                    members_added=tuple(dict(m) for m in members_added),
                    members_removed=tuple(dict(m) for m in members_removed),
                )
            )

    def expire_tokens(self) -> None:
        """Forget every delta and skip token, as if they had aged past their lifetime."""
        with self._lock:
            self._tokens.clear()
            self._rounds.clear()

    # --- requests -----------------------------------------------------------------------------

    def answer(
        self,
        request: GraphRequest,
        query: ODataQuery,
        collection: str,
        tenant: TenantView,
        base_url: str,
    ) -> GraphResponse:
        if query.expand or query.orderby or query.top is not None or query.count:
            # Directory delta takes neither $expand, $orderby, $top nor $count.
            raise bad_request("The delta query does not support $expand, $orderby, $top or $count.")
        if query.search is not None:
            raise bad_request("The delta query does not support $search.")
        size = _max_page_size(request, collection)
        if query.skiptoken is not None:
            return self._page(request, collection, query.skiptoken, size, base_url)
        if query.deltatoken is not None and query.deltatoken.lower() == "latest":
            state = self._state_now(collection, query.select, query.filter)
            return self._respond(request, collection, [], None, self._issue(state), base_url)
        if query.deltatoken is not None:
            state = self._state_for(query.deltatoken, collection)
            items, next_state = self._changes_since(state, tenant)
        else:
            if query.filter is not None:
                compile_filter(query.filter, DELTA_PROFILE, advanced_query=False)
            state = self._state_now(collection, query.select, query.filter)
            items = self._everything(state, tenant)
            next_state = state
        round_id = self._open_round(collection, items, next_state)
        return self._page(request, collection, f"{round_id}~0", size, base_url)

    def _state_now(
        self, collection: str, select: tuple[str, ...] | None, filter_text: str | None
    ) -> DeltaState:
        with self._lock:
            return DeltaState(collection, self._seq, self._now(), select, filter_text)

    def _issue(self, state: DeltaState) -> str:
        token = uuid.uuid4().hex
        with self._lock:
            self._tokens[token] = state
        return token

    def _state_for(self, token: str, collection: str) -> DeltaState:
        with self._lock:
            state = self._tokens.get(token)
        if state is None or state.collection != collection:
            raise sync_state_gone()
        if self._now() - state.issued_at > DELTA_TOKEN_LIFETIME:
            raise sync_state_gone()
        return state

    def _open_round(
        self, collection: str, items: list[dict[str, Any]], next_state: DeltaState
    ) -> str:
        round_id = uuid.uuid4().hex
        with self._lock:
            self._rounds[round_id] = DeltaRound(collection, tuple(items), next_state, self._now())
            while len(self._rounds) > MAX_OPEN_ROUNDS:
                self._rounds.popitem(last=False)
        return round_id

    def _page(
        self, request: GraphRequest, collection: str, skiptoken: str, size: int, base_url: str
    ) -> GraphResponse:
        round_id, _, offset_text = skiptoken.partition("~")
        with self._lock:
            current = self._rounds.get(round_id)
        if current is None or current.collection != collection or not offset_text.isdigit():
            raise sync_state_gone()
        if self._now() - current.created_at > DELTA_TOKEN_LIFETIME:
            raise sync_state_gone()
        offset = int(offset_text)
        page = list(current.items[offset : offset + size])
        if offset + size < len(current.items):
            return self._respond(
                request, collection, page, f"{round_id}~{offset + size}", None, base_url
            )
        return self._respond(
            request, collection, page, None, self._issue(current.next_state), base_url
        )

    def _respond(
        self,
        request: GraphRequest,
        collection: str,
        items: list[dict[str, Any]],
        skiptoken: str | None,
        deltatoken: str | None,
        base_url: str,
    ) -> GraphResponse:
        link_base = f"{base_url}/{request.version}/{collection}/delta"
        body: dict[str, Any] = {
            "@odata.context": f"{base_url}/{request.version}/$metadata#{collection}"
        }
        if skiptoken is not None:
            body["@odata.nextLink"] = f"{link_base}?$skiptoken={skiptoken}"
        if deltatoken is not None:
            body["@odata.deltaLink"] = f"{link_base}?$deltatoken={deltatoken}"
        body["value"] = items
        return GraphResponse(200, body)

    # --- what a round contains ----------------------------------------------------------------

    def _everything(self, state: DeltaState, tenant: TenantView) -> list[dict[str, Any]]:
        matches = _id_filter(state.filter_text)
        track_members = _tracks_members(state)
        items = []
        for obj in tenant.objects(state.collection):
            if not matches(obj):
                continue
            item = _render(obj, state)
            members = obj.get("members")
            if track_members and isinstance(members, list) and members:
                item["members@delta"] = [_member_stub(m) for m in members]
            items.append(item)
        return items

    def _changes_since(
        self, state: DeltaState, tenant: TenantView
    ) -> tuple[list[dict[str, Any]], DeltaState]:
        with self._lock:
            entries = [
                e for e in self._journal if e.seq > state.seq and e.collection == state.collection
            ]
            next_state = DeltaState(
                state.collection, self._seq, self._now(), state.select, state.filter_text
            )
        matches = _id_filter(state.filter_text)
        track_members = _tracks_members(state)
        by_object: dict[str, list[JournalEntry]] = {}
        for entry in entries:
            by_object.setdefault(entry.object_id, []).append(entry)
        # Objects come in the order of their latest change.
        ordered = sorted(by_object.items(), key=lambda pair: pair[1][-1].seq)
        items = []
        for object_id, history in ordered:
            if not matches({"id": object_id}):
                continue
            item = _changed_item(object_id, history, state, tenant, track_members)
            if item is not None:
                items.append(item)
        return items, next_state


def _changed_item(
    object_id: str,
    history: list[JournalEntry],
    state: DeltaState,
    tenant: TenantView,
    track_members: bool,
) -> dict[str, Any] | None:
    current = tenant.find(state.collection, object_id)
    if current is None:
        reasons = [e.removed_reason for e in history if e.removed_reason]
        return {"id": object_id, "@removed": {"reason": reasons[-1] if reasons else "deleted"}}
    member_changes = _net_member_changes(history) if track_members else []
    if not any(e.properties_changed for e in history) and not member_changes:
        return None
    item = _render(current, state)
    if member_changes:
        item["members@delta"] = member_changes
    return item


def _net_member_changes(history: list[JournalEntry]) -> list[dict[str, Any]]:
    last_action: dict[str, tuple[Mapping[str, Any], bool]] = {}
    for entry in history:
        for member in entry.members_added:
            last_action[str(member.get("id"))] = (member, True)
        for member in entry.members_removed:
            last_action[str(member.get("id"))] = (member, False)
    changes = []
    for member, added in last_action.values():
        stub = _member_stub(member)
        if not added:
            stub["@removed"] = {"reason": "deleted"}
        changes.append(stub)
    return changes


def _member_stub(member: Mapping[str, Any]) -> dict[str, Any]:
    # members@delta items carry only the type and id.
    return {
        "@odata.type": member.get("@odata.type", "#microsoft.graph.device"),
        "id": member.get("id"),
    }


def _tracks_members(state: DeltaState) -> bool:
    return state.collection == GROUPS and any(
        name.lower() == "members" for name in state.select or ()
    )


def _render(obj: Mapping[str, Any], state: DeltaState) -> dict[str, Any]:
    select = None
    if state.select is not None:
        select = tuple(name for name in state.select if name.lower() != "members")
    return project(without_navigations(obj, state.collection), select)


def _id_filter(filter_text: str | None) -> Callable[[Mapping[str, Any]], bool]:
    if filter_text is None:
        return lambda _: True
    return compile_filter(filter_text, DELTA_PROFILE, advanced_query=False)


def _max_page_size(request: GraphRequest, collection: str) -> int:
    # Delta pages are sized by `Prefer: odata.maxpagesize=N`, not by $top.
    prefer = request.header("prefer") or ""
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "odata.maxpagesize" and value.strip().isdigit():
            return page_size(f"{collection}/delta", max(1, int(value.strip())))
    return page_size(f"{collection}/delta", None)
