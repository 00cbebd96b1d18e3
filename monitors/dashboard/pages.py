"""The dashboard's pages: one request (path, query, principal) in, one HTML response out.

Both the Function app (`function_app.py`, behind Easy Auth) and `greenscreen serve` (loopback)
call `respond`; they differ only in how they find the principal. Every value reaches the page
through Jinja2 with autoescaping on, so tenant text (names, actors, reasons) renders as text.
Bad input is a 400 page naming the parameter; storage trouble a 503 page; a tenant the user
may not see a 403 page that does not say whether the tenant exists.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final
from urllib.parse import urlencode

from azure.core.exceptions import AzureError
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from monitors.alerts.links import admin_center_url
from monitors.dashboard.access import AccessDenied, Principal
from monitors.dashboard.summary import PER_SCOPE
from monitors.dashboard.views import (
    FINDINGS_PAGE,
    ChartPoint,
    Dashboard,
    page_of,
)
from monitors.store import query_params
from monitors.store.continuation import InvalidQueryError
from monitors.store.keys import InvalidKeyError, format_time
from rules.device_readiness import Readiness

log = logging.getLogger(__name__)

TIMELINE_PAGE_SIZE: Final = 50
MAX_TIMELINE_PAGE_SIZE: Final = 200
SERIAL_PATTERN: Final = re.compile(r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]{1,128}$")
PAGE_PATTERN: Final = re.compile(r"^[0-9]{1,5}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
TEMPLATES: Final = __file__.rsplit("/", 1)[0] + "/templates"

# Status colours, each with the text colour drawn on it; tests compute their WCAG contrast.
STATUS_COLOURS: Final[Mapping[str, tuple[str, str]]] = {
    "green": ("#0f6b2e", "#ffffff"),
    "red": ("#b3261e", "#ffffff"),
    "unknown": ("#5c4700", "#ffffff"),
    "pass": ("#0f6b2e", "#ffffff"),
    "fail": ("#b3261e", "#ffffff"),
    "not_applicable": ("#4a5560", "#ffffff"),
    "resolved": ("#1f5f8b", "#ffffff"),
    "none": ("#4a5560", "#ffffff"),
}
PAGE_COLOURS: Final = {"text": "#1b1f24", "background": "#ffffff", "muted": "#4f5861"}

VIEWS: Final = ("", "tenant", "timeline", "device")


class BadRequest(ValueError):
    """Invalid input: a 400 page with this one-line reason."""


@dataclass(frozen=True, slots=True)
class PageResponse:
    status: int
    body: str
    content_type: str = "text/html; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.globals["colours"] = STATUS_COLOURS
    env.globals["page_colours"] = PAGE_COLOURS
    env.globals["admin_center_url"] = admin_center_url
    return env


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@dataclass(frozen=True, slots=True)
class Links:
    """URLs of the dashboard's views under `base` (e.g. "/api/dashboard" or "")."""

    base: str

    def __call__(self, view: str, **params: Any) -> str:
        query = {k: str(v) for k, v in params.items() if v is not None and v != ""}
        path = f"{self.base}/{view}" if view else f"{self.base}/"
        return path + ("?" + urlencode(query) if query else "")


def security_headers(nonce: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            "default-src 'none'; img-src 'self' data:; "
            f"style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
    }


def respond(
    dashboard: Dashboard,
    principal: Principal | AccessDenied,
    view: str,
    params: Mapping[str, str],
    *,
    base: str,
    now: datetime | None = None,
) -> PageResponse:
    """Answer one GET of the dashboard; never raises."""
    links = Links(base.rstrip("/"))
    nonce = secrets.token_urlsafe(16)
    headers = security_headers(nonce)
    context: dict[str, Any] = {"url": links, "nonce": nonce, "user": None}
    try:
        if isinstance(principal, AccessDenied):
            raise principal
        context["user"] = principal.name
        view = view.strip("/")
        if view not in VIEWS:
            return _error(404, "no such page", context, headers)
        for name, value in params.items():
            if _CONTROL.search(value) or _CONTROL.search(name):
                raise BadRequest(f"{_shown(name)} must not contain control characters")
        template, values = _VIEW_HANDLERS[view](dashboard, principal, params, now)
        body = environment().get_template(template).render(**context, **values)
        return PageResponse(200, body, headers=headers)
    except AccessDenied as denied:
        return _error(denied.status, str(denied), context, headers)
    except (BadRequest, query_params.QueryError, InvalidQueryError, InvalidKeyError) as error:
        return _error(400, " ".join(str(error).split()), context, headers)
    except AzureError as error:
        log.warning("dashboard storage query failed: %s", type(error).__name__)
        return _error(503, "storage is unavailable; retry later", context, headers)


def error_page(status: int, message: str, *, base: str) -> PageResponse:
    """An error page outside any view (e.g. the app is not configured)."""
    nonce = secrets.token_urlsafe(16)
    context = {"url": Links(base.rstrip("/")), "nonce": nonce, "user": None}
    return _error(status, message, context, security_headers(nonce))


def _error(
    status: int, message: str, context: Mapping[str, Any], headers: Mapping[str, str]
) -> PageResponse:
    titles = {400: "Bad request", 401: "Sign in", 403: "Not allowed", 404: "Not found"}
    body = (
        environment()
        .get_template("error.html")
        .render(**context, status=status, title=titles.get(status, "Unavailable"), message=message)
    )
    return PageResponse(status, body, headers=dict(headers))


def _shown(name: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in name[:40])


def _only(params: Mapping[str, str], allowed: set[str]) -> dict[str, str]:
    """Known parameters only; an empty value (an unfilled form field) is no filter."""
    unknown = sorted(set(params) - allowed - query_params.IGNORED)
    if unknown:
        raise BadRequest(f"unknown parameter {_shown(unknown[0])!r}")
    return {k: v.strip() for k, v in params.items() if k in allowed and v.strip()}


def _visible_tenant(principal: Principal, params: Mapping[str, str]) -> str:
    tenant = query_params.tenant(params.get("tenant"))
    if not principal.may_see(tenant):
        raise AccessDenied(403, "your roles do not include this tenant")
    return tenant


def _page_number(value: str | None) -> int:
    if value is None:
        return 1
    if not PAGE_PATTERN.fullmatch(value) or int(value) < 1:
        raise BadRequest("page must be a whole number from 1")
    return int(value)


# -- the views ----------------------------------------------------------------------------------

Handled = tuple[str, dict[str, Any]]


def _overview(
    dashboard: Dashboard, principal: Principal, params: Mapping[str, str], now: datetime | None
) -> Handled:
    _only(params, set())
    tenants = principal.visible(dashboard.tenants())
    return "overview.html", {"summaries": dashboard.overview(tenants)}


def _tenant(
    dashboard: Dashboard, principal: Principal, params: Mapping[str, str], now: datetime | None
) -> Handled:
    given = _only(params, {"tenant", "profile", "page", "devicePage"})
    tenant = _visible_tenant(principal, given)
    profile = query_params.subject(given.get("profile"))
    summary, devices = dashboard.with_devices_at_risk(dashboard.summary(tenant))
    findings = [
        f for f in summary.findings if profile is None or f.scope_id == profile or (not f.scope_id)
    ]
    moment = now or datetime.now(UTC)
    return "tenant.html", {
        "tenant": tenant,
        "summary": summary,
        "profile": profile,
        "profile_name": next(
            (p.name for p in summary.profiles if p.profile_id == profile), profile
        ),
        "profile_row": next((p for p in summary.profiles if p.profile_id == profile), None),
        "findings": page_of(findings, _page_number(given.get("page")), FINDINGS_PAGE),
        "devices": devices,
        "at_risk": dashboard.at_risk_page(devices, profile, _page_number(given.get("devicePage"))),
        "chart": chart_svg(dashboard.chart(tenant, summary, moment)),
        "deployments": deployment_section(dashboard, tenant, moment),
        "per_scope": PER_SCOPE,
    }


def deployment_section(dashboard: Dashboard, tenant: str, now: datetime) -> dict[str, Any]:
    """Real pre-provisioning attempts of the last 30 days against the predictions."""
    from azure.core.exceptions import AzureError

    from monitors.deployments.accuracy import report
    from monitors.store.deployment_store import DeploymentStore

    try:
        return report(DeploymentStore.beside(dashboard.store), tenant, now)
    except AzureError as error:
        return {"error": f"the deployment record cannot be read ({type(error).__name__})"}


def _timeline(
    dashboard: Dashboard, principal: Principal, params: Mapping[str, str], now: datetime | None
) -> Handled:
    given = _only(
        params,
        {
            "tenant",
            "rule",
            "subject",
            "status",
            "actor",
            "since",
            "until",
            "continuation",
            "pageSize",
        },
    )
    tenant = _visible_tenant(principal, given)
    since = query_params.moment("since", given.get("since"))
    until = query_params.moment("until", given.get("until"))
    if since and until and since > until:
        raise BadRequest("since must not be after until")
    size = given.get("pageSize")
    page_size = query_params.page_size(size) if size else TIMELINE_PAGE_SIZE
    if page_size > MAX_TIMELINE_PAGE_SIZE:
        raise BadRequest(f"pageSize must be a whole number from 1 to {MAX_TIMELINE_PAGE_SIZE}")
    actor = query_params.actor(given.get("actor"))
    rule = query_params.rule(given.get("rule"))
    subject = query_params.subject(given.get("subject"))
    status = query_params.status(given.get("status"))
    continuation = query_params.continuation(given.get("continuation"))
    filters = {
        "tenant": tenant,
        "rule": rule or "",
        "subject": subject or "",
        "status": status or "",
        "actor": actor or "",
        "since": given.get("since", ""),
        "until": given.get("until", ""),
    }
    if actor is not None:
        changes, token = dashboard.changes(
            tenant,
            actor=actor,
            since=since,
            until=until,
            continuation=continuation,
            page_size=page_size,
        )
        # Rule, subject and status narrow the transitions listed under each change.
        shown = [
            (
                change,
                [
                    t
                    for t in change.transitions
                    if (rule is None or t.rule_id == rule)
                    and (subject is None or t.subject_id == subject)
                    and (status is None or t.to_status.value == status)
                ],
            )
            for change in changes
        ]
        values: dict[str, Any] = {"changes": shown, "entries": None}
    else:
        entries, token = dashboard.timeline(
            tenant,
            rule=rule,
            subject=subject,
            status=status,
            since=since,
            until=until,
            continuation=continuation,
            page_size=page_size,
        )
        values = {"entries": entries, "changes": None}
    return "timeline.html", {
        **values,
        "tenant": tenant,
        "filters": filters,
        "statuses": query_params.STATUSES,
        "next_token": token,
        "page_size": page_size,
    }


def _device(
    dashboard: Dashboard, principal: Principal, params: Mapping[str, str], now: datetime | None
) -> Handled:
    given = _only(params, {"tenant", "serial"})
    tenant = _visible_tenant(principal, given)
    serial = given.get("serial")
    if serial is not None and not SERIAL_PATTERN.fullmatch(serial):
        raise BadRequest("serial must be 1-128 printable characters")
    index, device = dashboard.device(tenant, serial) if serial else (None, None)
    return "device.html", {
        "tenant": tenant,
        "serial": serial or "",
        "index": index,
        "device": device,
        "Readiness": Readiness,
    }


_VIEW_HANDLERS = {"": _overview, "tenant": _tenant, "timeline": _timeline, "device": _device}


# -- the chart ----------------------------------------------------------------------------------

CHART_WIDTH: Final = 640
CHART_HEIGHT: Final = 160
_PAD = 36


@dataclass(frozen=True, slots=True)
class Chart:
    points: str  # the SVG polyline's points: numbers only
    top: int
    first: datetime
    last: datetime
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    pad: int = _PAD
    dots: tuple[tuple[float, float, int, str], ...] = ()


def chart_svg(points: Sequence[ChartPoint]) -> Chart:
    """Step line of the blocking findings; x is time, y the count (0 at the bottom)."""
    first, last = points[0].at, points[-1].at
    span = max((last - first).total_seconds(), 1.0)
    top = max(max(p.blocking for p in points), 1)
    inner_w, inner_h = CHART_WIDTH - 2 * _PAD, CHART_HEIGHT - 2 * _PAD

    def xy(point: ChartPoint) -> tuple[float, float]:
        x = _PAD + inner_w * (point.at - first).total_seconds() / span
        y = CHART_HEIGHT - _PAD - inner_h * point.blocking / top
        return round(x, 1), round(y, 1)

    coordinates = [xy(p) for p in points]
    dots = tuple((*xy(p), p.blocking, format_time(p.at)) for p in points[1:-1:2])
    return Chart(
        points=" ".join(f"{x},{y}" for x, y in coordinates),
        top=top,
        first=first,
        last=last,
        dots=dots,
    )
