"""JSON batching (`POST /{version}/$batch`).

At most 20 requests, unique ids, optional `dependsOn`; each inner request is dispatched (and
logged, and exposed to faults) like a top-level one, under the outer request's authorization.
An id is any string, compared case-sensitively; a JSON number is taken as its text (public tools
send `"id": 1` and Graph serves them) and answered as a string, as Graph's responses carry it.
Answers come back in an order that is not the request order, as Graph's may: shuffled with the
simulator's seeded random generator so that a run is reproducible.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from tests.graphsim.exchange import GraphRequest, GraphResponse, bad_request

if TYPE_CHECKING:
    from tests.graphsim.dispatch import Dispatcher

MAX_BATCH_REQUESTS: Final = 20
# Headers of an inner answer that Graph passes through inside the batch body.
_INNER_HEADERS: Final = (
    "Content-Type",
    "OData-Version",
    "Cache-Control",
    "Retry-After",
    "Location",
)


class BatchAnswerer:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def __call__(self, request: GraphRequest, dispatcher: Dispatcher) -> GraphResponse:
        items = _parse_batch(request)
        by_id = {item["id"]: item for item in items}
        answers: dict[str, dict[str, Any]] = {}
        for item in _dependency_order(items, by_id):
            failed = [d for d in item.get("dependsOn", []) if answers[d]["status"] >= 400]
            if failed:
                answers[item["id"]] = _failed_dependency(item["id"], failed)
                continue
            inner = _inner_request(request, item)
            response = dispatcher.handle(inner)
            if response is None:  # cannot happen in a batch; kept for the type checker
                response = GraphResponse(504)
            answers[item["id"]] = _inner_answer(item["id"], response)
        ordered = [answers[item["id"]] for item in items]
        with self._lock:
            self._random.shuffle(ordered)
        return GraphResponse(200, {"responses": ordered})


def _parse_batch(request: GraphRequest) -> list[dict[str, Any]]:
    try:
        body = request.json_body()
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request("Invalid batch payload format.") from error
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise bad_request("Invalid batch payload format: a 'requests' array is required.")
    items: list[dict[str, Any]] = body["requests"]
    if len(items) > MAX_BATCH_REQUESTS:
        raise bad_request(
            f"Number of requests ({len(items)}) exceeds the maximum of {MAX_BATCH_REQUESTS}."
        )
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            raise bad_request("Invalid batch payload format: each request must be an object.")
        item["id"] = _id_text(item.get("id"))
        if isinstance(item.get("dependsOn"), list):
            item["dependsOn"] = [_id_text(d) for d in item["dependsOn"]]
        for field in ("id", "method", "url"):
            if not isinstance(item.get(field), str) or not item[field]:
                raise bad_request(f"Invalid batch payload format: '{field}' is required.")
        if item["id"] in seen:
            raise bad_request(f"Batch request ids must be unique; '{item['id']}' is repeated.")
        seen.add(item["id"])
        if item["url"].lower().startswith(("http://", "https://")):
            raise bad_request(f"Batch request '{item['id']}' must use a relative URL.")
        headers = item.get("headers", {})
        if not isinstance(headers, dict):
            raise bad_request(f"Batch request '{item['id']}' has headers that are not an object.")
        if "body" in item and not any(k.lower() == "content-type" for k in headers):
            raise bad_request(
                f"Batch request '{item['id']}' has a body but no Content-Type header."
            )
        depends_on = item.get("dependsOn", [])
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            raise bad_request(f"Batch request '{item['id']}' has an invalid dependsOn.")
    for item in items:
        for dependency in item.get("dependsOn", []):
            if dependency not in seen or dependency == item["id"]:
                raise bad_request(
                    f"Batch request '{item['id']}' depends on unknown request '{dependency}'."
                )
    return items


def _id_text(value: Any) -> Any:
    """A request id as Graph keys it: strings as they are, JSON numbers by their text."""
    if isinstance(value, bool):
        return value  # true/false is not an id: refused below
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def _dependency_order(
    items: list[dict[str, Any]], by_id: Mapping[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    ordered: list[dict[str, Any]] = []
    state: dict[str, str] = {}

    def visit(item: dict[str, Any]) -> None:
        if state.get(item["id"]) == "done":
            return
        if state.get(item["id"]) == "visiting":
            raise bad_request("Batch requests have a circular dependsOn.")
        state[item["id"]] = "visiting"
        for dependency in item.get("dependsOn", []):
            visit(by_id[dependency])
        state[item["id"]] = "done"
        ordered.append(item)

    for item in items:
        visit(item)
    return ordered


def _inner_request(outer: GraphRequest, item: Mapping[str, Any]) -> GraphRequest:
    path, _, query = str(item["url"]).lstrip("/").partition("?")
    headers = {str(k).lower(): str(v) for k, v in item.get("headers", {}).items()}
    authorization = outer.header("authorization")
    if authorization is not None:
        headers["authorization"] = authorization
    body = b""
    if "body" in item:
        raw = item["body"]
        body = raw.encode("utf-8") if isinstance(raw, str) else json.dumps(raw).encode("utf-8")
    return GraphRequest(
        method=str(item["method"]).upper(),
        version=outer.version,
        path="/".join(s for s in unquote(path).split("/") if s),
        query=query,
        headers=headers,
        body=body,
        request_id=str(uuid.uuid4()),
        client_request_id=headers.get("client-request-id", outer.client_request_id),
        in_batch=True,
        batch_id=outer.request_id,
    )


def _inner_answer(item_id: str, response: GraphResponse) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": item_id,
        "status": response.status,
        "headers": {k: v for k, v in response.headers.items() if k in _INNER_HEADERS},
    }
    if response.body is not None:
        if response.truncate_body or response.raw_body is not None:
            # A garbled inner answer: the body is the cut-off JSON text.
            answer["body"] = response.body_bytes().decode("utf-8", errors="replace")
        else:
            answer["body"] = response.body
    return answer


def _failed_dependency(item_id: str, failed: list[str]) -> dict[str, Any]:
    message = f"The request depends on request(s) that failed: {', '.join(failed)}."
    return {
        "id": item_id,
        "status": 424,
        "headers": {"Content-Type": "application/json"},
        "body": {"error": {"code": "FailedDependency", "message": message}},
    }
