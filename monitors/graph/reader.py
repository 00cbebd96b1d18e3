"""Reading a whole tenant from Graph into a snapshot document, in as few requests as Graph allows.

1. Every collection in `COLLECTION_SPECS`, in parallel, at the largest page size, with
   `$expand=assignments` (and friends) so assignments cost nothing extra.
2. What cannot be expanded, per object, 20 to a JSON batch: settings catalog `settings` (only for
   policies whose `settingCount` is not 0), app `relationships` (only for apps whose counts say they
   have some), and the referenced groups (15 ids per `$filter=id in (...)`).
3. The direct members of the referenced *assigned* groups (dynamic groups are predicted from their
   rule), also batched.

A collection that cannot be read is recorded in `errors` and the read goes on (unknown is never
green: the rules turn a missing collection into UNKNOWN).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitors.graph.client import BatchItem, BatchRunner, GraphClient, GraphError, GraphVersion
from monitors.graph.collections import (
    COLLECTION_SPECS,
    GROUP_FIELDS,
    GROUP_IDS_PER_FILTER,
    MEMBERS_PAGE_SIZE,
    SETTINGS_PAGE_SIZE,
    CollectionSpec,
)
from monitors.snapshot_file import SNAPSHOT_FORMAT
from rules import tenant_collections as tc

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int | None, Mapping[str, Any] | None], None]
"""Called once per collection as it completes: (path, object count or None, error or None)."""

RELATIONSHIP_COUNTS = ("dependentAppCount", "supersedingAppCount", "supersededAppCount")
DELEGATED_ONLY_HINT = (
    "this API accepts delegated permissions only; sign in as an admin "
    "(--auth interactive or device-code) or attest the MDM user scope in settings"
)


@dataclass
class _ReadState:
    collections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Objects whose navigation must be read one by one: (collection, navigation) -> objects.
    per_object: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)


class TenantReader:
    def __init__(
        self,
        client: GraphClient,
        *,
        tenant_id: str,
        concurrency: int = 4,
        progress: ProgressCallback | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._tenant_id = tenant_id
        self._concurrency = concurrency
        self._progress = progress or (lambda path, count, error: None)
        self._clock = clock

    async def read(self) -> dict[str, Any]:
        captured_at = self._clock().astimezone(UTC)
        state = _ReadState()
        semaphore = asyncio.Semaphore(self._concurrency)

        async def read_one(spec: CollectionSpec) -> None:
            async with semaphore:
                await self._read_collection(spec, state)

        await asyncio.gather(*(read_one(spec) for spec in COLLECTION_SPECS))
        beta = BatchRunner(self._client, "beta", concurrency=self._concurrency)
        directory = BatchRunner(self._client, "v1.0", concurrency=self._concurrency)
        self._queue_settings(state, beta)
        self._queue_relationships(state, beta)
        self._queue_fallback_navigations(state, beta)
        self._queue_groups(state, directory)
        await asyncio.gather(beta.drain(), directory.drain())
        for path in (tc.SETTINGS_CATALOG_POLICIES, tc.MOBILE_APPS, tc.GROUPS):
            if path in state.collections:
                self._progress(path, len(state.collections[path]), None)
        collections = {
            path: state.collections[path]
            for path in tc.ALL_COLLECTIONS
            if path in state.collections
        }
        return {
            "format": SNAPSHOT_FORMAT,
            "tenantId": self._tenant_id,
            "capturedAt": captured_at.isoformat().replace("+00:00", "Z"),
            "collections": collections,
            "errors": dict(sorted(state.errors.items())),
        }

    # -- whole collections --------------------------------------------------------------------

    async def _read_collection(self, spec: CollectionSpec, state: _ReadState) -> None:
        try:
            items = await self._list(spec)
        except GraphError as error:
            if error.status == 400 and spec.per_object_fallback:
                # Graph refused the expand: read the list plain, the navigations per object.
                log.info("expand refused on %s; reading navigations per object", spec.path)
                try:
                    items = await self._list(spec.without_expand())
                except GraphError as second:
                    self._fail(spec, second, state)
                    return
                for navigation in spec.per_object_fallback:
                    state.per_object[(spec.path, navigation)] = items
            else:
                self._fail(spec, error, state)
                return
        state.collections[spec.path] = items
        if spec.path not in (tc.SETTINGS_CATALOG_POLICIES, tc.MOBILE_APPS):
            self._progress(spec.path, len(items), None)

    def _fail(self, spec: CollectionSpec, error: GraphError, state: _ReadState) -> None:
        record = error.as_record()
        if spec.delegated_only and error.status in (401, 403):
            record["message"] = f"{error.message} ({DELEGATED_ONLY_HINT})"
        state.errors[spec.path] = record
        log.warning(
            "could not read %s: %s %s",
            spec.path,
            error.status,
            error.message,
            extra={"graph_path": spec.path, "status": error.status},
        )
        self._progress(spec.path, None, record)

    async def _list(self, spec: CollectionSpec) -> list[dict[str, Any]]:
        headers = {"ConsistencyLevel": "eventual"} if spec.advanced_query else None
        first = await self._client.get_json(spec.version, spec.list_url(), headers=headers)
        if spec.singleton:
            return [without_annotations(first)]
        return await self._follow_pages(first, headers)

    async def _follow_pages(
        self, page: dict[str, Any], headers: Mapping[str, str] | None
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        seen_links: set[str] = set()
        while True:
            values = page.get("value")
            if not isinstance(values, list):
                raise GraphError(502, "malformed collection page: no 'value' array")
            items.extend(without_annotations(item) for item in values if isinstance(item, dict))
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return items
            if not isinstance(next_link, str) or next_link in seen_links:
                raise GraphError(502, "Graph returned a nextLink that loops; stopped paging")
            seen_links.add(next_link)
            page = await self._client.request_json("GET", next_link, headers=headers)

    # -- per-object navigations (batched) ------------------------------------------------------

    def _queue_paged(
        self,
        runner: BatchRunner,
        version: GraphVersion,
        url: str,
        *,
        on_done: Callable[[list[dict[str, Any]]], None],
        on_error: Callable[[GraphError], None],
    ) -> None:
        collected: list[dict[str, Any]] = []

        def on_page(body: dict[str, Any]) -> None:
            values = body.get("value")
            if not isinstance(values, list):
                on_error(GraphError(502, "malformed page: no 'value' array"))
                return
            collected.extend(without_annotations(v) for v in values if isinstance(v, dict))
            next_link = body.get("@odata.nextLink")
            if isinstance(next_link, str) and next_link:
                try:
                    relative = self._client.relative_to_version(next_link, version)
                except GraphError as error:
                    on_error(error)
                    return
                runner.add(BatchItem(relative, on_page, on_error))
            else:
                on_done(collected)

        runner.add(BatchItem(url, on_page, on_error))

    def _queue_navigation(
        self,
        state: _ReadState,
        runner: BatchRunner,
        collection: str,
        obj: dict[str, Any],
        navigation: str,
        url: str,
    ) -> None:
        def done(values: list[dict[str, Any]]) -> None:
            obj[navigation] = values

        def failed(error: GraphError) -> None:
            state.errors[f"{collection}/{obj['id']}/{navigation}"] = error.as_record()

        self._queue_paged(runner, "beta", url, on_done=done, on_error=failed)

    def _queue_settings(self, state: _ReadState, runner: BatchRunner) -> None:
        for policy in state.collections.get(tc.SETTINGS_CATALOG_POLICIES, ()):
            if policy.get("settingCount") == 0:
                policy["settings"] = []  # Graph's count says there is nothing to read.
                continue
            url = (
                f"{tc.SETTINGS_CATALOG_POLICIES}/{policy['id']}/settings?$top={SETTINGS_PAGE_SIZE}"
            )
            self._queue_navigation(
                state, runner, tc.SETTINGS_CATALOG_POLICIES, policy, "settings", url
            )

    def _queue_relationships(self, state: _ReadState, runner: BatchRunner) -> None:
        for app in state.collections.get(tc.MOBILE_APPS, ()):
            counts = [app.get(name) for name in RELATIONSHIP_COUNTS]
            if all(count == 0 for count in counts):
                app["relationships"] = []  # No dependencies or supersedence, per Graph's counts.
                continue
            url = f"{tc.MOBILE_APPS}/{app['id']}/relationships"
            self._queue_navigation(state, runner, tc.MOBILE_APPS, app, "relationships", url)

    def _queue_fallback_navigations(self, state: _ReadState, runner: BatchRunner) -> None:
        for (collection, navigation), objects in state.per_object.items():
            for obj in objects:
                url = f"{collection}/{obj['id']}/{navigation}"
                self._queue_navigation(state, runner, collection, obj, navigation, url)

    def _queue_groups(self, state: _ReadState, runner: BatchRunner) -> None:
        wanted = sorted(referenced_group_ids(state.collections))
        found: dict[str, dict[str, Any]] = {}
        failures: list[GraphError] = []
        outstanding = {"lookups": 0, "members": 0}

        def finish_if_complete() -> None:
            if outstanding["lookups"] or outstanding["members"]:
                return
            if failures:
                # A partial group list would make present groups look deleted: all or nothing.
                state.errors[tc.GROUPS] = failures[0].as_record()
                self._progress(tc.GROUPS, None, state.errors[tc.GROUPS])
                return
            state.collections[tc.GROUPS] = [found[key] for key in sorted(found)]

        def member_reader(group: dict[str, Any]) -> None:
            def done(members: list[dict[str, Any]]) -> None:
                group["members"] = members
                outstanding["members"] -= 1
                finish_if_complete()

            def failed(error: GraphError) -> None:
                state.errors[f"{tc.GROUPS}/{group['id']}/members"] = error.as_record()
                outstanding["members"] -= 1
                finish_if_complete()

            outstanding["members"] += 1
            url = f"groups/{group['id']}/members?$select=id&$top={MEMBERS_PAGE_SIZE}"
            self._queue_paged(runner, "v1.0", url, on_done=done, on_error=failed)

        def lookup_done(values: list[dict[str, Any]]) -> None:
            for group in values:
                found[group["id"]] = group
                if "DynamicMembership" not in (group.get("groupTypes") or ()):
                    member_reader(group)
            outstanding["lookups"] -= 1
            finish_if_complete()

        def lookup_failed(error: GraphError) -> None:
            failures.append(error)
            outstanding["lookups"] -= 1
            finish_if_complete()

        if not wanted:
            state.collections[tc.GROUPS] = []
            return
        select = ",".join(GROUP_FIELDS)
        for chunk in chunked(wanted, GROUP_IDS_PER_FILTER):
            ids = ",".join(f"'{group_id}'" for group_id in chunk)
            outstanding["lookups"] += 1
            self._queue_paged(
                runner,
                "v1.0",
                f"groups?$filter=id in ({ids})&$select={select}",
                on_done=lookup_done,
                on_error=lookup_failed,
            )


def referenced_group_ids(collections: Mapping[str, Iterable[Mapping[str, Any]]]) -> set[str]:
    """Every group an assignment targets or excludes, and the MDM policy's included groups."""
    ids: set[str] = set()
    for items in collections.values():
        for item in items:
            for assignment in item.get("assignments") or ():
                target = assignment.get("target") or {}
                group_id = target.get("groupId")
                if isinstance(group_id, str) and is_safe_id(group_id):
                    ids.add(group_id)
    for policy in collections.get(tc.MDM_POLICIES, ()):
        for group in policy.get("includedGroups") or ():
            group_id = group.get("id")
            if isinstance(group_id, str) and is_safe_id(group_id):
                ids.add(group_id)
    return ids


def is_safe_id(value: str) -> bool:
    """Graph object ids are GUIDs; anything else must not be spliced into a `$filter`."""
    return 0 < len(value) <= 64 and all(c.isalnum() or c == "-" for c in value)


def without_annotations(item: Mapping[str, Any]) -> dict[str, Any]:
    """Drop OData control annotations (`@odata.context`, `assignments@odata.context`...).

    `@odata.type` is data (it names the derived type) and is kept. Expanded navigations carry
    their own annotations, so this goes down through nested objects and arrays.
    """
    return {
        key: _strip_nested(value)
        for key, value in item.items()
        if not ("@odata." in key and key != "@odata.type")
    }


def _strip_nested(value: Any) -> Any:
    if isinstance(value, dict):
        return without_annotations(value)
    if isinstance(value, list):
        return [_strip_nested(element) for element in value]
    return value


def chunked(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
