"""What an operator attests where the monitor's identity cannot read: the MDM user scope.

Graph serves `policies/mobileDeviceManagementPolicies` to delegated callers only, so a monitor
deployed with its managed identity (app-only) never reads it: ENR-001 and ENR-003 would stay
UNKNOWN forever. A per-tenant attestation in `TENANTS` (`mdmScopeAttestation`) says what an
admin saw in the Entra admin center, who they are, when, and until when it holds:

    {"mdmUserScope": "all|selected|none", "otherMdmApps": "none|active" (optional),
     "attestedBy": "jane.admin@contoso.com", "attestedAt": "2026-11-20T10:00:00Z",
     "expires": "2027-02-18T00:00:00Z"}

It is used only while it holds: not after `expires`, and not once the directory audit shows a
change of the MDM policy after `attestedAt` (`mdm_policy_change_since`). Then the rules are
given no attested value and a reason to re-attest, so the verdicts turn UNKNOWN and the
alert asks for a new attestation. A verdict that rests on an attestation says so in its
reasons ("the operator attests …"), which readiness, history and cards show as attested.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from monitors.store.keys import format_time, parse_time
from rules.context import OperatorSettings

if TYPE_CHECKING:
    from monitors.store.records import ChangeEvent
    from monitors.store.verdict_store import VerdictStore

ATTESTATION_KEY: Final = "mdmScopeAttestation"
SCOPES: Final = ("all", "selected", "none")
OTHER_MDM_APPS: Final = ("none", "active")
MAX_ATTESTATION_DAYS: Final = 366  # attest again at least once a year
MAX_ACTOR_CHARS: Final = 200
# The change events looked at for an MDM policy change since the attestation (newest first).
MAX_CHANGE_PAGES: Final = 5
CHANGE_PAGE_SIZE: Final = 1000
# The Intune MDM application's id: also the id its MDM policy is listed (and audited) under.
INTUNE_MDM_APP_ID: Final = "0000000a-0000-0000-c000-000000000000"
_MDM_POLICY_WORDS: Final = re.compile(
    r"mobile ?device ?management ?polic|mobility ?management ?polic|\bmdm\b", re.I
)
_ATTESTED: Final = re.compile(r"^the operator attests (?P<basis>.+)$", re.S)
_PRINTABLE_ACTOR: Final = re.compile(r"[^\x00-\x1f\x7f-\x9f]{1,200}")


class AttestationError(ValueError):
    """A malformed attestation; the message names the field, never echoes the value."""


@dataclass(frozen=True, slots=True)
class MdmAttestation:
    mdm_user_scope: str
    attested_by: str
    attested_at: datetime
    expires: datetime
    other_mdm_apps: str | None = None  # "none": Intune is the only active MDM application

    def basis(self) -> str:
        return (
            f"by {self.attested_by} on {format_time(self.attested_at)[:10]}, "
            f"expires {format_time(self.expires)[:10]}"
        )

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "mdmUserScope": self.mdm_user_scope,
            "attestedBy": self.attested_by,
            "attestedAt": format_time(self.attested_at),
            "expires": format_time(self.expires),
        }
        if self.other_mdm_apps is not None:
            document["otherMdmApps"] = self.other_mdm_apps
        return document


def parse_attestation(value: Any, where: str) -> MdmAttestation:
    """`TENANTS[i].mdmScopeAttestation`, validated."""
    if not isinstance(value, Mapping):
        raise AttestationError(f"{where} must be an object")
    known = {"mdmUserScope", "otherMdmApps", "attestedBy", "attestedAt", "expires"}
    unknown = set(value) - known
    if unknown:
        raise AttestationError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    scope = value.get("mdmUserScope")
    if not isinstance(scope, str) or scope.casefold() not in SCOPES:
        raise AttestationError(f"{where}.mdmUserScope must be one of {', '.join(SCOPES)}")
    other = value.get("otherMdmApps")
    if other is not None and (not isinstance(other, str) or other.casefold() not in OTHER_MDM_APPS):
        raise AttestationError(f"{where}.otherMdmApps must be one of {', '.join(OTHER_MDM_APPS)}")
    actor = value.get("attestedBy")
    if not isinstance(actor, str) or not _PRINTABLE_ACTOR.fullmatch(actor.strip()):
        raise AttestationError(
            f"{where}.attestedBy must name who attests (1-{MAX_ACTOR_CHARS} printable characters)"
        )
    attested_at = _time(value.get("attestedAt"), f"{where}.attestedAt")
    expires = _time(value.get("expires"), f"{where}.expires")
    if not attested_at < expires <= attested_at + timedelta(days=MAX_ATTESTATION_DAYS):
        raise AttestationError(
            f"{where}.expires must be after attestedAt and at most "
            f"{MAX_ATTESTATION_DAYS} days later"
        )
    return MdmAttestation(
        scope.casefold(),
        actor.strip(),
        attested_at,
        expires,
        other.casefold() if isinstance(other, str) else None,
    )


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise AttestationError(f"{where} must be an ISO 8601 UTC time")
    try:
        return parse_time(value)
    except ValueError:
        raise AttestationError(f"{where} must be an ISO 8601 UTC time") from None


def is_mdm_policy_change(event: ChangeEvent) -> bool:
    """Whether a recorded change event (directory audit) touched an MDM policy."""
    if event.resource_id.lower() == INTUNE_MDM_APP_ID:
        return True
    text = f"{event.activity} {event.resource_type}"
    return bool(_MDM_POLICY_WORDS.search(text))


def mdm_policy_change_since(
    store: VerdictStore, tenant_id: str, since: datetime, now: datetime
) -> ChangeEvent | None:
    """The latest recorded MDM policy change after `since`, if any (newest first, bounded)."""
    continuation = None
    for _ in range(MAX_CHANGE_PAGES):
        page = store.changes(
            tenant_id,
            since=since,
            until=now + timedelta(minutes=10),
            continuation=continuation,
            page_size=CHANGE_PAGE_SIZE,
        )
        for item in page.items:
            if item.event.at > since and is_mdm_policy_change(item.event):
                return item.event
        continuation = page.continuation
        if continuation is None:
            break
    return None


def operator_settings(
    attestation: MdmAttestation | None, now: datetime, changed: ChangeEvent | None = None
) -> OperatorSettings:
    """What the rules are told: the attested values while they hold, else why they do not."""
    if attestation is None:
        return OperatorSettings()
    if now >= attestation.expires:
        return OperatorSettings(
            mdm_attestation_lapsed=(
                f"the MDM scope attestation no longer holds: it expired on "
                f"{format_time(attestation.expires)[:10]} ({attestation.basis()}); "
                "check the MDM user scope and attest it again"
            )
        )
    if changed is not None:
        who = changed.actor_name or changed.actor_id or "an unknown actor"
        return OperatorSettings(
            mdm_attestation_lapsed=(
                f"the MDM scope attestation no longer holds: the directory audit shows "
                f"'{changed.activity}' by {who} on {format_time(changed.at)[:16]}Z, after it "
                f"was attested ({attestation.basis()}); check the MDM user scope and attest "
                "it again"
            )
        )
    return OperatorSettings(
        attested_mdm_user_scope=attestation.mdm_user_scope,
        attested_other_mdm_apps=attestation.other_mdm_apps,
        mdm_attestation_basis=attestation.basis(),
    )


def operator_settings_for_tenant(
    attestation: MdmAttestation | None,
    store: VerdictStore,
    tenant_id: str,
    now: datetime | None = None,
) -> OperatorSettings:
    """`operator_settings` with the store asked for MDM policy changes since the attestation
    (only when there is one that has not expired)."""
    moment = now or datetime.now(UTC)
    if attestation is None or moment >= attestation.expires:
        return operator_settings(attestation, moment)
    changed = mdm_policy_change_since(store, tenant_id, attestation.attested_at, moment)
    return operator_settings(attestation, moment, changed)


def attested_basis(reasons: Iterable[str]) -> str | None:
    """What an operator attested (value, who, when, expiry) when a verdict rests on it."""
    for reason in reasons:
        match = _ATTESTED.match(str(reason).strip())
        if match is not None:
            return match["basis"]
    return None
