"""Reading a whole tenant from Graph into a snapshot document, in as few requests as Graph allows.

1. Every collection in `COLLECTION_SPECS`, in parallel, at the largest page size, with
   `$expand=assignments` (and friends) so assignments cost nothing extra.
2. What cannot be expanded, per object, 20 to a JSON batch: settings catalog `settings` (only for
   policies whose `settingCount` is not 0), app `relationships` (only for apps whose counts say they
   have some), each Autopilot profile's `assignedDevices` (which gives every device its
   `deploymentProfile`: Graph refuses that expand on the device list), and the referenced groups
   (15 ids per `$filter=id in (...)`).
3. The direct members of the referenced *assigned* groups (dynamic groups are predicted from their
   rule), also batched.
4. The plain values of encrypted OMA-URI settings a rule reads (`monitors/graph/oma_values.py`).

A collection that cannot be read is recorded in `errors` and the read goes on (unknown is never
green: the rules turn a missing collection into UNKNOWN).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from monitors.graph.client import BatchItem, BatchRunner, GraphClient, GraphError, GraphVersion
from monitors.graph.collections import (
    ASSIGNED_DEVICES_PAGE_SIZE,
    AUTOPILOT_DEVICE_FIELDS,
    COLLECTION_SPECS,
    GROUP_FIELDS,
    GROUP_IDS_PER_FILTER,
    MEMBERS_PAGE_SIZE,
    NOT_ASSIGNED_STATUSES,
    SETTINGS_PAGE_SIZE,
    CollectionSpec,
)
from monitors.graph.oma_values import read_plain_oma_values
from monitors.snapshot_file import SNAPSHOT_FORMAT
from monitors.telemetry import graph as graph_telemetry
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
    # Autopilot device id (lower case) -> its profile reference, from `assignedDevices`.
    assigned_profile: dict[str, dict[str, Any]] = field(default_factory=dict)
    unread_profiles: list[str] = field(default_factory=list)


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

    async def read(self, only: Collection[str] | None = None) -> dict[str, Any]:
        """The tenant as a snapshot document; `only`: just these collections (a re-read)."""
        # Fractional seconds kept: a full read in the same second as an incremental run must
        # not look older than it (its verdicts would be dropped as superseded).
        captured_at = self._clock().astimezone(UTC)
        state = _ReadState()
        semaphore = asyncio.Semaphore(self._concurrency)

        async def read_one(spec: CollectionSpec) -> None:
            async with semaphore:
                await self._read_collection(spec, state)

        specs = [s for s in COLLECTION_SPECS if only is None or s.path in only]
        await asyncio.gather(*(read_one(spec) for spec in specs))
        beta = BatchRunner(self._client, "beta", concurrency=self._concurrency)
        directory = BatchRunner(self._client, "v1.0", concurrency=self._concurrency)
        self._queue_settings(state, beta)
        self._queue_relationships(state, beta)
        self._queue_fallback_navigations(state, beta)
        self._queue_assigned_devices(state, beta)
        if only is None or tc.GROUPS in only:
            self._queue_groups(state, directory)
        await asyncio.gather(beta.drain(), directory.drain())
        attach_deployment_profiles(
            state.collections.get(tc.AUTOPILOT_DEVICES),
            state.assigned_profile,
            unread_profiles=state.unread_profiles,
            errors=state.errors,
        )
        # Encrypted OMA-URI values the rules read (monitors/graph/oma_values.py).
        await read_plain_oma_values(
            self._client, state.collections.get(tc.DEVICE_CONFIGURATIONS, ())
        )
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
                graph_telemetry.record_refused(spec.version, spec.list_url(), error.status)
                graph_telemetry.record_fallback(graph_telemetry.FALLBACK_PER_OBJECT, spec.path)
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
        if spec.path == tc.AUTOPILOT_DEVICES:
            items = [autopilot_device_fields(item) for item in items]
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
        queue_paged(self._client, runner, version, url, on_done=on_done, on_error=on_error)

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

    def _queue_assigned_devices(self, state: _ReadState, runner: BatchRunner) -> None:
        """Each profile's `assignedDevices`: the only bulk source of a device's assigned profile
        (the device list refuses `$expand=deploymentProfile`; its navigation path has no route)."""
        devices = state.collections.get(tc.AUTOPILOT_DEVICES)
        if not devices or all(
            device.get("deploymentProfileAssignmentStatus") in NOT_ASSIGNED_STATUSES
            for device in devices
        ):
            return  # nothing to look up: every device says it has no profile
        profiles = state.collections.get(tc.AUTOPILOT_PROFILES)
        if profiles is None:
            state.unread_profiles.append(tc.AUTOPILOT_PROFILES)
            return
        for profile in profiles:
            reference = profile_reference(profile)

            def done(values: list[dict[str, Any]], reference: dict[str, Any] = reference) -> None:
                for device in values:
                    device_id = device.get("id")
                    if isinstance(device_id, str):
                        state.assigned_profile.setdefault(device_id.lower(), reference)

            def failed(error: GraphError, profile_id: str = str(profile["id"])) -> None:
                log.warning(
                    "could not read the assigned devices of profile %s: %s",
                    profile_id,
                    error.status,
                    extra={"status": error.status},
                )
                state.unread_profiles.append(profile_id)

            self._queue_paged(
                runner,
                "beta",
                assigned_devices_url(str(profile["id"])),
                on_done=done,
                on_error=failed,
            )

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


def queue_paged(
    client: GraphClient,
    runner: BatchRunner,
    version: GraphVersion,
    url: str,
    *,
    on_done: Callable[[list[dict[str, Any]]], None],
    on_error: Callable[[GraphError], None],
) -> None:
    """Read every page of `url` through `runner`'s batches: each `@odata.nextLink` is queued as
    another batch item (relative to the version root); a link seen before stops the read."""
    collected: list[dict[str, Any]] = []
    seen: set[str] = set()

    def on_page(body: dict[str, Any]) -> None:
        values = body.get("value")
        if not isinstance(values, list):
            on_error(GraphError(502, "malformed page: no 'value' array"))
            return
        collected.extend(without_annotations(v) for v in values if isinstance(v, dict))
        next_link = body.get("@odata.nextLink")
        if not next_link:
            on_done(collected)
            return
        if not isinstance(next_link, str) or next_link in seen:
            on_error(GraphError(502, "Graph returned a nextLink that loops; stopped paging"))
            return
        seen.add(next_link)
        try:
            relative = client.relative_to_version(next_link, version)
        except GraphError as error:
            on_error(error)
            return
        runner.add(BatchItem(relative, on_page, on_error))

    runner.add(BatchItem(url, on_page, on_error))


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


def assigned_devices_url(profile_id: str) -> str:
    return f"{tc.AUTOPILOT_PROFILES}/{profile_id}/assignedDevices?$top={ASSIGNED_DEVICES_PAGE_SIZE}"


def profile_reference(profile: Mapping[str, Any]) -> dict[str, Any]:
    """How a device carries its deployment profile in the snapshot."""
    reference: dict[str, Any] = {}
    if "@odata.type" in profile:
        reference["@odata.type"] = profile["@odata.type"]
    reference["id"] = profile["id"]
    reference["displayName"] = profile.get("displayName")
    return reference


def autopilot_device_fields(device: Mapping[str, Any]) -> dict[str, Any]:
    """The fields the snapshot keeps of an Autopilot device (Graph cannot `$select` them)."""
    kept = {"@odata.type", *AUTOPILOT_DEVICE_FIELDS}
    return {key: value for key, value in device.items() if key in kept}


def attach_deployment_profiles(
    devices: list[dict[str, Any]] | None,
    assigned: Mapping[str, dict[str, Any]],
    *,
    unread_profiles: Iterable[str],
    errors: dict[str, dict[str, Any]],
) -> None:
    """Give every device its `deploymentProfile` from the profiles' `assignedDevices`.

    A device whose status says it has no profile gets null whatever the lists say. A device in no
    list gets null when every list was read; when one could not be read its profile is unknown:
    the navigation is left out and recorded as unreadable (the rules make that UNKNOWN).
    """
    if devices is None:
        return
    unread = list(unread_profiles)
    for device in devices:
        device.pop("intendedDeploymentProfile", None)  # not readable in bulk: never claimed
        if device.get("deploymentProfileAssignmentStatus") in NOT_ASSIGNED_STATUSES:
            device["deploymentProfile"] = None
            continue
        reference = assigned.get(str(device.get("id", "")).lower())
        if reference is not None:
            device["deploymentProfile"] = dict(reference)
        elif not unread:
            device["deploymentProfile"] = None
        else:
            device.pop("deploymentProfile", None)
            errors[f"{tc.AUTOPILOT_DEVICES}/{device['id']}/deploymentProfile"] = {
                "status": 0,
                "message": "the assigned devices of a deployment profile could not be read",
            }


# Graph object ids as Intune and Entra ID issue them (ASCII only):
# - a GUID, any case: `3a76f5df-c71f-5e69-acd4-cca139633a72`;
# - a GUID followed by `_`-joined parts, as Intune composes ids of default and derived objects:
#   `<tenant guid>_DefaultWindows10EnrollmentCompletionPageConfiguration`,
#   `<guid>_Windows10EnrollmentCompletion`, `<guid>_DefaultLimit`, assignment ids
#   `<policy guid>_<group guid>`, setting ids `<guid>_1_0` (each part letters/digits/dashes).
_GUID: Final = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_ID_PART: Final = r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*"
_GRAPH_ID: Final = re.compile(rf"{_GUID}(?:_{_ID_PART})*", re.ASCII)
MAX_ID_LENGTH: Final = 200


def is_safe_id(value: str) -> bool:
    """Whether `value` has the shape of a Graph object id, and so is safe to splice into a URL
    path or a quoted `$filter` value: no quote, slash, space or non-ASCII character can pass."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and _GRAPH_ID.fullmatch(value) is not None
    )


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
