"""Alert messages: Adaptive Cards for Teams, and the same content as a plain JSON payload.

Pure: alerts in, JSON-ready dicts out. A Teams message is the Workflows envelope around one
Adaptive Card 1.5 (what Teams renders). When many alerts for one tenant arrive together, they
become one digest card instead of a wall of cards. Text is bounded so a card stays well under
the ~28 KB a Teams message may carry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from monitors.alerts.alert import MAX_DIGEST_LINES, Alert, AlertKind, BlindCause, alert_key
from monitors.alerts.links import ADMIN_CENTER, HistoryLinks, admin_center_url
from monitors.store.records import ChangeEvent, StoredStatus, truncate
from rules.catalog import rule_by_id
from rules.findings import RuleMetadata, Severity

CARD_VERSION: Final = "1.5"
CARD_SCHEMA: Final = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_CONTENT_TYPE: Final = "application/vnd.microsoft.card.adaptive"
JSON_PAYLOAD_FORMAT: Final = "greenscreen.alerts/1"
# More alerts than this for one tenant at once become one digest card.
DEFAULT_DIGEST_ABOVE: Final = 5

MAX_TEXT = 600
MAX_REASONS_SHOWN = 3
MAX_REASON_TEXT = 300
MAX_CAUSES_SHOWN = 3
MAX_PROPERTIES_SHOWN = 5
MAX_VALUE_TEXT = 120
MAX_INVOLVED_SHOWN = 8

SEVERITY_WORDS: Final = {
    Severity.BLOCKER: "BLOCKER",
    Severity.ERROR: "ERROR",
    Severity.WARNING: "WARNING",
    Severity.INFO: "INFO",
}
# Adaptive Card container styles and text colours (Teams themes them, light or dark).
_FAILURE_STYLE: Final = {
    Severity.BLOCKER: ("attention", "attention"),
    Severity.ERROR: ("attention", "attention"),
    Severity.WARNING: ("warning", "warning"),
    Severity.INFO: ("emphasis", "accent"),
}
_RESOLVED_STYLE: Final = ("good", "good")
_BLIND_STYLE: Final = ("warning", "warning")

_BLIND_ADVICE: Final = {
    BlindCause.PERMISSION: (
        "Grant the Graph permission(s) this rule needs to the Function app's managed identity "
        "(admin consent), or check that the API is not delegated-only: {permissions}."
    ),
    BlindCause.THROTTLING: (
        "Graph throttled the reads past the retry budget. The next reconcile reads again; if "
        "this repeats, another app may be using this tenant's Intune request quota."
    ),
    BlindCause.OUTAGE: (
        "Graph or Intune answered with server errors or timeouts. Check the Microsoft 365 "
        "service health page; the next reconcile reads again."
    ),
    BlindCause.MISSING_DATA: "The data this rule needs was not read. Run a full reconcile.",
    BlindCause.RULE_ERROR: "The rule itself failed. This is a Greenscreen bug: report it.",
    BlindCause.OTHER: "Check the reasons below; the next reconcile reads again.",
}


class PayloadFormat(StrEnum):
    TEAMS = "teams"  # Teams Workflows webhook: an Adaptive Card in a message envelope
    JSON = "json"  # any other receiver: plain JSON with the same content


@dataclass(frozen=True, slots=True)
class RuleFacts:
    """What a card says about a rule, from the catalog (or a stand-in for unknown ids)."""

    title: str
    remediation: str
    permissions: tuple[str, ...] = ()
    references: tuple[str, ...] = ()


def catalog_rule_facts(rule_id: str) -> RuleFacts:
    try:
        metadata: RuleMetadata = rule_by_id(rule_id).metadata
    except KeyError:
        return RuleFacts(title=rule_id, remediation="See the rule's documentation.")
    return RuleFacts(
        title=metadata.title,
        remediation=metadata.remediation,
        permissions=metadata.permissions,
        references=metadata.references,
    )


@dataclass(frozen=True, slots=True)
class CardContext:
    history: HistoryLinks
    rule_facts: Callable[[str], RuleFacts] = catalog_rule_facts


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One POST body for one destination, with the identity of the alerts it carries."""

    key: str  # idempotency key: the alert's key, or one derived from a digest's alerts
    tenant_id: str
    alert_keys: tuple[str, ...]
    body: dict[str, Any]


def compose_messages(
    alerts: Sequence[Alert],
    context: CardContext,
    payload_format: PayloadFormat = PayloadFormat.TEAMS,
    *,
    digest_above: int = DEFAULT_DIGEST_ABOVE,
) -> tuple[OutgoingMessage, ...]:
    """One message per alert, or one digest per tenant with more than `digest_above` alerts."""
    by_tenant: dict[str, list[Alert]] = {}
    for alert in alerts:
        by_tenant.setdefault(alert.tenant_id, []).append(alert)
    messages: list[OutgoingMessage] = []
    for tenant_id, group in by_tenant.items():
        if len(group) > digest_above:
            keys = tuple(alert.key for alert in group)
            body = (
                teams_message(digest_card(group, context))
                if payload_format is PayloadFormat.TEAMS
                else json_payload(group, context)
            )
            messages.append(
                OutgoingMessage(alert_key("digest", *sorted(keys)), tenant_id, keys, body)
            )
            continue
        for alert in group:
            body = (
                teams_message(alert_card(alert, context))
                if payload_format is PayloadFormat.TEAMS
                else json_payload([alert], context)
            )
            messages.append(OutgoingMessage(alert.key, tenant_id, (alert.key,), body))
    return tuple(messages)


def teams_message(card: dict[str, Any]) -> dict[str, Any]:
    """The body a Teams Workflows webhook ("When a Teams webhook request is received") takes."""
    return {
        "type": "message",
        "attachments": [
            {"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
        ],
    }


# -- one alert --------------------------------------------------------------------------------


def alert_card(alert: Alert, context: CardContext) -> dict[str, Any]:
    record = alert.transition.record
    facts = context.rule_facts(record.rule_id)
    style, colour = _style(alert)
    body: list[dict[str, Any]] = [
        {
            "type": "Container",
            "style": style,
            "bleed": True,
            "items": [
                _text(headline(alert), weight="Bolder", color=colour, size="Medium"),
                _text(facts.title, weight="Bolder", size="Large"),
                _text(f"{record.rule_id} · {_tenant_label(alert)}", isSubtle=True, spacing="None"),
            ],
        },
        _text(truncate(record.message, MAX_TEXT)),
        {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in _facts(alert)]},
    ]
    if alert.involved:
        body.append(_heading("Objects involved"))
        body.append(
            _text(_bullets(_object_label(o.type, o.id, o.display_name) for o in _shown(alert)))
        )
    if alert.kind is AlertKind.BLIND:
        body.append(_heading(f"Why the monitor is blind: {_blind_word(alert)}"))
        body.append(_text(_blind_advice(alert, facts)))
    else:
        body.append(_heading("What changed"))
        body.append(_text(cause_text(alert.causes)))
    if record.reasons:
        body.append(_heading("Reasons"))
        body.append(_text(_bullets(_reasons(record.reasons))))
    if alert.kind is AlertKind.NEW_FAILURE:
        body.append(_heading("How to fix"))
        body.append(_text(truncate(facts.remediation, MAX_TEXT)))
    elif alert.kind is AlertKind.RESOLVED:
        body.append(_text("No action needed.", isSubtle=True))
    return _card(body, _actions(alert, context))


def headline(alert: Alert) -> str:
    """The first line of a card: severity word and what happened, readable at a glance."""
    word = SEVERITY_WORDS[alert.severity]
    if alert.kind is AlertKind.NEW_FAILURE:
        return f"{word} · New failure: pre-provisioning will go red"
    if alert.kind is AlertKind.RESOLVED:
        was = alert.transition.from_status
        origin = "unknown" if was is StoredStatus.UNKNOWN else "failing"
        return f"RESOLVED · was {origin} ({word.lower()})"
    return f"UNKNOWN · Monitor blind ({_blind_word(alert)}) · {word.lower()} rule"


def cause_text(causes: Sequence[ChangeEvent]) -> str:
    if not causes:
        return "Cause unknown: no audit event was matched to this change."
    lines = []
    for event in causes[:MAX_CAUSES_SHOWN]:
        actor = event.actor_name or event.actor_id or "an unknown actor"
        kind = "app" if event.actor_type == "app" else "user"
        lines.append(
            f"**{actor}** ({kind}) · {event.activity} · {event.resource_type} "
            f"{event.resource_id} · {_when(event.at)}"
        )
        for prop in event.modified_properties[:MAX_PROPERTIES_SHOWN]:
            old = truncate(prop.old_value or "(empty)", MAX_VALUE_TEXT)
            new = truncate(prop.new_value or "(empty)", MAX_VALUE_TEXT)
            lines.append(f"    {prop.name}: {old} → {new}")
    if len(causes) > MAX_CAUSES_SHOWN:
        lines.append(f"… and {len(causes) - MAX_CAUSES_SHOWN} more changes")
    return "\n\n".join(lines)


def _facts(alert: Alert) -> list[tuple[str, str]]:
    record = alert.transition.record
    transition = alert.transition
    was = transition.from_status.value if transition.from_status else "not reported"
    devices_label = "Devices in scope" if alert.kind is AlertKind.RESOLVED else "Devices at risk"
    return [
        ("Severity", SEVERITY_WORDS[alert.severity].capitalize()),
        ("Tenant", _tenant_label(alert)),
        ("Profile", record.scope_name or record.scope_id or "all profiles (tenant-wide)"),
        (devices_label, _devices(alert.devices_at_risk)),
        ("Object", _object_label(record.subject_type, record.subject_id, record.subject_name)),
        ("Status", f"{was} → {transition.to_status.value}"),
        ("When", _when(transition.at)),
    ]


def _actions(alert: Alert, context: CardContext) -> list[dict[str, Any]]:
    record = alert.transition.record
    actions = [
        _open_url(
            f"Open {_short(record.subject_name or record.subject_type)} in Intune",
            admin_center_url(record.subject_type, record.subject_id),
        )
    ]
    if record.scope_id and record.subject_type != "autopilotProfile":
        actions.append(
            _open_url(
                "Open the Autopilot profile", admin_center_url("autopilotProfile", record.scope_id)
            )
        )
    actions.append(
        _open_url(
            "Show history",
            context.history.history_url(alert.tenant_id, record.rule_id, record.subject_id),
        )
    )
    return actions


def _style(alert: Alert) -> tuple[str, str]:
    if alert.kind is AlertKind.RESOLVED:
        return _RESOLVED_STYLE
    if alert.kind is AlertKind.BLIND:
        return _BLIND_STYLE
    return _FAILURE_STYLE[alert.severity]


def _blind_word(alert: Alert) -> str:
    return str(alert.blind_cause or BlindCause.OTHER)


def _blind_advice(alert: Alert, facts: RuleFacts) -> str:
    cause = alert.blind_cause or BlindCause.OTHER
    permissions = ", ".join(facts.permissions) or "see the rule's metadata"
    return _BLIND_ADVICE[cause].format(permissions=permissions) + (
        " Until then the verdict is UNKNOWN, never green."
    )


def _shown(alert: Alert) -> Iterable[Any]:
    return alert.involved[:MAX_INVOLVED_SHOWN]


def _reasons(reasons: Sequence[str]) -> list[str]:
    shown = [truncate(reason, MAX_REASON_TEXT) for reason in reasons[:MAX_REASONS_SHOWN]]
    if len(reasons) > MAX_REASONS_SHOWN:
        shown.append(f"… and {len(reasons) - MAX_REASONS_SHOWN} more (see history)")
    return shown


# -- many alerts at once ----------------------------------------------------------------------

_KIND_ORDER: Final = (AlertKind.NEW_FAILURE, AlertKind.BLIND, AlertKind.RESOLVED)
_KIND_WORDS: Final = {
    AlertKind.NEW_FAILURE: ("new failure", "new failures"),
    AlertKind.BLIND: ("unknown (monitor blind)", "unknown (monitor blind)"),
    AlertKind.RESOLVED: ("resolved", "resolved"),
}
_KIND_MARKS: Final = {AlertKind.NEW_FAILURE: "✗", AlertKind.BLIND: "?", AlertKind.RESOLVED: "✓"}


def digest_card(alerts: Sequence[Alert], context: CardContext) -> dict[str, Any]:
    """One card for many alerts of one tenant: counts, the worst first, who changed what."""
    ordered = sorted(alerts, key=_digest_order)
    first = ordered[0]
    counts = Counter(alert.kind for alert in ordered)
    worst = ordered[0]
    style, colour = _style(worst)
    summary = " · ".join(
        f"{counts[kind]} {_KIND_WORDS[kind][counts[kind] != 1]}"
        for kind in _KIND_ORDER
        if counts[kind]
    )
    body: list[dict[str, Any]] = [
        {
            "type": "Container",
            "style": style,
            "bleed": True,
            "items": [
                _text(
                    f"{len(ordered)} readiness changes · {_tenant_label(first)}",
                    weight="Bolder",
                    size="Large",
                ),
                _text(summary, color=colour, weight="Bolder", spacing="None"),
            ],
        }
    ]
    lines_left = MAX_DIGEST_LINES
    for kind in _KIND_ORDER:
        group = [alert for alert in ordered if alert.kind is kind]
        if not group or lines_left <= 0:
            continue
        body.append(_heading(_KIND_WORDS[kind][1].capitalize()))
        shown = group[:lines_left]
        lines_left -= len(shown)
        body.append(_text(_bullets(_digest_line(alert, context) for alert in shown)))
    hidden = len(ordered) - (MAX_DIGEST_LINES - max(lines_left, 0))
    if hidden > 0:
        body.append(_text(f"… and {hidden} more: see the history.", isSubtle=True))
    body.append(_heading("What changed"))
    body.append(_text(_actor_summary(ordered)))
    actions = [
        _open_url("Show tenant history", context.history.history_url(first.tenant_id)),
        _open_url("Open Intune admin center", ADMIN_CENTER),
    ]
    return _card(body, actions)


def _digest_order(alert: Alert) -> tuple[int, int, str, str]:
    record = alert.transition.record
    return (
        _KIND_ORDER.index(alert.kind),
        -alert.severity.rank,
        record.rule_id,
        record.subject_name,
    )


def _digest_line(alert: Alert, context: CardContext) -> str:
    record = alert.transition.record
    facts = context.rule_facts(record.rule_id)
    where = f" [{_short(record.scope_name)}]" if record.scope_name else ""
    devices = f" · {alert.devices_at_risk} devices" if alert.devices_at_risk else ""
    return (
        f"{_KIND_MARKS[alert.kind]} {SEVERITY_WORDS[alert.severity]} {record.rule_id} "
        f"{_short(facts.title)} — {_short(record.subject_name or record.subject_id)}"
        f"{where}{devices}"
    )


def _actor_summary(alerts: Sequence[Alert]) -> str:
    actors: Counter[str] = Counter()
    unknown = 0
    for alert in alerts:
        if not alert.causes:
            unknown += 1 if alert.kind is not AlertKind.BLIND else 0
            continue
        for name in {event.actor_name or event.actor_id for event in alert.causes}:
            actors[name] += 1
    parts = [f"{name} ({count})" for name, count in actors.most_common(5)]
    if unknown:
        parts.append(f"cause unknown ({unknown})")
    return "Changes by: " + ", ".join(parts) if parts else "No changes were matched."


# -- the generic JSON payload -----------------------------------------------------------------


def json_payload(alerts: Sequence[Alert], context: CardContext) -> dict[str, Any]:
    """The same content for receivers that are not Teams: data, no layout."""
    return {
        "format": JSON_PAYLOAD_FORMAT,
        "tenantId": alerts[0].tenant_id if alerts else "",
        "alerts": [alert_document(alert, context) for alert in alerts],
    }


def alert_document(alert: Alert, context: CardContext) -> dict[str, Any]:
    record = alert.transition.record
    facts = context.rule_facts(record.rule_id)
    blind = alert.blind_cause
    return {
        "key": alert.key,
        "kind": alert.kind.value,
        "headline": headline(alert),
        "severity": alert.severity.value,
        "rule": {"id": record.rule_id, "title": facts.title, "version": record.rule_version},
        "tenant": {"id": alert.tenant_id, "name": alert.tenant_name or None},
        "profile": {"id": record.scope_id, "displayName": record.scope_name}
        if record.scope_id
        else None,
        "devicesAtRisk": alert.devices_at_risk,
        "subject": {
            "type": record.subject_type,
            "id": record.subject_id,
            "displayName": record.subject_name,
        },
        "involved": [
            {"type": item.type, "id": item.id, "displayName": item.display_name}
            for item in alert.involved
        ],
        "from": alert.transition.from_status.value if alert.transition.from_status else None,
        "to": alert.transition.to_status.value,
        "at": alert.transition.at.isoformat(),
        "message": record.message,
        "reasons": list(record.reasons),
        "blindCause": blind.value if blind else None,
        "causes": [event.as_json() for event in alert.causes],
        "causeUnknown": not alert.causes,
        "remediation": facts.remediation,
        "links": {
            "adminCenter": admin_center_url(record.subject_type, record.subject_id),
            "history": context.history.history_url(
                alert.tenant_id, record.rule_id, record.subject_id
            ),
        },
    }


# -- small builders ---------------------------------------------------------------------------


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
        "actions": actions,
    }


def _text(text: str, **properties: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **properties}


def _heading(text: str) -> dict[str, Any]:
    return _text(text, weight="Bolder", spacing="Medium", separator=True)


def _open_url(title: str, url: str) -> dict[str, Any]:
    return {"type": "Action.OpenUrl", "title": title, "url": url}


def _bullets(lines: Iterable[str]) -> str:
    # Teams renders "- " lines separated by "\r" as a list inside one TextBlock.
    return "\r".join(f"- {line}" for line in lines)


def _tenant_label(alert: Alert) -> str:
    if alert.tenant_name:
        return f"{alert.tenant_name} ({alert.tenant_id})"
    return alert.tenant_id


def _object_label(subject_type: str, subject_id: str, name: str) -> str:
    if name and name != subject_id:
        return f"{subject_type} '{_short(name)}' ({subject_id})"
    return f"{subject_type} {subject_id}"


def _devices(count: int | None) -> str:
    if count is None:
        return "not known"
    return f"{count} registered Autopilot device{'s' if count != 1 else ''}"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(moment: datetime) -> str:
    if moment.tzinfo is None:  # naive times in records are UTC by the store's convention
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
