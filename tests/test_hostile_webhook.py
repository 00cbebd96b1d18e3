"""The Graph webhook under hostile input: property-based fuzzing of `receive_graph_notification`.

Every case drives the real Functions handler with a real `func.HttpRequest`, against the real
`changes` queue on Azurite, and reads the queue back. The properties:

- the answer is 202, 400 or 413 while the queue works, never a 5xx; 503 only when a verified
  item could not be enqueued (queue unreachable), and Graph's retry then loses nothing;
- every message on the queue stems from an item whose clientState equalled the configured one
  and whose tenant is configured; forged, missing or near-miss clientStates never enqueue;
- bodies above the size limit get 413 before any parsing;
- the validation handshake echoes exactly the decoded token as `text/plain` with `nosniff`, at
  most 1,024 characters, and refuses anything else with a fixed 400 message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import azure.functions as func
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitors.guardrail.queues import CHANGES_QUEUE, LIFECYCLE_EVENTS, ChangeMessage
from monitors.guardrail.webhook import MAX_BODY_BYTES, MAX_ITEMS, MAX_VALIDATION_TOKEN
from tests.azurite import DEV_ACCOUNT, DEV_KEY, Azurite
from tests.test_function_support import (
    CLIENT_STATE,
    guardrail_env,
    reset_function_app,
)

# Imported here, not lazily inside a property: that module declares @given tests at import.
from tests.test_http_api import user_function

TENANT = "11111111-2222-3333-4444-555555555555"
OTHER_TENANT = "99999999-2222-3333-4444-555555555555"
HOSTILE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]


# -- the configured function app and a queue reader ----------------------------------------------


@dataclass
class Queue:
    client: QueueClient

    def drain(self) -> list[ChangeMessage]:
        """Every message on `changes` (deleted as read); usually one empty receive."""
        messages: list[ChangeMessage] = []
        while True:
            batch = list(self.client.receive_messages(messages_per_page=32, max_messages=32))
            if not batch:
                return messages
            for message in batch:
                messages.append(ChangeMessage.from_text(str(message.content)))
                self.client.delete_message(message)


def webhook_env(queue_connection: str, azurite: Azurite) -> dict[str, str]:
    env = guardrail_env(azurite, [{"tenantId": TENANT}], "https://graph.microsoft.com")
    env["GREENSCREEN_GRAPH_AUTH"] = "default"
    env["GREENSCREEN_QUEUES"] = queue_connection
    return env


@pytest.fixture(scope="module")
def queue(azurite: Azurite) -> Iterator[Queue]:
    """The function app configured for TENANT against Azurite, once for the module."""
    client = QueueClient.from_connection_string(
        azurite.queue_connection, CHANGES_QUEUE, message_decode_policy=TextBase64DecodePolicy()
    )
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    reader = Queue(client)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in webhook_env(azurite.queue_connection, azurite).items():
            patch.setenv(name, value)
        reset_function_app()
        reader.drain()
        yield reader
    reset_function_app()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post(
    body: bytes, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    request = func.HttpRequest(
        method="POST",
        url="/api/notifications",
        headers=headers or {},
        params=params or {},
        body=body,
    )
    response: func.HttpResponse = user_function("receive_graph_notification")(request)
    return response


# -- strategies -----------------------------------------------------------------------------------

guids = st.uuids().map(str)
junk_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
junk = st.recursive(
    junk_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=6,
)
# The configured value, near misses of it, unrelated text and values of the wrong type.
client_states = st.one_of(
    st.just(CLIENT_STATE),
    st.sampled_from(
        [
            CLIENT_STATE[:-1],
            CLIENT_STATE[:-1] + "X",
            CLIENT_STATE + " ",
            " " + CLIENT_STATE,
            CLIENT_STATE.upper(),
            CLIENT_STATE + "\x00",
            CLIENT_STATE + "\ud800",
            "\ud800",
            CLIENT_STATE * 2,
            "",
            "' or 1 eq 1",
            "*",
        ]
    ),
    st.text(max_size=60),
    st.lists(st.just(CLIENT_STATE), max_size=2),
    st.just({"value": CLIENT_STATE}),
    junk,
)
tenants = st.one_of(
    st.sampled_from([TENANT, TENANT.upper(), OTHER_TENANT, "", TENANT + " ", "' or 1 eq 1", "*"]),
    junk,
)
texts = st.one_of(st.text(max_size=40), st.sampled_from(["\ud800", "x" * 300, "a/b", "' or '"]))


@st.composite
def notification_items(draw: st.DrawFn) -> dict[str, Any]:
    group = draw(guids)
    item: dict[str, Any] = {}
    if draw(st.integers(0, 9)):  # mostly present
        item["clientState"] = draw(client_states)
    if draw(st.integers(0, 9)):
        item["tenantId"] = draw(tenants)
    item["subscriptionId"] = draw(st.one_of(guids, texts, junk))
    item["resource"] = draw(
        st.one_of(
            st.sampled_from(
                [
                    f"Groups/{group}",
                    f"groups/{group}/members",
                    f"/Groups/{group}/",
                    f"Users/{group}",
                    "Groups/",
                    f"Groups/{group}' or 1 eq 1",
                ]
            ),
            texts,
            junk,
        )
    )
    item["resourceData"] = draw(
        st.one_of(
            st.just({"@odata.type": "#Microsoft.Graph.Group", "id": group}),
            st.dictionaries(st.sampled_from(["id", "@odata.type"]), texts | junk, max_size=2),
            junk,
        )
    )
    if draw(st.booleans()):
        item["changeType"] = draw(st.sampled_from(["created", "updated", "deleted"]) | texts | junk)
    if draw(st.integers(0, 4)) == 0:
        item["lifecycleEvent"] = draw(st.sampled_from([*LIFECYCLE_EVENTS, "bogus"]) | junk)
    if draw(st.booleans()):
        item["subscriptionExpirationDateTime"] = draw(
            st.just("2026-12-20T10:00:00.0000000Z") | texts | junk
        )
    if draw(st.booleans()):
        item["id"] = draw(texts | junk)
    item.update(draw(st.dictionaries(st.text(max_size=10), junk, max_size=2)))
    return item


@dataclass(frozen=True)
class Case:
    body: bytes
    items: tuple[dict[str, Any], ...]  # what the body carries when it is a well-formed document
    well_formed: bool  # a JSON object whose "value" is a list of at most MAX_ITEMS objects


def _encode(document: Any, style: str) -> bytes:
    if style == "utf-8":
        return json.dumps(document).encode()
    if style == "utf-8-raw":  # lone surrogates written as UTF-8 bytes, as a hostile client can
        return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if style == "utf-8-bom":
        return b"\xef\xbb\xbf" + json.dumps(document).encode()
    return json.dumps(document).encode(style)  # utf-16 (with BOM), utf-16-le, utf-32


@st.composite
def notification_bodies(draw: st.DrawFn) -> Case:
    items = draw(st.lists(notification_items(), max_size=5))
    shape = draw(st.sampled_from(["document", "document", "document", "junk-top", "broken"]))
    if shape == "document":
        document: dict[str, Any] = {"value": items}
        document.update(draw(st.dictionaries(st.sampled_from(["@odata.context", "x"]), junk)))
        style = draw(
            st.sampled_from(["utf-8", "utf-8", "utf-8-raw", "utf-8-bom", "utf-16", "utf-32"])
        )
        return Case(_encode(document, style), tuple(items), True)
    if shape == "junk-top":
        document_like = draw(
            st.one_of(
                junk,
                st.dictionaries(st.just("value"), junk, min_size=1),
                st.just({"value": [*items, "not an object"]}),
                st.just({"Value": items}),
            )
        )
        return Case(json.dumps(document_like).encode(), (), False)
    valid = json.dumps({"value": items}).encode()
    broken = draw(
        st.one_of(
            st.binary(max_size=200),
            st.just(b""),
            st.integers(0, max(len(valid) - 1, 0)).map(lambda cut: valid[:cut]),
            st.integers(1, max(len(valid) - 1, 1)).map(
                lambda at: valid[:at] + b"\xff" + valid[at:]
            ),
            st.just(b'{"value": [' + b"[" * 50_000 + b"]" * 50_000 + b"]}"),
            st.just(b'{"value": [], "n": ' + b"9" * 5_000 + b"}"),
            st.just(b'{"value": [], "n": NaN}'),
            st.just(b'\xff\xfe{"value": []}'),
        )
    )
    return Case(broken, (), False)


headers = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            [
                "application/json",
                "application/json; charset=utf-8",
                "application/json; charset=utf-16",
                "text/html",
                "multipart/form-data; boundary=x",
                "",
                "application/x-www-form-urlencoded",
            ]
        ),
        "Content-Length": st.sampled_from(["0", "-1", "99999999999999", "abc", "1, 2", "10"]),
        "Content-Encoding": st.sampled_from(["gzip", "br", "identity"]),
        "Transfer-Encoding": st.just("chunked"),
        "X-Forwarded-For": st.just("169.254.169.254"),
    },
)
# Query parameters on a notification POST; `validationToken` (exact name) is the handshake.
notification_params = st.dictionaries(
    st.sampled_from(["code", "validationtoken", "ValidationToken", "$filter", "clientState"]),
    st.text(max_size=40),
    max_size=3,
)


# -- the properties -------------------------------------------------------------------------------


def verified(item: dict[str, Any]) -> bool:
    """What the webhook may trust: the exact clientState and a configured tenant."""
    state, tenant = item.get("clientState"), item.get("tenantId")
    return (
        isinstance(state, str)
        and state == CLIENT_STATE
        and isinstance(tenant, str)
        and tenant.lower() == TENANT
    )


def allowed_markers(items: tuple[dict[str, Any], ...]) -> set[str]:
    """The ids a queued message may name: only those that verified items carry."""
    markers: set[str] = set()
    for item in filter(verified, items):
        data = item.get("resourceData")
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            markers.add(data["id"])
        if isinstance(item.get("resource"), str):
            markers.update(item["resource"].strip("/").split("/"))
        if isinstance(item.get("subscriptionId"), str):
            markers.add(item["subscriptionId"])
        if item.get("lifecycleEvent") == "missed":
            markers.add("full")
    return markers


def marker(message: ChangeMessage) -> str:
    if message.kind == "group":
        return str(message.resource["id"])
    if message.kind == "reauthorize":
        return str(message.resource["subscriptionId"])
    return message.kind


def plainly_valid(item: dict[str, Any]) -> str | None:
    """The group id of an item that must be queued: verified, well-formed, about a group."""
    data = item.get("resourceData")
    if not verified(item) or "lifecycleEvent" in item or not isinstance(data, dict):
        return None
    group = data.get("id")
    subscription = item.get("subscriptionId")
    if not (isinstance(group, str) and isinstance(subscription, str)):
        return None
    try:
        uuid.UUID(group)
        uuid.UUID(subscription)
    except ValueError:
        return None
    return group if item.get("resource") == f"Groups/{group}" else None


@settings(max_examples=1000, deadline=None, suppress_health_check=HOSTILE)
@given(case=notification_bodies(), headers=headers, params=notification_params)
def test_fuzzed_notifications_never_5xx_and_enqueue_only_verified_items(
    queue: Queue, case: Case, headers: dict[str, str], params: dict[str, str]
) -> None:
    response = post(case.body, params, headers)
    queued = queue.drain()
    assert response.status_code in (202, 400), response.get_body()[:200]
    assert response.mimetype == "text/plain"
    if case.well_formed:
        well_sized = len(case.items) <= MAX_ITEMS
        assert response.status_code == (202 if well_sized else 400)
    if response.status_code == 400:
        assert queued == []
    assert all(m.tenant_id == TENANT and m.source == "notification" for m in queued)
    allowed = allowed_markers(case.items)
    assert {marker(m) for m in queued} <= allowed
    must = {group for item in case.items if (group := plainly_valid(item))}
    assert must <= {marker(m) for m in queued}
    assert len({m.id for m in queued}) == len(queued)  # one message per change


def padded(body: bytes, size: int) -> bytes:
    return b" " * (size - len(body)) + body


verified_body = json.dumps(
    {
        "value": [
            {
                "clientState": CLIENT_STATE,
                "tenantId": TENANT,
                "subscriptionId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                "changeType": "updated",
                "resource": "Groups/3a76f5df-c71f-5e69-acd4-cca139633a72",
                "resourceData": {"id": "3a76f5df-c71f-5e69-acd4-cca139633a72"},
            }
        ]
    }
).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=HOSTILE)
@given(
    excess=st.integers(1, 64 * 1024),
    filler=st.sampled_from(["verified", "nested", "binary"]),
    headers=headers,
)
def test_bodies_above_the_limit_get_413_before_parsing(
    queue: Queue, excess: int, filler: str, headers: dict[str, str]
) -> None:
    size = MAX_BODY_BYTES + excess
    # Verified notifications prove nothing is enqueued; nesting that would make the parser
    # answer 400 proves it never ran.
    if filler == "verified":
        body = padded(verified_body, size)
    elif filler == "nested":
        body = b"[" * size
    else:
        body = random.Random(excess).randbytes(size)
    response = post(body, {}, headers)
    assert (response.status_code, response.get_body()) == (413, b"body too large")
    assert queue.drain() == []


@pytest.mark.parametrize("size", [MAX_BODY_BYTES - 1, MAX_BODY_BYTES])
def test_a_verified_body_just_within_the_limit_is_accepted(queue: Queue, size: int) -> None:
    response = post(padded(verified_body, size))
    assert response.status_code == 202
    assert [marker(m) for m in queue.drain()] == ["3a76f5df-c71f-5e69-acd4-cca139633a72"]


@pytest.mark.parametrize("count", [MAX_ITEMS, MAX_ITEMS + 1, 50_000])
def test_huge_arrays_are_bounded(queue: Queue, count: int) -> None:
    forged = {"clientState": "guess", "tenantId": TENANT, "subscriptionId": "s", "resource": "x"}
    response = post(json.dumps({"value": [forged] * count}).encode())
    if len(json.dumps({"value": [forged] * count})) > MAX_BODY_BYTES:
        assert response.status_code == 413
    else:
        assert response.status_code == (202 if count <= MAX_ITEMS else 400)
    assert queue.drain() == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"value":' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # RecursionError in the parser
        b'{"value": [], "n": ' + b"1" * 5_000 + b"}",  # beyond Python's integer digit limit
        b'{"value": [{"clientState": "\\ud800"}]}',  # lone surrogate from a JSON escape
        b'{"value": [{"clientState": "\xed\xa0\x80"}]}',  # lone surrogate as UTF-8 bytes
    ],
    ids=["deep", "long-number", "escaped-surrogate", "raw-surrogate"],
)
def test_bodies_that_used_to_crash_the_handler_are_answered_without_5xx(
    queue: Queue, body: bytes
) -> None:
    assert post(body).status_code in (202, 400)
    assert queue.drain() == []


def test_verified_item_with_unencodable_ids_is_dropped_not_a_5xx(queue: Queue) -> None:
    # Only a holder of the clientState gets this far; the ids still must not crash the webhook.
    items = [
        {
            "clientState": CLIENT_STATE,
            "tenantId": TENANT,
            "subscriptionId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "resource": "Groups/3a76f5df-c71f-5e69-acd4-cca139633a72",
            "id": "\ud800",
        },
        {
            "clientState": CLIENT_STATE,
            "tenantId": TENANT,
            "subscriptionId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "lifecycleEvent": "reauthorizationRequired",
            "subscriptionExpirationDateTime": "\udc00",
        },
    ]
    assert post(json.dumps({"value": items}).encode()).status_code == 202
    assert queue.drain() == []


# -- the validation handshake ---------------------------------------------------------------------

hostile_tokens = st.one_of(
    st.text(max_size=1100),
    st.text(alphabet=st.characters(codec="ascii"), min_size=1000, max_size=1050),
    st.sampled_from(
        [
            "<script>alert(document.cookie)</script>",
            "<html><body onload=alert(1)>",
            "a\r\nSet-Cookie: session=stolen\r\n\r\n<h1>x</h1>",
            "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "%0d%0aLocation:%20https://attacker.invalid",
            "%%41%",
            "x" * MAX_VALIDATION_TOKEN,
            "x" * (MAX_VALIDATION_TOKEN + 1),
            "é" * MAX_VALIDATION_TOKEN,
            "\x00",
            "a\x00b",
            "\ud800",
            "token\udcff",
            "\u202e\u2028\ufeff",
            "Validation: Testing client application reachability for subscription Request-Id: 1",
            "",
        ]
    ),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=HOSTILE)
@given(token=hostile_tokens, body=st.binary(max_size=64), headers=headers)
@example(token="x" * (MAX_VALIDATION_TOKEN + 1), body=b"", headers={})
def test_validation_token_is_echoed_exactly_as_plain_text_or_refused(
    token: str, body: bytes, headers: dict[str, str]
) -> None:
    response = post(body, {"validationToken": token}, headers)
    assert response.mimetype == "text/plain"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    echoed = response.get_body()
    try:
        token.encode()
        encodable = True
    except UnicodeEncodeError:
        encodable = False
    if 0 < len(token) <= MAX_VALIDATION_TOKEN and encodable:
        assert response.status_code == 200
        assert echoed == token.encode()  # exactly the decoded token: no second decoding
        assert len(echoed.decode()) <= MAX_VALIDATION_TOKEN
    else:
        assert response.status_code == 400
        assert echoed in (b"validation token missing or too long", b"validation token is not text")


def test_handshake_needs_no_storage_even_when_the_queue_is_unreachable(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENSCREEN_QUEUES", closed_queue_connection())
    reset_function_app()
    try:
        response = post(b"", {"validationToken": "<b>token</b>"})
    finally:
        reset_function_app()
    assert (response.status_code, response.get_body()) == (200, b"<b>token</b>")


# -- the queue unreachable: 503, and Graph's retry loses nothing ---------------------------------


def closed_queue_connection(secret: str | None = None) -> str:
    endpoint = f"QueueEndpoint=http://127.0.0.1:{closed_port()}/{DEV_ACCOUNT};"
    if secret is not None:
        return endpoint + f"SharedAccessSignature=sv=2024-08-04&ss=q&srt=o&sp=a&sig={secret}"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};" + endpoint
    )


@contextlib.contextmanager
def queue_at(connection: str, azurite: Azurite) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in webhook_env(connection, azurite).items():
            patch.setenv(name, value)
        reset_function_app()
        try:
            yield
        finally:
            reset_function_app()


def test_unreachable_queue_answers_503_and_the_retried_notification_is_queued(
    queue: Queue, azurite: Azurite
) -> None:
    with queue_at(closed_queue_connection(), azurite):
        first = post(verified_body)
    assert (first.status_code, first.get_body()) == (503, b"could not enqueue; retry")
    assert queue.drain() == []
    # Graph retries the same POST; the queue is back.
    with queue_at(azurite.queue_connection, azurite):
        retried = post(verified_body)
    assert retried.status_code == 202
    assert [marker(m) for m in queue.drain()] == ["3a76f5df-c71f-5e69-acd4-cca139633a72"]


def test_failed_enqueue_logs_no_queue_credential(
    queue: Queue, azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ"
    caplog.set_level(logging.DEBUG)
    with queue_at(closed_queue_connection(secret), azurite):
        response = post(verified_body)
    assert response.status_code == 503
    assert "could not enqueue" in caplog.text
    assert secret not in caplog.text
    assert CLIENT_STATE not in caplog.text


@settings(max_examples=100, deadline=None, suppress_health_check=HOSTILE)
@given(case=notification_bodies())
def test_with_the_queue_down_only_verified_items_ever_cause_a_503(
    queue: Queue, azurite: Azurite, case: Case
) -> None:
    with queue_at(closed_queue_connection(), azurite):
        response = post(case.body)
    assert response.status_code in (202, 400, 503)
    if response.status_code == 503:
        assert any(verified(item) for item in case.items)
    if any(plainly_valid(item) for item in case.items):
        assert response.status_code == 503  # never a 202 for a change that was not queued
