"""Change-notification subscriptions: create (with the validation handshake), list, renew,
reauthorize, delete; and the payloads Graph POSTs to subscribers.

Only Entra ID groups and users can be subscribed to (no Intune resource can), for the
`updated` and `deleted` change types, for at most 41,760 minutes (Graph's change-notification
overview).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import ProxyHandler, Request, build_opener

from tests.graphsim.clock import graph_timestamp, parse_timestamp
from tests.graphsim.exchange import GraphError, GraphRequest, GraphResponse

MAX_LIFETIME: Final = timedelta(minutes=41_760)  # groups, users, other directory resources
MAX_CLIENT_STATE: Final = 128
QUOTA_PER_APP_AND_TENANT: Final = 100
SUPPORTED_CHANGE_TYPES: Final = frozenset({"updated", "deleted"})
SUBSCRIBABLE_RESOURCES: Final = (
    re.compile(r"^groups$", re.IGNORECASE),
    re.compile(r"^groups/[^/]+$", re.IGNORECASE),
    re.compile(r"^groups/[^/]+/members$", re.IGNORECASE),
    re.compile(r"^users$", re.IGNORECASE),
    re.compile(r"^users/[^/]+$", re.IGNORECASE),
)
# Only reauthorizationRequired is sent for directory resources; the others are Outlook/Teams only.
DIRECTORY_LIFECYCLE_EVENTS: Final = frozenset({"reauthorizationRequired"})
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
# Fixed identities the simulator answers with (the app that "owns" every subscription).
SIMULATOR_APPLICATION_ID: Final = "24d3b144-21ae-4080-943f-7067b395b913"
SIMULATOR_CREATOR_ID: Final = "8ee44408-0679-472c-bc2a-692812af3437"


@dataclass(frozen=True)
class Subscription:
    id: str
    resource: str
    change_type: str
    notification_url: str
    lifecycle_notification_url: str | None
    expiration: datetime
    client_state: str | None
    latest_supported_tls_version: str

    def as_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": SIMULATOR_APPLICATION_ID,
            "changeType": self.change_type,
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_notification_url,
            "expirationDateTime": graph_timestamp(self.expiration),
            "creatorId": SIMULATOR_CREATOR_ID,
            "includeResourceData": False,
            "latestSupportedTlsVersion": self.latest_supported_tls_version,
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }

    def change_types(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.change_type.split(","))

    def covers_group_change(self, group_id: str, *, membership: bool) -> bool:
        """Whether a change to group `group_id` is notified on this subscription.

        `groups/{id}/members` hears of membership changes only; a membership-rule change counts,
        since Entra ID re-evaluates a dynamic group's members when its rule changes.
        """
        if "updated" not in self.change_types():
            return False
        resource = self.resource.lower()
        if resource == "groups" or resource == f"groups/{group_id.lower()}":
            return True
        return membership and resource == f"groups/{group_id.lower()}/members"


def invalid_request(message: str) -> GraphError:
    return GraphError(400, "InvalidRequest", message)


def _check_notification_url(url: Any, field: str) -> str:
    if not isinstance(url, str) or not url:
        raise invalid_request(f"'{field}' is required and must be a URL.")
    parts = urlsplit(url)
    # Graph requires HTTPS; plain HTTP is accepted for loopback receivers in tests only.
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return url
    raise invalid_request(f"'{field}' must be an HTTPS URL: {url}")


def _check_expiration(value: Any, now: datetime) -> datetime:
    if not isinstance(value, str):
        raise invalid_request("'expirationDateTime' is required.")
    try:
        expiration = parse_timestamp(value)
    except ValueError as error:
        raise invalid_request(f"Invalid expirationDateTime '{value}'.") from error
    if expiration <= now:
        raise invalid_request("Subscription expiration can only be in the future.")
    if expiration > now + MAX_LIFETIME:
        raise invalid_request(
            f"Subscription expiration can only be {int(MAX_LIFETIME.total_seconds() // 60)} "
            "minutes in the future."
        )
    return expiration


def parse_new_subscription(body: Any, now: datetime) -> Subscription:
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a subscription object.")
    resource = body.get("resource")
    if not isinstance(resource, str) or not resource.strip("/"):
        raise invalid_request("'resource' is required.")
    resource = resource.strip("/")
    if not any(pattern.match(resource) for pattern in SUBSCRIBABLE_RESOURCES):
        raise invalid_request(f"Resource '{resource}' is not supported for change notifications.")
    change_type = body.get("changeType")
    if not isinstance(change_type, str) or not change_type.strip():
        raise invalid_request("'changeType' is required.")
    for kind in (t.strip() for t in change_type.split(",")):
        if kind not in SUPPORTED_CHANGE_TYPES:
            raise invalid_request(
                f"ChangeType '{kind}' is not supported for resource '{resource}'; "
                "supported: updated, deleted."
            )
    client_state = body.get("clientState")
    if client_state is not None and (
        not isinstance(client_state, str) or len(client_state) > MAX_CLIENT_STATE
    ):
        raise invalid_request(
            f"'clientState' must be a string of at most {MAX_CLIENT_STATE} characters."
        )
    lifecycle_url = body.get("lifecycleNotificationUrl")
    return Subscription(
        id=str(uuid.uuid4()),
        resource=resource,
        change_type=change_type,
        notification_url=_check_notification_url(body.get("notificationUrl"), "notificationUrl"),
        lifecycle_notification_url=(
            None
            if lifecycle_url is None
            else _check_notification_url(lifecycle_url, "lifecycleNotificationUrl")
        ),
        expiration=_check_expiration(body.get("expirationDateTime"), now),
        client_state=client_state,
        latest_supported_tls_version=str(body.get("latestSupportedTlsVersion", "v1_2")),
    )


def validation_failure(url: str, timeout_s: float) -> str | None:
    """Run Graph's validation handshake against `url`; None when it passed, else why not."""
    # Graph's real tokens look like this: spaces and colons, so a receiver must URL-decode.
    token = (
        "Validation: Testing client application reachability for subscription "
        f"Request-Id: {uuid.uuid4()}"
    )
    separator = "&" if urlsplit(url).query else "?"
    request = Request(
        url + separator + urlencode({"validationToken": token}),
        data=b"",
        method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    try:
        with _direct_opener().open(request, timeout=timeout_s) as response:
            status = response.status
            content_type = response.headers.get("Content-Type", "")
            body = response.read().decode("utf-8", errors="replace")
    except HTTPError as error:
        return f"the endpoint answered {error.code}"
    except (URLError, TimeoutError, OSError) as error:
        return f"the endpoint could not be reached in {timeout_s} s: {error}"
    if status != 200:
        return f"the endpoint answered {status}, not 200"
    if not content_type.lower().startswith("text/plain"):
        return f"the endpoint answered with Content-Type '{content_type}', not text/plain"
    if body != token:
        return "Response must exactly match validationToken query parameter."
    return None


def _direct_opener() -> Any:
    # Receivers are local; never route them through a proxy from the environment.
    return build_opener(ProxyHandler({}))


def change_notification(
    subscription: Subscription, group_id: str, tenant_id: str
) -> dict[str, Any]:
    return {
        "subscriptionId": subscription.id,
        "subscriptionExpirationDateTime": graph_timestamp(subscription.expiration),
        "changeType": "updated",  # creation and soft deletion of groups are "updated" too
        "clientState": subscription.client_state,
        "resource": f"Groups/{group_id}",
        "tenantId": tenant_id,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Group",
            "@odata.id": f"Groups/{group_id}",
            "id": group_id,
            "organizationId": tenant_id,
        },
    }


def lifecycle_notification(
    subscription: Subscription, event: str, tenant_id: str
) -> dict[str, Any]:
    return {
        "value": [
            {
                "subscriptionId": subscription.id,
                "subscriptionExpirationDateTime": graph_timestamp(subscription.expiration),
                "tenantId": tenant_id,
                "clientState": subscription.client_state,
                "lifecycleEvent": event,
            }
        ]
    }


class SubscriptionService:
    """`/subscriptions` and `/subscriptions/{id}[/reauthorize]`."""

    def __init__(self, now: Callable[[], datetime], validation_timeout_s: float) -> None:
        self._now = now
        self._validation_timeout_s = validation_timeout_s
        self._lock = threading.Lock()
        self._subscriptions: dict[str, Subscription] = {}

    def active(self) -> list[Subscription]:
        now = self._now()
        with self._lock:
            return [s for s in self._subscriptions.values() if s.expiration > now]

    def find_active(self, subscription_id: str) -> Subscription | None:
        return next((s for s in self.active() if s.id == subscription_id), None)

    def answer(self, request: GraphRequest, rest: list[str], base_url: str) -> GraphResponse:
        context = f"{base_url}/{request.version}/$metadata#subscriptions"
        if not rest:
            if request.method == "GET":
                return GraphResponse(
                    200,
                    {"@odata.context": context, "value": [s.as_graph() for s in self.active()]},
                )
            if request.method == "POST":
                created = self._create(_json_body(request))
                return GraphResponse(
                    201, {"@odata.context": f"{context}/$entity", **created.as_graph()}
                )
            raise _method_not_allowed()
        subscription = self.find_active(rest[0])
        if subscription is None:
            raise GraphError(
                404, "ResourceNotFound", f"The object was not found: subscription '{rest[0]}'."
            )
        if rest[1:] == ["reauthorize"] and request.method == "POST":
            return GraphResponse(204)
        if len(rest) > 1:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[1]}'.")
        if request.method == "GET":
            return GraphResponse(
                200, {"@odata.context": f"{context}/$entity", **subscription.as_graph()}
            )
        if request.method == "PATCH":
            renewed = self._renew(subscription, _json_body(request))
            return GraphResponse(
                200, {"@odata.context": f"{context}/$entity", **renewed.as_graph()}
            )
        if request.method == "DELETE":
            with self._lock:
                self._subscriptions.pop(subscription.id, None)
            return GraphResponse(204)
        raise _method_not_allowed()

    def _create(self, body: Any) -> Subscription:
        subscription = parse_new_subscription(body, self._now())
        self._check_quota()
        urls = [subscription.notification_url]
        if subscription.lifecycle_notification_url:
            urls.append(subscription.lifecycle_notification_url)
        for url in urls:
            failure = validation_failure(url, self._validation_timeout_s)
            if failure is not None:
                raise GraphError(
                    400, "ValidationError", f"Subscription validation request failed. {failure}"
                )
        with self._lock:
            self._check_quota_locked()
            self._subscriptions[subscription.id] = subscription
        return subscription

    def _check_quota(self) -> None:
        with self._lock:
            self._check_quota_locked()

    def _check_quota_locked(self) -> None:
        now = self._now()
        active = sum(1 for s in self._subscriptions.values() if s.expiration > now)
        if active >= QUOTA_PER_APP_AND_TENANT:
            raise GraphError(
                403,
                "ExtensionError",
                "Operation: Create; Exception: [Status Code: Forbidden; Reason: The maximum "
                f"number of {QUOTA_PER_APP_AND_TENANT} subscriptions for this application in "
                "this tenant has been reached.]",
            )

    def _renew(self, subscription: Subscription, body: Any) -> Subscription:
        if not isinstance(body, dict) or set(body) - {"expirationDateTime"}:
            raise invalid_request("Only 'expirationDateTime' can be updated on a subscription.")
        renewed = replace(
            subscription, expiration=_check_expiration(body.get("expirationDateTime"), self._now())
        )
        with self._lock:
            self._subscriptions[subscription.id] = renewed
        return renewed


def _json_body(request: GraphRequest) -> Any:
    try:
        return request.json_body()
    except (ValueError, UnicodeDecodeError) as error:
        raise GraphError(400, "BadRequest", "The request body is not valid JSON.") from error


def _method_not_allowed() -> GraphError:
    return GraphError(
        405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."
    )


def post_json(url: str, payload: Any, timeout_s: float) -> tuple[int | None, str | None]:
    """POST a notification; (status, None) when answered, (None, reason) when not."""
    request = Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    try:
        with _direct_opener().open(request, timeout=timeout_s) as response:
            response.read()
            return int(response.status), None
    except HTTPError as error:
        return int(error.code), None
    except (URLError, TimeoutError, OSError) as error:
        return None, str(error)
