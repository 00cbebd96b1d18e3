"""Routing a Graph request to its answer: auth, faults, then the resource it names.

Used for top-level requests and for each request inside a `$batch`, so faults, logging and every
query option behave the same in both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from rules.tenant_collections import (
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICE_REGISTRATION_POLICY,
    DEVICES,
    GROUPS,
    MOBILE_APPS,
)
from tests.graphsim.clock import SimulatorClock, error_date, parse_timestamp
from tests.graphsim.delta import DELTA_COLLECTIONS, DeltaTracker
from tests.graphsim.deployments import (
    AUTOPILOT_EVENTS,
    AUTOPILOT_EVENTS_PROFILE,
    DeploymentLog,
)
from tests.graphsim.deployments import ORDERABLE as DEPLOYMENT_ORDERABLE
from tests.graphsim.exchange import (
    GRAPH_VERSIONS,
    JSON_CONTENT_TYPE,
    GraphError,
    GraphRequest,
    GraphResponse,
    bad_request,
    error_body,
    error_code_for_status,
    is_directory_path,
)
from tests.graphsim.faults import Fault, FaultTable
from tests.graphsim.navigation import (
    NOT_ON_LISTS,
    SINGLE_VALUED,
    check_expand,
    navigation_value,
    navigations_of,
    project,
    render,
    snapshot_error,
    without_navigations,
)
from tests.graphsim.odata_filter import (
    AUTOPILOT_DEVICES_PROFILE,
    DEVICES_PROFILE,
    DIRECTORY_AUDIT_PROFILE,
    GENERIC_PROFILE,
    GROUPS_PROFILE,
    INTUNE_AUDIT_PROFILE,
    INTUNE_PROFILE,
    MOBILE_APPS_PROFILE,
    FilterProfile,
    compile_filter,
)
from tests.graphsim.odata_query import ODataQuery, parse_query
from tests.graphsim.oma_secrets import plain_text_reference, plain_text_value
from tests.graphsim.paging import SkipToken, decode_skip_token, page_bounds, page_size
from tests.graphsim.request_log import LoggedRequest, RequestLog
from tests.graphsim.subscriptions import SubscriptionService
from tests.graphsim.tenant_view import (
    AUDIT_COLLECTIONS,
    DIRECTORY_AUDITS,
    INTUNE_AUDIT_EVENTS,
    TenantView,
)

# `$orderby` properties each collection sorts by; any other `$orderby` is a 400.
ORDERABLE: Final[dict[str, frozenset[str]]] = {
    INTUNE_AUDIT_EVENTS: frozenset({"activityDateTime"}),
    DIRECTORY_AUDITS: frozenset({"activityDateTime"}),
    GROUPS: frozenset({"displayName"}),
    DEVICES: frozenset({"displayName"}),
}
# Characters left as they are in the query of an @odata.nextLink (Graph's links keep them).
_LINK_SAFE: Final = ",'()/:@$"
# The `garbled` fault's answer: not JSON, though labelled as JSON.
GARBLED_BODY: Final = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
# What Graph sends with a 401.
_WWW_AUTHENTICATE: Final = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
)
_FAULT_ERRORS: Final[dict[str, tuple[int, str, str]]] = {
    "throttle": (429, "TooManyRequests", "Too many requests. Retry after the indicated time."),
    "unavailable": (503, "ServiceUnavailable", "The service is temporarily unavailable."),
    "forbidden": (403, "Forbidden", "Application is not authorized to perform this operation."),
    "not_found": (404, "ResourceNotFound", "The requested resource was not found."),
    # What Graph answers for an $expand (or other option) a collection does not support.
    "bad_request": (400, "BadRequest", "The query specified in the URI is not valid."),
}


# Autopilot device identities: any `$select` answers 500 on the list (v1.0 and beta;
# microsoft-graph-docs-contrib#2756, reconfirmed 2026 in ugurkocde/DeviceOffboardingManager#65).
SELECT_FAILS: Final = frozenset({AUTOPILOT_DEVICES})
# A single device's GET reports this status whatever the list says (microsoft-graph-docs#6877).
SINGLE_GET_STATUS: Final = ("deploymentProfileAssignmentStatus", "unknown")
_INTERNAL_ERROR: Final = (
    '{"_version": 3, "Message": "An internal server error has occurred - Operation ID (for '
    'customer support): 00000000-0000-0000-0000-000000000000"}'
)


def filter_profile(path: str) -> FilterProfile:
    if path == AUTOPILOT_DEVICES or path.endswith("/assignedDevices"):
        return AUTOPILOT_DEVICES_PROFILE
    if path == MOBILE_APPS:
        return MOBILE_APPS_PROFILE
    if path.startswith(INTUNE_AUDIT_EVENTS):
        return INTUNE_AUDIT_PROFILE
    if path.startswith(DIRECTORY_AUDITS):
        return DIRECTORY_AUDIT_PROFILE
    if path == GROUPS:
        return GROUPS_PROFILE
    if path == DEVICES:
        return DEVICES_PROFILE
    if path.startswith(("deviceManagement/", "deviceAppManagement/")):
        return INTUNE_PROFILE
    return GENERIC_PROFILE


@dataclass(frozen=True)
class ListSource:
    """A collection to page through, and how its items are rendered."""

    path: str  # for page caps, filter profile and links
    context: str  # the `$metadata#...` fragment
    items: Sequence[Mapping[str, Any]]
    render: Callable[[Mapping[str, Any]], dict[str, Any]]
    orderable: frozenset[str] = frozenset()


class Dispatcher:
    def __init__(
        self,
        *,
        tenant: Callable[[], TenantView],
        audit_log: Callable[[str], list[dict[str, Any]]],
        delta: DeltaTracker,
        subscriptions: SubscriptionService,
        faults: FaultTable,
        request_log: RequestLog,
        clock: SimulatorClock,
        base_url: Callable[[], str],
        instance: str,
        answer_batch: Callable[[GraphRequest, Dispatcher], GraphResponse],
        sleep: Callable[[float], None] = time.sleep,
        deployments: DeploymentLog | None = None,
    ) -> None:
        self._deployments = deployments
        self._tenant = tenant
        self._audit_log = audit_log
        self._delta = delta
        self._subscriptions = subscriptions
        self._faults = faults
        self._log = request_log
        self._clock = clock
        self._base_url = base_url
        self._instance = instance
        self._answer_batch = answer_batch
        self._sleep = sleep

    # --- the envelope: auth, faults, headers, log ---------------------------------------------

    def handle(self, request: GraphRequest) -> GraphResponse | None:
        """The answer, or None when the connection must close without one (`timeout` fault)."""
        started = time.perf_counter()
        fault: Fault | None = None
        response: GraphResponse | None
        try:
            if not request.in_batch:
                _check_authorization(request)
            fault = self._faults.take(request.method, request.path, request.query)
            response = self._answer_with_fault(request, fault)
        except GraphError as error:
            response = GraphResponse(error.status, None, dict(error.headers))
            response.body = error_body(
                error,
                date=error_date(self._clock.now()),
                request_id=request.request_id,
                client_request_id=request.client_request_id,
            )
        if response is not None:
            self._finish_headers(request, response)
        self._log.append(
            LoggedRequest(
                method=request.method,
                version=request.version or None,
                path=request.path,
                query=request.query,
                status=response.status if response is not None else 0,
                in_batch=request.in_batch,
                batch_id=request.batch_id,
                duration_s=time.perf_counter() - started,
                request_id=request.request_id,
                fault=fault.kind if fault is not None else None,
            )
        )
        return response

    def _answer_with_fault(
        self, request: GraphRequest, fault: Fault | None
    ) -> GraphResponse | None:
        if fault is None:
            return self._route(request)
        if fault.kind in _FAULT_ERRORS:
            status, code, message = _FAULT_ERRORS[fault.kind]
            if status == 403 and is_directory_path(request.path):
                code = "Authorization_RequestDenied"
            if status == 404:
                code = error_code_for_status(404, request.path)
            headers = {"Retry-After": str(fault.retry_after)} if status in {429, 503} else {}
            self._sleep(fault.delay_s)
            raise GraphError(status, code, message, headers)
        self._sleep(fault.delay_s)
        if fault.kind == "timeout":
            if request.in_batch:
                # A batch cannot drop one of its requests; Graph reports the inner timeout.
                raise GraphError(504, "GatewayTimeout", "The request timed out.")
            return None
        response = self._route(request)
        if fault.kind == "malformed" and response.body is not None:
            response.truncate_body = True
        if fault.kind == "garbled" and response.body is not None:
            # What a proxy or a broken front end may send with Graph's JSON content type.
            response.raw_body = GARBLED_BODY
        if fault.kind == "loop" and isinstance(response.body, dict) and "value" in response.body:
            # A page whose nextLink leads back to itself: a client that follows it never ends.
            query = f"?{request.query}" if request.query else ""
            response.body["@odata.nextLink"] = f"{self._link_base(request)}/{request.path}{query}"
        return response

    def _finish_headers(self, request: GraphRequest, response: GraphResponse) -> None:
        headers = {
            "Cache-Control": "no-cache",
            "request-id": request.request_id,
            "client-request-id": request.client_request_id,
        }
        if response.body is not None:
            headers["Content-Type"] = JSON_CONTENT_TYPE
            headers["OData-Version"] = "4.0"
        response.headers = {**headers, **response.headers}

    # --- routing ------------------------------------------------------------------------------

    def _route(self, request: GraphRequest) -> GraphResponse:
        segments = request.segments
        if request.version not in GRAPH_VERSIONS:
            raise bad_request(f"Invalid version: '{segments[0] if segments else ''}'.")
        if not segments:
            raise bad_request("Resource not found for the segment ''.")
        if segments[0] == "$batch":
            if len(segments) > 1 or request.method != "POST":
                raise _method_not_allowed()
            if request.in_batch:
                raise bad_request("A batch request cannot contain another batch request.")
            return self._answer_batch(request, self)
        if segments[0].lower() == "subscriptions":
            return self._subscriptions.answer(request, segments[1:], self._base_url())
        if request.method != "GET":
            # The simulator serves reads; the tenant changes through the admin API.
            raise _method_not_allowed()
        query = parse_query(request.query_pairs())
        tenant = self._tenant()
        path = "/".join(segments)
        recorded = tenant.error_for(path)
        if recorded is not None:
            raise snapshot_error(recorded, path)
        if self._deployments is not None and "/".join(segments[:2]) == AUTOPILOT_EVENTS:
            return self._autopilot_events(request, query, segments[2:])
        resolved = tenant.resolve_collection(segments)
        if resolved is None:
            raise bad_request(
                f"Resource not found for the segment '{_unknown_segment(tenant, segments)}'."
            )
        collection, rest = resolved
        if collection in AUDIT_COLLECTIONS:
            return self._audit(request, query, collection, rest)
        if collection == DEVICE_REGISTRATION_POLICY:
            return self._singleton(request, query, tenant, collection, rest)
        if not rest:
            return self._collection(request, query, tenant, collection, None)
        if rest == ["delta"] and collection in DELTA_COLLECTIONS:
            return self._delta.answer(request, query, collection, tenant, self._base_url())
        if len(rest) == 1 and rest[0].startswith("microsoft.graph."):
            return self._collection(request, query, tenant, collection, rest[0])
        obj = tenant.find(collection, rest[0])
        if obj is None:
            raise _not_found(collection, rest[0])
        if len(rest) == 1:
            return self._single(request, query, tenant, collection, obj)
        reference = plain_text_reference(collection, rest[1:])
        if reference is not None:
            value = plain_text_value(obj, reference)
            context = self._context(request, "Edm.String")
            return GraphResponse(200, {"@odata.context": context, "value": value})
        return self._navigation(request, query, tenant, collection, obj, rest[1:])

    def _autopilot_events(
        self, request: GraphRequest, query: ODataQuery, rest: list[str]
    ) -> GraphResponse:
        assert self._deployments is not None

        def page(
            request: GraphRequest,
            query: ODataQuery,
            path: str,
            context: str,
            items: list[dict[str, Any]],
        ) -> GraphResponse:
            source = ListSource(
                path=path,
                context=context,
                items=items,
                render=lambda o: project(o, query.select),
                orderable=DEPLOYMENT_ORDERABLE,
            )
            return self._page(request, query, source, AUTOPILOT_EVENTS_PROFILE)

        return self._deployments.answer(request, query, rest, page, self._context)

    def _link_base(self, request: GraphRequest) -> str:
        return f"{self._base_url()}/{request.version}"

    def _context(self, request: GraphRequest, fragment: str) -> str:
        return f"{self._link_base(request)}/$metadata#{fragment}"

    # --- answers ------------------------------------------------------------------------------

    def _collection(
        self,
        request: GraphRequest,
        query: ODataQuery,
        tenant: TenantView,
        collection: str,
        cast: str | None,
    ) -> GraphResponse:
        check_expand(collection, query.expand, on_list=True)
        if collection in SELECT_FAILS and query.select is not None:
            raise GraphError(500, "InternalServerError", _INTERNAL_ERROR)
        items: Sequence[Mapping[str, Any]] = tenant.objects(collection)
        if cast is not None:
            wanted = "#" + cast.lower()
            items = [o for o in items if str(o.get("@odata.type", "")).lower() == wanted]
        source = ListSource(
            path="/".join(request.segments),
            context=collection if cast is None else f"{collection}/{cast}",
            items=items,
            render=lambda o: render(
                o, collection, select=query.select, expand=query.expand, tenant=tenant, single=False
            ),
            orderable=ORDERABLE.get(collection, frozenset()),
        )
        return self._page(request, query, source, filter_profile(collection))

    def _single(
        self,
        request: GraphRequest,
        query: ODataQuery,
        tenant: TenantView,
        collection: str,
        obj: Mapping[str, Any],
    ) -> GraphResponse:
        _reject_list_options(query)
        check_expand(collection, query.expand, on_list=False)
        rendered = render(
            obj, collection, select=query.select, expand=query.expand, tenant=tenant, single=True
        )
        if collection == AUTOPILOT_DEVICES and SINGLE_GET_STATUS[0] in rendered:
            rendered[SINGLE_GET_STATUS[0]] = SINGLE_GET_STATUS[1]
        context = self._context(request, f"{collection}/$entity")
        return GraphResponse(200, {"@odata.context": context, **rendered})

    def _singleton(
        self,
        request: GraphRequest,
        query: ODataQuery,
        tenant: TenantView,
        collection: str,
        rest: list[str],
    ) -> GraphResponse:
        # A singleton in Graph (the snapshot stores it as a one-element list).
        if rest:
            raise bad_request(f"Resource not found for the segment '{rest[0]}'.")
        _reject_list_options(query)
        if query.expand:
            raise bad_request("The device registration policy has no navigation properties.")
        objects = tenant.objects(collection)
        if not objects:
            raise _not_found(collection, "deviceRegistrationPolicy")
        context = self._context(request, f"{collection}/$entity")
        return GraphResponse(200, {"@odata.context": context, **project(objects[0], query.select)})

    def _navigation(
        self,
        request: GraphRequest,
        query: ODataQuery,
        tenant: TenantView,
        collection: str,
        obj: Mapping[str, Any],
        rest: list[str],
    ) -> GraphResponse:
        navigation = rest[0]
        if collection == AUTOPILOT_PROFILES and navigation == "assignedDevices":
            return self._assigned_devices(request, query, tenant, obj, rest)
        if navigation in NOT_ON_LISTS.get(collection, ()):
            raise bad_request(
                "No OData route exists that match template ~/singleton/navigation/key/navigation "
                f"with http verb GET for request /{collection}('{obj.get('id')}')/{navigation}.",
                code="No method match route template",
            )
        if navigation not in navigations_of(collection):
            raise bad_request(f"Resource not found for the segment '{navigation}'.")
        if query.expand:
            raise bad_request(f"$expand is not supported on '{navigation}'.")
        object_id = str(obj.get("id"))
        if navigation in SINGLE_VALUED:
            if len(rest) > 1:
                raise bad_request(f"Resource not found for the segment '{rest[1]}'.")
            _reject_list_options(query)
            value = navigation_value(obj, collection, navigation, tenant)
            if value is None:
                raise _not_found(collection, f"{object_id}/{navigation}")
            context = self._context(request, f"{collection}('{object_id}')/{navigation}/$entity")
            return GraphResponse(200, {"@odata.context": context, **project(value, query.select)})
        items = navigation_value(obj, collection, navigation, tenant)
        context = f"{collection}('{object_id}')/{navigation}"
        if len(rest) == 2 and navigation == "members" and rest[1] == "microsoft.graph.device":
            items = [m for m in items if str(m.get("@odata.type", "")).endswith(".device")]
            context = "devices"
        elif len(rest) > 1:
            raise bad_request(f"Resource not found for the segment '{rest[1]}'.")
        source = ListSource(
            path="/".join(request.segments),
            context=context,
            items=items,
            render=lambda o: project(o, query.select),
        )
        return self._page(request, query, source, filter_profile("/".join(request.segments)))

    def _assigned_devices(
        self,
        request: GraphRequest,
        query: ODataQuery,
        tenant: TenantView,
        profile: Mapping[str, Any],
        rest: list[str],
    ) -> GraphResponse:
        """`/windowsAutopilotDeploymentProfiles/{id}/assignedDevices`: the device identities
        whose assigned profile (`deploymentProfile`) is this one."""
        if len(rest) > 1:
            raise bad_request(f"Resource not found for the segment '{rest[1]}'.")
        check_expand(AUTOPILOT_DEVICES, query.expand, on_list=True)
        profile_id = str(profile.get("id", "")).lower()
        items = [
            device
            for device in tenant.objects(AUTOPILOT_DEVICES)
            if isinstance(device.get("deploymentProfile"), Mapping)
            and str(device["deploymentProfile"].get("id", "")).lower() == profile_id
        ]
        source = ListSource(
            path="/".join(request.segments),
            context=f"{AUTOPILOT_PROFILES}('{profile.get('id')}')/assignedDevices",
            items=items,
            render=lambda o: project(without_navigations(o, AUTOPILOT_DEVICES), query.select),
        )
        return self._page(request, query, source, filter_profile(source.path))

    def _audit(
        self, request: GraphRequest, query: ODataQuery, collection: str, rest: list[str]
    ) -> GraphResponse:
        events = self._audit_log(collection)
        if rest:
            if len(rest) > 1:
                raise bad_request(f"Resource not found for the segment '{rest[1]}'.")
            _reject_list_options(query)
            event = next((e for e in events if str(e.get("id")) == rest[0]), None)
            if event is None:
                raise _not_found(collection, rest[0])
            context = self._context(request, f"{collection}/$entity")
            return GraphResponse(200, {"@odata.context": context, **project(event, query.select)})
        if query.expand:
            raise bad_request("Audit records have no navigation properties to expand.")
        source = ListSource(
            path=collection,
            context=collection,
            items=events,
            render=lambda o: project(o, query.select),
            orderable=ORDERABLE[collection],
        )
        return self._page(request, query, source, filter_profile(collection))

    def _page(
        self,
        request: GraphRequest,
        query: ODataQuery,
        source: ListSource,
        profile: FilterProfile,
    ) -> GraphResponse:
        if query.deltatoken is not None:
            raise bad_request("$deltatoken is only valid on a delta function.")
        if query.search is not None:
            raise bad_request("$search is not supported on this resource.")
        items = list(source.items)
        if query.filter is not None:
            advanced = (request.header("consistencylevel") or "").lower() == "eventual"
            predicate = compile_filter(
                query.filter, profile, advanced_query=advanced and query.count
            )
            items = [o for o in items if predicate(o)]
        items = _ordered(items, query.orderby, source.orderable)
        try:
            size = page_size(source.path, query.top)
        except ValueError as error:
            raise bad_request(str(error)) from error
        offset = 0
        if query.skiptoken is not None:
            offset = decode_skip_token(query.skiptoken, self._instance).offset
        start, end, more = page_bounds(len(items), offset, size)
        body: dict[str, Any] = {"@odata.context": self._context(request, source.context)}
        if query.count:
            body["@odata.count"] = len(items)
        if more:
            body["@odata.nextLink"] = self._next_link(request, query, end)
        body["value"] = [source.render(o) for o in items[start:end]]
        return GraphResponse(200, body)

    def _next_link(self, request: GraphRequest, query: ODataQuery, offset: int) -> str:
        token = SkipToken(offset=offset, instance=self._instance).encode()
        pairs = [*query.carried, ("$skiptoken", token)]
        encoded = "&".join(
            f"{quote(name, safe='$')}={quote(value, safe=_LINK_SAFE)}" for name, value in pairs
        )
        return f"{self._link_base(request)}/{'/'.join(request.segments)}?{encoded}"


def _ordered(
    items: list[Mapping[str, Any]],
    orderby: tuple[tuple[str, bool], ...],
    orderable: frozenset[str],
) -> list[Mapping[str, Any]]:
    for name, _ in orderby:
        if name not in orderable:
            raise GraphError(
                400, "BadRequest", f"$orderby is not supported on property '{name}' here."
            )
    # Sort by the last key first: Python's sort is stable, so earlier keys win.
    for name, descending in reversed(orderby):
        items = sorted(items, key=_sort_key_of(name), reverse=descending)
    return items


def _sort_key_of(name: str) -> Callable[[Mapping[str, Any]], tuple[int, Any]]:
    return lambda obj: _sort_key(obj.get(name))


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, str):
        try:
            return (1, parse_timestamp(value).timestamp())
        except ValueError:
            return (2, value.casefold())
    return (0, 0)


def _reject_list_options(query: ODataQuery) -> None:
    if query.filter is not None or query.top is not None or query.orderby or query.skiptoken:
        raise bad_request("$filter, $top, $orderby and $skiptoken apply to collections only.")


def _check_authorization(request: GraphRequest) -> None:
    header = request.header("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GraphError(
            401,
            "InvalidAuthenticationToken",
            "Access token is empty." if not header else "Access token validation failure.",
            {"WWW-Authenticate": _WWW_AUTHENTICATE},
        )


def _not_found(collection: str, object_id: str) -> GraphError:
    if is_directory_path(collection):
        return GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{object_id}' does not exist or one of its queried reference-property "
            "objects are not present.",
        )
    return GraphError(
        404, "ResourceNotFound", f"The resource '{collection}/{object_id}' was not found."
    )


def _method_not_allowed() -> GraphError:
    return GraphError(
        405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."
    )


def _unknown_segment(tenant: TenantView, segments: list[str]) -> str:
    known = set(tenant.collections) | set(AUDIT_COLLECTIONS) | set(tenant.errors)
    for length in range(len(segments), 0, -1):
        prefix = "/".join(segments[:length]) + "/"
        if any(name.startswith(prefix) for name in known):
            return segments[length] if length < len(segments) else segments[-1]
    return segments[0]
