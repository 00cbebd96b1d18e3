"""One Graph request and its answer, independent of the HTTP server that carries them.

Top-level requests and the requests inside a JSON `$batch` are both `GraphRequest`s, so every
feature (auth aside) behaves the same in and out of a batch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

# What Graph sends for JSON bodies (from a real response; clients key off `application/json`).
JSON_CONTENT_TYPE: Final = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)
GRAPH_VERSIONS: Final = ("v1.0", "beta")


@dataclass(frozen=True)
class GraphRequest:
    method: str
    version: str
    path: str  # under the version root, no leading slash: "groups/abc/members"
    query: str  # the raw query string, without "?"
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes
    request_id: str
    client_request_id: str
    in_batch: bool = False
    batch_id: str | None = None

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    def json_body(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body.strip() else None


@dataclass
class GraphResponse:
    status: int
    body: Any = None  # JSON-serialisable; None means no body
    headers: dict[str, str] = field(default_factory=dict)
    # Set by the `malformed` fault: the JSON text is cut short before it is sent.
    truncate_body: bool = False
    # Set by the `garbled` fault: this text is sent instead of the JSON body (not JSON at all).
    raw_body: bytes | None = None

    def body_bytes(self) -> bytes:
        if self.raw_body is not None:
            return self.raw_body
        if self.body is None:
            return b""
        text = json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return text[: max(1, len(text) // 2)] if self.truncate_body else text


class GraphError(Exception):
    """An error answer in Graph's shape; raised anywhere below the dispatcher."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def error_body(error: GraphError, *, date: str, request_id: str, client_request_id: str) -> Any:
    return {
        "error": {
            "code": error.code,
            "message": error.message,
            "innerError": {
                "date": date,
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }


def is_directory_path(path: str) -> bool:
    """Entra ID (directory) paths answer with `Request_*` error codes; Intune with plain ones."""
    first = path.split("/", 1)[0]
    return first in {"groups", "devices", "users", "directoryObjects", "auditLogs"}


def error_code_for_status(status: int, path: str) -> str:
    directory = is_directory_path(path)
    codes = {
        400: "Request_BadRequest" if directory else "BadRequest",
        401: "InvalidAuthenticationToken",
        403: "Authorization_RequestDenied" if directory else "Forbidden",
        404: "Request_ResourceNotFound" if directory else "ResourceNotFound",
        405: "Request_BadRequest" if directory else "MethodNotAllowed",
        409: "Conflict",
        410: "Gone",
        424: "FailedDependency",
        429: "TooManyRequests",
        500: "InternalServerError",
        502: "BadGateway",
        503: "ServiceUnavailable",
        504: "GatewayTimeout",
    }
    return codes.get(status, "UnknownError")
