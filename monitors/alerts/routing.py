"""Where alerts go: webhook destinations per tenant and minimum severity, and suppressions.

Webhook URLs are secrets (whoever holds one can post into the channel): they live only in app
settings (Key Vault references in Azure), are wrapped in `WebhookUrl` as soon as they are read,
and anything printable shows scheme and host only. Destinations are named; the name, never the
URL, is what logs, the delivery ledger and replay use.

Settings (read here and nowhere else):

- `GREENSCREEN_ALERT_ROUTES`: JSON list of routes, e.g.
  `[{"name": "contoso-ops", "tenant": "<tenant id or *>", "webhookSetting":
  "GREENSCREEN_WEBHOOK_CONTOSO_OPS", "minSeverity": "error", "format": "teams"}]`; the URL is
  the value of the app setting named by `webhookSetting`;
- `GREENSCREEN_ALERT_SUPPRESSIONS`: JSON list, e.g. `[{"rule": "APP-003", "subject": "<id or *>",
  "tenant": "<id or *>", "reason": "…", "owner": "…", "expires": "2026-12-31T00:00:00Z"}]`;
- `GREENSCREEN_HISTORY_BASE_URL`: the Function app's public URL, for the history links;
- `GREENSCREEN_ALERT_DIGEST_ABOVE`: more cards than this for one tenant from one evaluation run
  become one digest card (default 5, 1-100).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from monitors.alerts.alert import Alert
from monitors.alerts.cards import PayloadFormat
from monitors.alerts.links import HistoryLinks
from monitors.suppressions import (
    Suppression,
    SuppressionError,
    first_match,
    parse_suppressions_text,
)
from monitors.url_safety import UnsafeUrlError, client_host, forbidden_address, is_loopback
from rules.findings import Severity

ROUTES_SETTING: Final = "GREENSCREEN_ALERT_ROUTES"
SUPPRESSIONS_SETTING: Final = "GREENSCREEN_ALERT_SUPPRESSIONS"
HISTORY_BASE_URL_SETTING: Final = "GREENSCREEN_HISTORY_BASE_URL"
DIGEST_ABOVE_SETTING: Final = "GREENSCREEN_ALERT_DIGEST_ABOVE"
MAX_DIGEST_ABOVE: Final = 100
ANY: Final = "*"


class AlertSettingsError(ValueError):
    """The alert settings are missing or malformed (names the setting, never its value)."""


def redact_url(url: str) -> str:
    """Scheme and host only: what may appear in a log line or an error message."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable url>"
    if not parts.scheme or not host:
        return "<unparseable url>"
    return f"{parts.scheme}://{host}{port}/…"


class WebhookUrl:
    """A webhook URL that does not print itself: `reveal()` is the only way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            raise AlertSettingsError("a webhook URL must be an absolute http(s) URL") from None
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise AlertSettingsError("a webhook URL must be an absolute http(s) URL")
        try:
            # The host as httpx will connect to it (IDNA: `169。254。169。254` is 169.254.169.254).
            host = client_host(value.strip())
        except UnsafeUrlError:
            raise AlertSettingsError("a webhook URL must be an absolute http(s) URL") from None
        check_destination_host(parts.scheme, parts.hostname)
        check_destination_host(parts.scheme, host)
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    @property
    def redacted(self) -> str:
        return redact_url(self._value)

    def __repr__(self) -> str:
        return f"WebhookUrl({self.redacted!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WebhookUrl) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def check_destination_host(scheme: str, host: str) -> None:
    """Refuse webhook destinations that would turn alert delivery into SSRF.

    https only; plain http only on loopback (local receivers in tests and demos). Never a
    link-local (instance metadata), unspecified, multicast or Azure platform address, however
    the address is spelled (`169.254.169.254`, `2852039166`, `0xa9.0xfe.0xa9.0xfe`,
    `::ffff:169.254.169.254`, `169。254。169。254`: `WebhookUrl` checks the host both as written
    and as the HTTP client normalises it). Host names are not resolved here: the setting is
    operator-owned and DNS answers may change; the receiver must also be reachable over https
    with a valid certificate, which metadata endpoints are not.
    """
    if scheme != "https" and not is_loopback(host):
        raise AlertSettingsError("a webhook URL must use https (plain http only on loopback)")
    if forbidden_address(host):
        raise AlertSettingsError(
            "a webhook URL must not point at a link-local, metadata or unspecified address"
        )


@dataclass(frozen=True, slots=True)
class Destination:
    name: str  # stable and not secret: logs, ledger rows and replay refer to it
    url: WebhookUrl
    min_severity: Severity = Severity.WARNING
    payload_format: PayloadFormat = PayloadFormat.TEAMS

    def wants(self, alert: Alert) -> bool:
        return alert.severity.at_least(self.min_severity)


@dataclass(frozen=True, slots=True)
class Route:
    tenant_id: str  # a tenant id, or "*" for tenants without a route of their own
    destination: Destination


@dataclass(frozen=True, slots=True)
class AlertRouting:
    routes: tuple[Route, ...] = ()
    suppressions: tuple[Suppression, ...] = ()

    def destinations_for(self, tenant_id: str) -> tuple[Destination, ...]:
        """A tenant's own routes; the "*" routes for tenants that have none."""
        own = tuple(route.destination for route in self.routes if route.tenant_id == tenant_id)
        if own:
            return own
        return tuple(route.destination for route in self.routes if route.tenant_id == ANY)

    def destination(self, tenant_id: str, name: str) -> Destination | None:
        for destination in self.destinations_for(tenant_id):
            if destination.name == name:
                return destination
        return None

    def suppression_for(self, alert: Alert, now: datetime) -> Suppression | None:
        record = alert.transition.record
        return first_match(
            self.suppressions, record.rule_id, record.subject_id, alert.tenant_id, now
        )


@dataclass(frozen=True, slots=True)
class RoutedAlerts:
    destination: Destination
    alerts: tuple[Alert, ...]


@dataclass(frozen=True, slots=True)
class SuppressedAlert:
    alert: Alert
    suppression: Suppression


@dataclass(frozen=True, slots=True)
class AlertPlan:
    routed: tuple[RoutedAlerts, ...]
    suppressed: tuple[SuppressedAlert, ...]
    unrouted: tuple[Alert, ...]  # below every destination's minimum severity, or no destination


def plan_alerts(alerts: Iterable[Alert], routing: AlertRouting, now: datetime) -> AlertPlan:
    """Decide, per alert, which destinations get it, or which suppression silences it."""
    by_destination: dict[tuple[str, str], list[Alert]] = {}
    destinations: dict[tuple[str, str], Destination] = {}
    suppressed: list[SuppressedAlert] = []
    unrouted: list[Alert] = []
    for alert in alerts:
        suppression = routing.suppression_for(alert, now)
        if suppression is not None:
            suppressed.append(SuppressedAlert(alert, suppression))
            continue
        wanted = [d for d in routing.destinations_for(alert.tenant_id) if d.wants(alert)]
        if not wanted:
            unrouted.append(alert)
        for destination in wanted:
            slot = (alert.tenant_id, destination.name)
            destinations[slot] = destination
            by_destination.setdefault(slot, []).append(alert)
    return AlertPlan(
        routed=tuple(
            RoutedAlerts(destinations[slot], tuple(group)) for slot, group in by_destination.items()
        ),
        suppressed=tuple(suppressed),
        unrouted=tuple(unrouted),
    )


# -- settings ---------------------------------------------------------------------------------


def routing_from_settings(environ: Mapping[str, str] | None = None) -> AlertRouting:
    settings = os.environ if environ is None else environ
    return AlertRouting(
        routes=tuple(_routes(settings)),
        suppressions=tuple(_suppressions(settings.get(SUPPRESSIONS_SETTING) or "[]")),
    )


def digest_above_from_settings(environ: Mapping[str, str] | None = None) -> int:
    """`GREENSCREEN_ALERT_DIGEST_ABOVE`: more cards than this from one run become a digest."""
    from monitors.alerts.cards import DEFAULT_DIGEST_ABOVE

    settings = os.environ if environ is None else environ
    value = (settings.get(DIGEST_ABOVE_SETTING) or "").strip()
    if not value:
        return DEFAULT_DIGEST_ABOVE
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_DIGEST_ABOVE:
        raise AlertSettingsError(
            f"{DIGEST_ABOVE_SETTING} must be a whole number from 1 to {MAX_DIGEST_ABOVE}"
        )
    return int(value)


def history_links_from_settings(environ: Mapping[str, str] | None = None) -> HistoryLinks:
    settings = os.environ if environ is None else environ
    base = settings.get(HISTORY_BASE_URL_SETTING, "").strip()
    if not base.startswith(("https://", "http://")):
        raise AlertSettingsError(f"set {HISTORY_BASE_URL_SETTING} to the Function app's URL")
    return HistoryLinks(base)


def _json_list(text: str, setting: str) -> Sequence[Mapping[str, Any]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise AlertSettingsError(f"{setting} is not valid JSON") from None
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        raise AlertSettingsError(f"{setting} must be a JSON list of objects")
    return document


def _routes(settings: Mapping[str, str]) -> Iterable[Route]:
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(_json_list(settings.get(ROUTES_SETTING) or "[]", ROUTES_SETTING)):
        where = f"{ROUTES_SETTING}[{index}]"
        name = _required(item, "name", where)
        tenant = str(item.get("tenant", ANY))
        url_setting = _required(item, "webhookSetting", where)
        value = settings.get(url_setting, "")
        if not value:
            raise AlertSettingsError(f"{where}: app setting {url_setting} is not set")
        try:
            url = WebhookUrl(value)
            severity = Severity(str(item.get("minSeverity", Severity.WARNING.value)))
            payload_format = PayloadFormat(str(item.get("format", PayloadFormat.TEAMS.value)))
        except AlertSettingsError as error:
            # The reason never contains the URL: it names the setting, not its value.
            raise AlertSettingsError(f"{where}: {url_setting}: {error}") from None
        except ValueError:
            raise AlertSettingsError(f"{where}: unknown minSeverity or format") from None
        if (tenant, name) in seen:
            raise AlertSettingsError(f"{where}: route {name!r} appears twice for one tenant")
        seen.add((tenant, name))
        yield Route(tenant, Destination(name, url, severity, payload_format))


def _suppressions(text: str) -> Iterable[Suppression]:
    # The model and the format are shared with `greenscreen check --suppressions`.
    try:
        return parse_suppressions_text(text, SUPPRESSIONS_SETTING)
    except SuppressionError as error:
        raise AlertSettingsError(str(error)) from None


def _required(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise AlertSettingsError(f"{where}: {key} is required")
    return value.strip()
