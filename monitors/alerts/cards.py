"""Alert messages: Adaptive Cards for Teams, and the same content as a plain JSON payload.

Pure: alerts in, JSON-ready dicts out. A Teams message is the Workflows envelope around one
Adaptive Card 1.5 (what Teams renders). When many alerts for one tenant arrive together, they
become one digest card instead of a wall of cards. Text is bounded so a card stays well under
the ~28 KB a Teams message may carry.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from monitors.alerts.alert import (
    MAX_DIGEST_LINES,
    Alert,
    AlertKind,
    BlindCause,
    UnreadableCollection,
    alert_key,
    attestation_basis,
    collection_permission,
    unreadable_collection,
)
from monitors.alerts.links import ADMIN_CENTER, HistoryLinks, admin_center_url
from monitors.reports.safe_text import card_text, plain_text
from monitors.store.records import ChangeEvent, ModifiedProperty, StoredStatus, truncate
from rules.catalog import rule_by_id
from rules.findings import RuleMetadata, Severity

CARD_VERSION: Final = "1.5"
CARD_SCHEMA: Final = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_CONTENT_TYPE: Final = "application/vnd.microsoft.card.adaptive"
JSON_PAYLOAD_FORMAT: Final = "greenscreen.alerts/1"
# More cards than this for one tenant from one evaluation run become one digest card
# (`GREENSCREEN_ALERT_DIGEST_ABOVE`). One by default: one change (one run), one card; a run
# with a single alert keeps the full card with its reasons and fix.
DEFAULT_DIGEST_ABOVE: Final = 1
# Audit bookkeeping, not a change: Entra closes every update record with the list of the
# properties it touched.
NOISE_PROPERTIES: Final = frozenset({"included updated properties"})

MAX_TEXT = 600
MAX_TITLE = 160
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
    BlindCause.ATTESTATION: (
        "This verdict rests on an operator's attestation, not on Graph, and the attestation "
        "no longer holds (it expired, or the directory audit shows the policy changed since). "
        "Check the setting in the Entra admin center and attest it again in TENANTS "
        "(mdmScopeAttestation: value, attestedBy, attestedAt, expires)."
    ),
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
    """The messages for alerts that arrived together (one evaluation run), per tenant.

    Blind alerts caused by one unreadable collection make one card naming the collection and
    the permission or the outage; the other alerts make a card each. When that is still more
    than `digest_above` cards for a tenant, all of them become one digest card.
    """
    by_tenant: dict[str, list[Alert]] = {}
    for alert in alerts:
        by_tenant.setdefault(alert.tenant_id, []).append(alert)
    messages: list[OutgoingMessage] = []
    for tenant_id, group in by_tenant.items():
        blind_groups, singles = group_blind_alerts(group)
        if len(blind_groups) + len(singles) > digest_above:
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
        for collection, members in blind_groups.items():
            keys = tuple(alert.key for alert in members)
            body = (
                teams_message(blind_collection_card(collection, members, context))
                if payload_format is PayloadFormat.TEAMS
                else json_payload(members, context)
            )
            messages.append(
                OutgoingMessage(alert_key("blind", *sorted(keys)), tenant_id, keys, body)
            )
        for alert in singles:
            body = (
                teams_message(alert_card(alert, context))
                if payload_format is PayloadFormat.TEAMS
                else json_payload([alert], context)
            )
            messages.append(OutgoingMessage(alert.key, tenant_id, (alert.key,), body))
    return tuple(messages)


def group_blind_alerts(
    alerts: Sequence[Alert],
) -> tuple[dict[UnreadableCollection, list[Alert]], list[Alert]]:
    """Blind alerts of two or more verdicts per unreadable collection, and the rest."""
    by_collection: dict[UnreadableCollection, list[Alert]] = {}
    for alert in alerts:
        collection = unreadable_collection(alert) if alert.kind is AlertKind.BLIND else None
        if collection is not None:
            by_collection.setdefault(collection, []).append(alert)
    groups = {c: members for c, members in by_collection.items() if len(members) > 1}
    grouped = {alert.key for members in groups.values() for alert in members}
    return groups, [alert for alert in alerts if alert.key not in grouped]


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
                _text(card_title(alert, facts), weight="Bolder", size="Large"),
                _text(
                    f"{record.rule_id} · {_tenant_label(alert)}",
                    isSubtle=True,
                    spacing="None",
                ),
            ],
        },
        _text(_message_line(alert, facts)),
        {
            "type": "FactSet",
            "facts": [{"title": t, "value": v} for t, v in _facts(alert)],
        },
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


# What a new finding puts at stake, by severity: only a blocker or an error turns
# pre-provisioning red (the ESP fails, the technician sees a red screen).
_AT_STAKE: Final = {
    Severity.BLOCKER: "pre-provisioning will go red",
    Severity.ERROR: "pre-provisioning will go red",
    Severity.WARNING: "pre-provisioning still works, at a risk (below)",
    Severity.INFO: "for information, nothing breaks",
}


def headline(alert: Alert) -> str:
    """The first line of a card: severity word and what happened, readable at a glance."""
    word = SEVERITY_WORDS[alert.severity]
    if alert.kind is AlertKind.NEW_FAILURE:
        kind = "New failure" if alert.severity.at_least(Severity.ERROR) else "New finding"
        return f"{word} · {kind}: {_AT_STAKE[alert.severity]}"
    if alert.kind is AlertKind.RESOLVED:
        was = alert.transition.from_status
        origin = "unknown" if was is StoredStatus.UNKNOWN else "failing"
        return f"RESOLVED · was {origin} ({word.lower()})"
    return f"UNKNOWN · Monitor blind ({_blind_word(alert)}) · {word.lower()} rule"


def card_title(alert: Alert, facts: RuleFacts) -> str:
    """The title states what is true now: the problem on a failure (the verdict's message,
    which every rule writes for its failing case and which names the object), the rule's
    compliant condition once resolved, and what cannot be told while blind."""
    record = alert.transition.record
    if alert.kind is AlertKind.NEW_FAILURE and record.message:
        return card_text(_capitalised(record.message), MAX_TITLE)
    if alert.kind is AlertKind.BLIND:
        return f"Cannot tell: {card_text(facts.title)}"
    return card_text(facts.title)


def _message_line(alert: Alert, facts: RuleFacts) -> str:
    record = alert.transition.record
    if alert.kind is AlertKind.NEW_FAILURE and record.message:
        return f"Expected: {card_text(facts.title)}."
    return card_text(record.message, MAX_TEXT)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def cause_text(causes: Sequence[ChangeEvent]) -> str:
    if not causes:
        return "Cause unknown: no audit event was matched to this change."
    lines = []
    for event in causes[:MAX_CAUSES_SHOWN]:
        actor = event.actor_name or event.actor_id or "an unknown actor"
        kind = "app" if event.actor_type == "app" else "user"
        lines.append(
            f"**{card_text(actor)}** ({kind}) · {card_text(event.activity)} · "
            f"{card_text(event.resource_type)} {card_text(event.resource_id)} · {_when(event.at)}"
        )
        for prop in meaningful_properties(event.modified_properties)[:MAX_PROPERTIES_SHOWN]:
            old = card_text(truncate(_shown_value(prop.old_value), MAX_VALUE_TEXT))
            new = card_text(truncate(_shown_value(prop.new_value), MAX_VALUE_TEXT))
            lines.append(f"    {card_text(prop.name)}: {old} → {new}")
    if len(causes) > MAX_CAUSES_SHOWN:
        lines.append(f"… and {len(causes) - MAX_CAUSES_SHOWN} more changes")
    return "\n\n".join(lines)


def meaningful_properties(properties: Sequence[ModifiedProperty]) -> list[ModifiedProperty]:
    """The properties a change really modified: audit bookkeeping and unchanged values out."""
    return [
        prop
        for prop in properties
        if prop.name.strip().casefold() not in NOISE_PROPERTIES
        and _shown_value(prop.old_value) != _shown_value(prop.new_value)
    ]


def _shown_value(value: str | None) -> str:
    """Audit values are JSON text (`"\"Paused\""`, `"[]"`): a JSON string is shown unquoted."""
    if value is None or value == "":
        return "(empty)"
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        return value
    if isinstance(decoded, str):
        return decoded or "(empty)"
    return value


def _facts(alert: Alert) -> list[tuple[str, str]]:
    record = alert.transition.record
    transition = alert.transition
    was = transition.from_status.value if transition.from_status else "not reported"
    devices_label = "Devices in scope" if alert.kind is AlertKind.RESOLVED else "Devices at risk"
    facts = [
        ("Severity", SEVERITY_WORDS[alert.severity].capitalize()),
        ("Tenant", _tenant_label(alert)),
        (
            "Profile",
            card_text(record.scope_name or record.scope_id) or "all profiles (tenant-wide)",
        ),
        (devices_label, _devices(alert.devices_at_risk)),
        ("Object", _object_label(record.subject_type, record.subject_id, record.subject_name)),
        ("Status", f"{was} → {transition.to_status.value}"),
        ("When", _when(transition.at)),
    ]
    basis = attestation_basis(record.reasons)
    if basis is not None:
        # Not read from Graph: say so, with who attested and until when.
        facts.append(("Evidence", f"attested, not read: {card_text(basis)}"))
    return facts


def _actions(alert: Alert, context: CardContext) -> list[dict[str, Any]]:
    record = alert.transition.record
    actions = [
        _open_url(
            f"Open {plain_text(_short(record.subject_name or record.subject_type))} in Intune",
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
    unreadable = unreadable_collection(alert)
    needed = collection_permission(unreadable.path) if unreadable is not None else None
    permissions = needed or ", ".join(facts.permissions) or "see the rule's metadata"
    return _BLIND_ADVICE[cause].format(permissions=permissions) + (
        " Until then the verdict is UNKNOWN, never green."
    )


def _shown(alert: Alert) -> Iterable[Any]:
    return alert.involved[:MAX_INVOLVED_SHOWN]


def _reasons(reasons: Sequence[str]) -> list[str]:
    shown = [card_text(truncate(reason, MAX_REASON_TEXT)) for reason in reasons[:MAX_REASONS_SHOWN]]
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
    blind_groups, _ = group_blind_alerts(ordered)
    grouped = {alert.key for members in blind_groups.values() for alert in members}
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
    shown_count = 0
    for kind in _KIND_ORDER:
        group = [alert for alert in ordered if alert.kind is kind]
        if not group or lines_left <= 0:
            continue
        body.append(_heading(_KIND_WORDS[kind][1].capitalize()))
        lines: list[str] = []
        if kind is AlertKind.BLIND:
            # One line per unreadable collection, however many verdicts it made unknown.
            for collection, members in blind_groups.items():
                lines.append(_collection_line(collection, members))
                shown_count += len(members)
            group = [alert for alert in group if alert.key not in grouped]
        shown = group[: max(lines_left - len(lines), 0)]
        lines.extend(_digest_line(alert, context) for alert in shown)
        shown_count += len(shown)
        lines_left -= len(lines)
        body.append(_text(_bullets(lines)))
    hidden = len(ordered) - shown_count
    if hidden > 0:
        body.append(_text(f"… and {hidden} more: see the history.", isSubtle=True))
    lapsed = [a for a in ordered if a.blind_cause is BlindCause.ATTESTATION]
    if lapsed:
        # An attestation that no longer holds is a question to the operator: ask it here too.
        body.append(_heading("Why the monitor is blind: attestation lapsed"))
        why = next((r for r in lapsed[0].transition.record.reasons if "no longer holds" in r), "")
        body.append(_text(f"{card_text(why, MAX_TEXT)} {_BLIND_ADVICE[BlindCause.ATTESTATION]}"))
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
    where = f" · {card_text(_short(record.scope_name))}" if record.scope_name else ""
    devices = f" · {alert.devices_at_risk} devices" if alert.devices_at_risk else ""
    blind = f" · blind: {_blind_word(alert)}" if alert.kind is AlertKind.BLIND else ""
    return (
        f"{_KIND_MARKS[alert.kind]} {SEVERITY_WORDS[alert.severity]} {record.rule_id} "
        f"{card_text(_short(facts.title))} — "
        f"{card_text(_short(record.subject_name or record.subject_id))}"
        f"{where}{devices}{blind}"
    )


def _collection_line(collection: UnreadableCollection, members: Sequence[Alert]) -> str:
    rules = sorted({alert.transition.record.rule_id for alert in members})
    return (
        f"? {card_text(collection.path)} could not be read "
        f"({card_text(collection.problem)}): {len(members)} verdicts of {len(rules)} "
        f"rule{'s' if len(rules) != 1 else ''} unknown. {_collection_advice(collection)}"
    )


def _collection_advice(collection: UnreadableCollection) -> str:
    permission = collection_permission(collection.path)
    if collection.status in (401, 403):
        if permission is None:
            return "Grant the Graph permission that reads it."
        if "delegated" in permission:
            return (
                f"It needs {permission}, which an app-only identity cannot hold: attest the "
                "setting in TENANTS instead."
            )
        return f"Grant {permission} (application) to the app's identity, with admin consent."
    if collection.status == 429:
        return "Graph throttled the reads past the retry budget; the next reconcile reads again."
    if collection.status is not None and collection.status >= 500:
        return "Graph or Intune is failing (an outage); the next reconcile reads again."
    return "The next reconcile reads it again."


def blind_collection_card(
    collection: UnreadableCollection, members: Sequence[Alert], context: CardContext
) -> dict[str, Any]:
    """One card for every verdict one unreadable collection made unknown."""
    first = members[0]
    worst = max(members, key=lambda alert: alert.severity.rank)
    rules = sorted({alert.transition.record.rule_id for alert in members})
    cause = (
        "permission"
        if collection.status in (401, 403)
        else "throttling"
        if collection.status == 429
        else "outage"
        if collection.status is not None and collection.status >= 500
        else "unreadable"
    )
    body: list[dict[str, Any]] = [
        {
            "type": "Container",
            "style": _BLIND_STYLE[0],
            "bleed": True,
            "items": [
                _text(
                    f"UNKNOWN · Monitor blind ({cause}) · "
                    f"{SEVERITY_WORDS[worst.severity].lower()} rules",
                    weight="Bolder",
                    color=_BLIND_STYLE[1],
                    size="Medium",
                ),
                _text(f"Cannot read {card_text(collection.path)}", weight="Bolder", size="Large"),
                _text(_tenant_label(first), isSubtle=True, spacing="None"),
            ],
        },
        _text(
            f"Graph answered: {card_text(collection.problem)}. {len(members)} verdicts of "
            f"{len(rules)} rules are UNKNOWN until it can be read again, never green."
        ),
        {
            "type": "FactSet",
            "facts": [
                {"title": "Tenant", "value": _tenant_label(first)},
                {"title": "Collection", "value": card_text(collection.path)},
                {
                    "title": "Permission",
                    "value": collection_permission(collection.path) or "see the rule metadata",
                },
                {"title": "Verdicts unknown", "value": str(len(members))},
                {"title": "When", "value": _when(first.transition.at)},
            ],
        },
        _heading(f"Why the monitor is blind: {cause}"),
        _text(_collection_advice(collection)),
        _heading("Rules affected"),
        _text(
            _bullets(
                f"{rule_id} {card_text(_short(context.rule_facts(rule_id).title))}"
                for rule_id in rules[:MAX_DIGEST_LINES]
            )
            + (
                f"\r- … and {len(rules) - MAX_DIGEST_LINES} more"
                if len(rules) > MAX_DIGEST_LINES
                else ""
            )
        ),
    ]
    actions = [
        _open_url("Show tenant history", context.history.history_url(first.tenant_id)),
        _open_url("Open Intune admin center", ADMIN_CENTER),
    ]
    return _card(body, actions)


def _actor_summary(alerts: Sequence[Alert]) -> str:
    actors: Counter[str] = Counter()
    unknown = 0
    for alert in alerts:
        if not alert.causes:
            unknown += 1 if alert.kind is not AlertKind.BLIND else 0
            continue
        for name in {event.actor_name or event.actor_id for event in alert.causes}:
            actors[name] += 1
    parts = [f"{card_text(name)} ({count})" for name, count in actors.most_common(5)]
    if unknown:
        parts.append(f"cause unknown ({unknown})")
    return "Changes by: " + ", ".join(parts) if parts else "No changes were matched."


# -- the generic JSON payload -----------------------------------------------------------------


def json_payload(alerts: Sequence[Alert], context: CardContext) -> dict[str, Any]:
    """The same content for receivers that are not Teams: data, no layout."""
    document: dict[str, Any] = _without_controls(
        {
            "format": JSON_PAYLOAD_FORMAT,
            "tenantId": alerts[0].tenant_id if alerts else "",
            "alerts": [alert_document(alert, context) for alert in alerts],
        }
    )
    return document


def _without_controls(value: Any) -> Any:
    """JSON data keeps tenant text as it is, minus what cannot be sent or shown safely
    (control characters, bidi overrides, lone surrogates that UTF-8 cannot carry)."""
    if isinstance(value, str):
        return plain_text(value)
    if isinstance(value, dict):
        return {key: _without_controls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_controls(item) for item in value]
    return value


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
        return f"{card_text(alert.tenant_name)} ({card_text(alert.tenant_id)})"
    return card_text(alert.tenant_id)


def _object_label(subject_type: str, subject_id: str, name: str) -> str:
    if name and name != subject_id:
        return f"{card_text(subject_type)} '{card_text(_short(name))}' ({card_text(subject_id)})"
    return f"{card_text(subject_type)} {card_text(subject_id)}"


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


# -- a real deployment failure ------------------------------------------------------------------
# The card of a failed pre-provisioning attempt (monitors.deployments): what failed, and what
# Greenscreen had said about that device's profile at the time. Its input is the stored
# assessment document (docs/deployments.md), so this module needs nothing from the poller.

DEPLOYMENT_FAILURE_KIND: Final = "deployment_failure"


def deployment_failure_sentence(document: Mapping[str, Any]) -> str:
    """ "Device 5CG… failed in device setup: app X, error 0x…; Greenscreen has reported …"."""
    device = str(document.get("serialNumber") or document.get("deviceName") or "unknown")
    phase = str(document.get("phase") or "deployment")
    failing = [f for f in document.get("failing") or () if isinstance(f, Mapping)]
    what = "; ".join(
        f"{'policy' if f.get('policyType') == 'configurationPolicy' else 'app'} "
        f"{f.get('name')}" + (f", error {f.get('errorCode')}" if f.get("errorCode") else "")
        for f in failing[:3]
    ) or str(document.get("failureDetails") or "no failing app or policy reported")
    return f"Device {device} failed in {phase}: {what}. {deployment_verdict_sentence(document)}"


def deployment_verdict_sentence(document: Mapping[str, Any]) -> str:
    """What Greenscreen had said at the time of the attempt, in one sentence."""
    category = str(document.get("category") or "")
    predictions = [p for p in document.get("predictions") or () if isinstance(p, Mapping)]
    profile = str(document.get("profile") or "its profile")
    if category == "not_covered":
        return f"Greenscreen had no verdict for profile {profile} at that time."
    if category == "unexplained":
        return (
            f"No Greenscreen rule explains it: profile {profile} was reported ready at that "
            "time (a blind spot of the catalog)."
        )
    if not predictions:
        return ""
    first = predictions[0]
    subject = first.get("subject")
    name = (
        str(subject.get("displayName") or subject.get("id") or "")
        if isinstance(subject, Mapping)
        else ""
    )
    since = str(first.get("since") or "")[:10]
    text = f"Greenscreen has reported {first.get('ruleId')} on {name}"
    text += f" since {since}" if since else ""
    text += f", after a change by {first.get('actor')}" if first.get("actor") else ""
    if category == "predicted":
        text += ", but no rule names what failed"
    others = len(predictions) - 1
    return text + (f" (and {others} more finding{'s' if others != 1 else ''})." if others else ".")


def deployment_failure_card(document: Mapping[str, Any], tenant_label: str) -> dict[str, Any]:
    """The Adaptive Card of one failed pre-provisioning attempt."""
    category = str(document.get("category") or "")
    title = {
        "explained": "Pre-provisioning failed where Greenscreen predicted it",
        "predicted": "Pre-provisioning failed on a profile Greenscreen reported",
        "unexplained": "Pre-provisioning failed: no rule explains it",
    }.get(category, "Pre-provisioning failed")
    facts = [
        ("Tenant", tenant_label),
        ("Device", str(document.get("serialNumber") or "")),
        ("Profile", str(document.get("profile") or "")),
        ("ESP", str(document.get("esp") or "")),
        ("Ended", str(document.get("at") or "")),
    ]
    body: list[dict[str, Any]] = [
        _text(card_text(title), weight="Bolder", size="Medium", color="Attention"),
        _text(card_text(deployment_failure_sentence(document))),
        {
            "type": "FactSet",
            "facts": [{"title": t, "value": card_text(v)} for t, v in facts if v],
        },
    ]
    predictions = [p for p in document.get("predictions") or () if isinstance(p, Mapping)]
    if predictions:
        body.append(_heading("What Greenscreen said at that time"))
        body.append(
            _text(
                card_text(
                    _bullets(
                        f"{p.get('ruleId')} ({p.get('severity')}) on "
                        f"{(p.get('subject') or {}).get('displayName', '')}"
                        + (f" since {str(p.get('since'))[:16]}" if p.get("since") else "")
                        + (f", after a change by {p.get('actor')}" if p.get("actor") else "")
                        for p in predictions[:5]
                    )
                )
            )
        )
    return _card(body, [])
