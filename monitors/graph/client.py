"""A raw-JSON Microsoft Graph client on msgraph-core's client factory and middleware.

Intune data is beta-only, and the beta SDK is ~680 MB, so collections are read as raw JSON through
`GraphClientFactory` (httpx with Graph's retry, redirect and telemetry middleware). Retries on
429/503/504 honouring `Retry-After` are the middleware's job; this module only adds what it does not
do: bounded retries of transport failures (timeouts, resets), retries of *inner* `$batch`
responses, a bound on the `Retry-After` waits (one and in total), and the request accounting the
benchmarks and telemetry need.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import httpx
from azure.core.exceptions import ClientAuthenticationError
from kiota_authentication_azure.azure_identity_access_token_provider import (
    AzureIdentityAccessTokenProvider,
)
from kiota_http.middleware.options import RetryHandlerOption, UrlReplaceHandlerOption
from msgraph_core.graph_client_factory import GraphClientFactory

from monitors.graph.credentials import GRAPH_SCOPE, LOOPBACK_HOSTS
from monitors.telemetry import graph as graph_telemetry

log = logging.getLogger(__name__)

GraphVersion = Literal["v1.0", "beta"]
PUBLIC_GRAPH_URL: Final = "https://graph.microsoft.com"
BATCH_LIMIT: Final = 20  # Graph rejects a JSON batch of more than 20 requests with 400.


class GraphError(Exception):
    """A Graph request that failed for good (after the middleware's retries)."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.code:
            record["code"] = self.code
        return record


@dataclass
class RequestStats:
    """What went over the wire: the scarce resource the monitor is judged by."""

    http_requests: int = 0  # every HTTP exchange, retries included
    batch_requests: int = 0  # `$batch` POSTs among them
    inner_requests: int = 0  # requests carried inside batches (each counts against throttling)
    throttled: int = 0  # 429 answers seen, top-level or inner
    retried_transport_errors: int = 0
    retry_wait_s: float = 0.0  # Retry-After waits let through to the middleware
    gave_up_waiting: int = 0  # Retry-After answers not waited for (beyond the budget)
    by_status: dict[int, int] = field(default_factory=dict)

    def graph_requests(self) -> int:
        """Requests as Graph's throttling counts them: batch envelopes are not, their items are."""
        return self.http_requests - self.batch_requests + self.inner_requests


class _CountingTransport(httpx.AsyncBaseTransport):
    """Sits under the middleware so that every retry the middleware makes is counted."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        stats: RequestStats,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._inner = inner
        self._stats = stats
        self._policy = policy or RetryPolicy()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._stats.http_requests += 1
        if request.url.path.endswith("/$batch"):
            self._stats.batch_requests += 1
        graph_telemetry.exchange_started(request)
        response = await self._inner.handle_async_request(request)
        graph_telemetry.exchange_answered(request, response)
        self._stats.by_status[response.status_code] = (
            self._stats.by_status.get(response.status_code, 0) + 1
        )
        if response.status_code == 429:
            self._stats.throttled += 1
        if response.status_code in _MIDDLEWARE_RETRIES:
            self._bound_wait(response)
        return response

    def _bound_wait(self, response: httpx.Response) -> None:
        """The middleware waits any `Retry-After` under 180 s, per retry, with no total: one
        answer asking for more than `max_retry_after_s`, or one that would take this client's
        waits past `max_total_wait_s`, is handed up as final instead (the collection becomes
        unreadable, so UNKNOWN, well before the Functions timeout kills the whole evaluation)."""
        value = response.headers.get("Retry-After", "").strip()
        if not value.isdigit():
            return  # no header (the middleware's own short back-off) or an HTTP date: as is
        wait = float(value)
        policy = self._policy
        if (
            wait > policy.max_retry_after_s
            or self._stats.retry_wait_s + wait > policy.max_total_wait_s
        ):
            response.headers["Retry-After"] = str(int(RetryHandlerOption.MAX_DELAY))
            self._stats.gave_up_waiting += 1
            return
        self._stats.retry_wait_s += wait

    async def aclose(self) -> None:
        await self._inner.aclose()


class _BearerTokenAuth(httpx.Auth):
    """Signs requests with kiota's Azure Identity token provider.

    The provider only hands out tokens for allowed hosts, so a `nextLink` that points anywhere but
    the configured Graph host is sent unsigned (and then refused by `GraphClient`).
    """

    def __init__(self, provider: AzureIdentityAccessTokenProvider) -> None:
        self._provider = provider

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> Any:  # AsyncGenerator[httpx.Request, httpx.Response]
        token = await self._provider.get_authorization_token(str(request.url))
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on waiting for Graph. The middleware honours `Retry-After` up to these retries."""

    max_retries: int = 4
    base_delay_s: float = 1.0
    transport_retries: int = 2
    inner_batch_retries: int = 4
    timeout_s: float = 30.0
    # Retry-After waits: the longest one honoured, and the total per client (one invocation).
    max_retry_after_s: float = 90.0
    max_total_wait_s: float = 240.0


_MIDDLEWARE_RETRIES: Final = frozenset({429, 503, 504})  # kiota's RetryHandler status codes


def graph_host(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"Graph URL must be http(s)://host[:port], got {base_url!r}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError("plain http is only allowed for a Graph simulator on loopback")
    return parts.netloc


class GraphClient:
    """Raw JSON requests against one Graph endpoint, both API versions, one connection pool."""

    def __init__(
        self,
        credential: Any,
        *,
        base_url: str = PUBLIC_GRAPH_URL,
        retry: RetryPolicy | None = None,
        max_connections: int = 8,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        host = graph_host(self.base_url)
        hostname = urlsplit(self.base_url).hostname or host
        provider = AzureIdentityAccessTokenProvider(
            credential, None, scopes=[GRAPH_SCOPE], allowed_hosts=[hostname]
        )
        # Kept so it can be closed: the factory swaps the client's transport for its middleware
        # pipeline, and closing the client does not reach the pool underneath.
        self._transport = _CountingTransport(
            httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=max_connections), retries=0
            ),
            self.stats,
            self.retry,
        )
        transport = self._transport
        client = httpx.AsyncClient(
            transport=transport,
            auth=_BearerTokenAuth(provider),
            timeout=httpx.Timeout(self.retry.timeout_s),
            follow_redirects=False,
            headers={"Accept": "application/json"},
        )
        # The factory wraps our transport in Graph's middleware pipeline (retry, redirect, ...).
        # We keep base_url unset and send absolute URLs: httpx would otherwise normalise the base to
        # ".../v1.0/" and produce "//" paths that strict servers reject.
        self._http = GraphClientFactory.create_with_default_middleware(client=client)
        self._allowed_netloc = host

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._transport.aclose()

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def url(self, version: GraphVersion, relative: str) -> str:
        return f"{self.base_url}/{version}/{relative.lstrip('/')}"

    def relative_to_version(self, absolute: str, version: GraphVersion) -> str:
        """Turn a `nextLink` back into a URL relative to the version root (for `$batch`)."""
        prefix = f"{self.base_url}/{version}/"
        if not absolute.startswith(prefix):
            raise GraphError(0, f"Graph returned a link outside {prefix}: refusing to follow it")
        return absolute[len(prefix) :]

    def _request_options(self, call: graph_telemetry.GraphCall) -> dict[str, Any]:
        option = RetryHandlerOption(
            delay=self.retry.base_delay_s, max_retries=self.retry.max_retries, should_retry=True
        )
        # The URL replacer (for `/users/me-token-to-replace`) is of no use here, and its own span
        # would carry the full URL, query values included: turn it off.
        no_replace = UrlReplaceHandlerOption(enabled=False)
        return {
            "kiota_request_options": {
                RetryHandlerOption.get_key(): option,
                UrlReplaceHandlerOption.get_key(): no_replace,
            },
            graph_telemetry.CALL_EXTENSION: call,
        }

    async def request_json(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request (absolute URL on the configured host) and return its JSON object."""
        if urlsplit(url).netloc != self._allowed_netloc:
            raise GraphError(0, f"refusing to call a host other than {self._allowed_netloc}")
        with graph_telemetry.graph_request_span(method, url) as call:
            return await self._request_json(method, url, body, headers, call)

    async def _request_json(
        self,
        method: str,
        url: str,
        body: Any,
        headers: Mapping[str, str] | None,
        call: graph_telemetry.GraphCall,
    ) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method,
                    url,
                    json=body,
                    headers=dict(headers or {}),
                    extensions=self._request_options(call),
                )
                break
            except ClientAuthenticationError as error:
                # No token, no Graph: say why in one line (azure-identity's text spans lines).
                first_line = (str(error.message or error).strip().splitlines() or ["failed"])[0]
                raise GraphError(401, f"could not get a Graph token: {first_line[:300]}") from None
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as error:
                # The middleware retries HTTP answers, not the absence of one. A GET is safe to
                # repeat; keep the budget small so a dead Graph fails fast into UNKNOWN.
                if attempt >= self.retry.transport_retries:
                    kind = "timed out" if isinstance(error, httpx.TimeoutException) else "failed"
                    raise GraphError(0, f"request {kind}: {type(error).__name__}") from None
                attempt += 1
                self.stats.retried_transport_errors += 1
                await asyncio.sleep(min(self.retry.base_delay_s * attempt, 5.0))
        return parse_response(response.status_code, response.content)

    async def get_json(
        self, version: GraphVersion, relative: str, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return await self.request_json("GET", self.url(version, relative), headers=headers)

    async def batch(
        self, version: GraphVersion, requests: Sequence[Mapping[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """POST one JSON batch (at most 20 items); return responses by id."""
        if len(requests) > BATCH_LIMIT:
            raise ValueError(f"a JSON batch holds at most {BATCH_LIMIT} requests")
        with graph_telemetry.graph_batch_span(version, requests) as observed:
            by_id = await self._batch(version, requests)
            observed.answered(by_id)
            return by_id

    async def _batch(
        self, version: GraphVersion, requests: Sequence[Mapping[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        self.stats.inner_requests += len(requests)
        payload = await self.request_json(
            "POST", self.url(version, "$batch"), body={"requests": list(requests)}
        )
        responses = payload.get("responses")
        if not isinstance(responses, list):
            raise GraphError(502, "malformed $batch response: no 'responses' array")
        by_id: dict[str, dict[str, Any]] = {}
        for item in responses:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                by_id[item["id"]] = item
                if item.get("status") == 429:
                    self.stats.throttled += 1
        return by_id


def parse_response(status: int, content: bytes) -> dict[str, Any]:
    """The JSON object of a successful answer, or `GraphError` with Graph's own message."""
    if status >= 400:
        raise error_from_body(status, content)
    if not content:
        return {}
    try:
        document = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise GraphError(502, f"malformed JSON in a {status} answer from Graph") from None
    if not isinstance(document, dict):
        raise GraphError(502, "Graph answered with JSON that is not an object")
    return document


def error_from_body(status: int, content: bytes | Any) -> GraphError:
    code, message = "", f"HTTP {status}"
    try:
        body = json.loads(content) if isinstance(content, bytes | str) else content
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code = str(error.get("code") or "")
            message = str(error.get("message") or message)
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    return GraphError(status, " ".join(message.split())[:500], code)


@dataclass
class BatchItem:
    """One GET inside a JSON batch, with what to do with its JSON answer or its failure."""

    url: str  # relative to the version root
    on_success: Callable[[dict[str, Any]], Awaitable[None] | None]
    on_failure: Callable[[GraphError], None]
    headers: Mapping[str, str] | None = None
    attempts: int = 0


class BatchRunner:
    """A queue of GETs sent as JSON batches; items may be added while it drains."""

    def __init__(self, client: GraphClient, version: GraphVersion, *, concurrency: int = 4) -> None:
        self._client = client
        self._version = version
        self._pending: list[BatchItem] = []
        self._semaphore = asyncio.Semaphore(concurrency)

    def add(self, item: BatchItem) -> None:
        self._pending.append(item)

    async def drain(self) -> None:
        while self._pending:
            chunks: list[list[BatchItem]] = []
            while self._pending:
                chunks.append(self._pending[:BATCH_LIMIT])
                del self._pending[:BATCH_LIMIT]
            delays = await asyncio.gather(*(self._send(chunk) for chunk in chunks))
            wait = max(delays, default=0.0)
            if self._pending and wait > 0:
                await asyncio.sleep(wait)

    async def _send(self, chunk: list[BatchItem]) -> float:
        """Send one batch; return how long Graph asked throttled items to wait."""
        requests = []
        for index, item in enumerate(chunk):
            request: dict[str, Any] = {"id": str(index + 1), "method": "GET", "url": item.url}
            if item.headers:
                request["headers"] = dict(item.headers)
            requests.append(request)
        async with self._semaphore:
            try:
                responses = await self._client.batch(self._version, requests)
            except GraphError as error:
                for item in chunk:
                    item.on_failure(error)
                return 0.0
        wait = 0.0
        for index, item in enumerate(chunk):
            answer = responses.get(str(index + 1))
            if answer is None:
                item.on_failure(GraphError(502, "missing from the $batch response"))
                continue
            status = int(answer.get("status", 0))
            if status in (429, 503, 504) and item.attempts < self._client.retry.inner_batch_retries:
                # Inner answers are not seen by the retry middleware: requeue with Graph's delay.
                item.attempts += 1
                wait = max(wait, _retry_after(answer, self._client.retry.base_delay_s))
                self._pending.append(item)
                continue
            if status >= 400:
                item.on_failure(error_from_body(status, answer.get("body")))
                continue
            body = answer.get("body")
            if not isinstance(body, dict):
                item.on_failure(GraphError(502, "malformed JSON in a $batch item"))
                continue
            outcome = item.on_success(body)
            if outcome is not None:
                await outcome
        return wait


def _retry_after(answer: Mapping[str, Any], default: float) -> float:
    headers = answer.get("headers") or {}
    for key, value in headers.items() if isinstance(headers, dict) else ():
        if str(key).lower() == "retry-after":
            try:
                return min(float(value), 120.0)
            except (TypeError, ValueError):
                return default
    return default
