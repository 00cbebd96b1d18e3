"""The admin API (`/_admin/...`, no auth): change the tenant, inject faults, read the log.

It mirrors the simulator's Python methods for tests and tools that drive a simulator running in
another process (`python -m tests.graphsim`).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

from monitors.tenant_changes import ChangeError
from tests.graphsim.faults import Fault

if TYPE_CHECKING:
    from tests.graphsim.simulator import GraphSimulator

AdminAnswer = tuple[int, str, bytes]
_JSON: Final = "application/json; charset=utf-8"


def _json(status: int, payload: Any) -> AdminAnswer:
    return status, _JSON, json.dumps(payload).encode("utf-8")


def _problem(status: int, message: str) -> AdminAnswer:
    code = {400: "BadRequest", 404: "NotFound", 504: "Timeout"}.get(status, "Error")
    return _json(status, {"error": {"code": code, "message": message}})


def _no_content() -> AdminAnswer:
    return 204, _JSON, b""


def answer_admin(
    simulator: GraphSimulator, method: str, route: str, query: str, body: bytes
) -> AdminAnswer:
    route = route.strip("/")
    try:
        payload = json.loads(body) if body.strip() else None
    except ValueError:
        return _problem(400, "The request body is not JSON.")
    try:
        return _route(simulator, method, route, query, payload)
    except ChangeError as error:
        return _problem(400, str(error))
    except TimeoutError as error:
        return _problem(504, str(error))
    except (ValueError, TypeError, KeyError) as error:
        return _problem(400, str(error))


def _route(
    simulator: GraphSimulator, method: str, route: str, query: str, payload: Any
) -> AdminAnswer:
    if route == "changes" and method == "POST":
        if not isinstance(payload, dict):
            return _problem(400, "POST a change document (a JSON object).")
        return _json(200, {"value": simulator.apply_changes(payload)})
    if route == "faults":
        if method == "POST":
            fault = Fault.from_json(payload)
            simulator.add_fault(fault)
            return _json(201, fault.as_json())
        if method == "DELETE":
            simulator.clear_faults()
            return _no_content()
        if method == "GET":
            return _json(200, {"value": [f.as_json() for f in simulator.active_faults()]})
    if route == "requests":
        if method == "GET":
            return _json(200, {"value": [r.as_json() for r in simulator.request_log]})
        if method == "DELETE":
            simulator.clear_log()
            return _no_content()
    if route == "snapshot" and method == "GET":
        return _json(200, simulator.tenant_snapshot())
    if route == "clock" and method == "POST":
        seconds = payload.get("advanceSeconds") if isinstance(payload, dict) else None
        if not isinstance(seconds, int | float) or seconds < 0:
            return _problem(400, 'POST {"advanceSeconds": N} with N >= 0.')
        simulator.advance_clock(timedelta(seconds=seconds))
        return _json(200, {"now": simulator.now().isoformat()})
    if route == "deltaTokens" and method == "DELETE":
        simulator.expire_delta_tokens()
        return _no_content()
    if route == "lifecycle" and method == "POST":
        if not isinstance(payload, dict) or not isinstance(payload.get("subscriptionId"), str):
            return _problem(400, 'POST {"subscriptionId": ..., "lifecycleEvent": ...}.')
        simulator.send_lifecycle_event(
            payload["subscriptionId"], str(payload.get("lifecycleEvent", "reauthorizationRequired"))
        )
        return _json(202, {})
    if route == "deliveries" and method == "GET":
        timeout = float(parse_qs(query).get("timeout", ["5"])[0])
        results = simulator.wait_for_deliveries(timeout)
        return _json(
            200,
            {
                "value": [
                    {
                        "url": r.url,
                        "kind": r.kind,
                        "subscriptionIds": list(r.subscription_ids),
                        "status": r.status,
                        "error": r.error,
                        "payload": r.payload,
                    }
                    for r in results
                ]
            },
        )
    return _problem(404, f"No admin route {method} /_admin/{route}.")
