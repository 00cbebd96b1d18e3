"""How one profile's verdict is made from its own and the tenant-wide verdicts: one rule for
every place that shows a profile (`greenscreen check` reports, the dashboard, its summary).

A pre-provisioning profile's verdict counts its own findings and the tenant-wide ones (a
tenant-wide blocker stops every profile). A profile that does not allow pre-provisioning is
not used for pre-provisioning: its verdict is its own findings' alone, and with none failing
or unknown it is not judged at all. When it is not known whether a profile allows
pre-provisioning, its verdict is the one both answers give, and unknown where they differ
(never green on a guess). A RED verdict names the failing rules behind it, worst first.

Pure: plain values in, plain values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final

from rules.device_readiness import Readiness
from rules.findings import Severity

if TYPE_CHECKING:
    from rules.snapshot_model import TenantSnapshot

NOT_USED: Final = "not used for pre-provisioning"
NOT_KNOWN: Final = "whether it allows pre-provisioning is not known"
TENANT_WIDE: Final = " (tenant-wide)"

_WORSE = {Readiness.RED: 2, Readiness.UNKNOWN: 1, Readiness.GREEN: 0}


def worse(one: Readiness, other: Readiness) -> Readiness:
    return one if _WORSE[one] >= _WORSE[other] else other


def profile_readiness(
    own: Readiness, tenant_wide: Readiness, preprovisioning: bool | None
) -> Readiness:
    """The profile's verdict: its own and the tenant-wide one when it allows pre-provisioning,
    its own alone when it does not; when that is not known (None), the verdict both give, or
    unknown where they differ."""
    if preprovisioning is True:
        return worse(own, tenant_wide)
    if preprovisioning is False:
        return own
    combined = worse(own, tenant_wide)
    return combined if combined is own else Readiness.UNKNOWN


def red_by_rules(worst_failing: Mapping[str, Severity], suffix: str = "") -> tuple[str, ...]:
    """The rules failing at or above the threshold (rule id -> the worst severity it fails
    with), worst first, then by rule id: the order a report lists their findings in."""
    ranked = sorted(worst_failing.items(), key=lambda item: (-item[1].rank, item[0]))
    return tuple(rule_id + suffix for rule_id, _ in ranked)


def worst_by_rule(failing: Iterable[tuple[str, Severity]]) -> dict[str, Severity]:
    """(rule id, severity) of failing verdicts -> each rule's worst severity."""
    worst: dict[str, Severity] = {}
    for rule_id, severity in failing:
        kept = worst.get(rule_id)
        if kept is None or severity.rank > kept.rank:
            worst[rule_id] = severity
    return worst


def profile_red_by(
    readiness: Readiness,
    own_red_by: tuple[str, ...],
    tenant_red_by: tuple[str, ...],
    preprovisioning: bool | None,
) -> tuple[str, ...]:
    """The rules a RED profile names: its own, then the tenant-wide ones it inherits (only a
    profile known to allow pre-provisioning inherits them); nothing when it is not RED."""
    if readiness is not Readiness.RED:
        return ()
    return (*own_red_by, *tenant_red_by) if preprovisioning is True else own_red_by


def judged(readiness: Readiness, preprovisioning: bool | None) -> bool:
    """False for a profile not used for pre-provisioning with nothing failing or unknown."""
    return preprovisioning is not False or readiness is not Readiness.GREEN


def verdict_note(
    readiness: Readiness,
    preprovisioning: bool | None,
    red_by: tuple[str, ...],
    limit: int = 3,
) -> str:
    """What the verdict rests on, when the verdict alone does not say it ('' otherwise)."""
    notes = []
    if preprovisioning is False:
        notes.append(
            NOT_USED if not judged(readiness, False) else f"{NOT_USED}; its own findings only"
        )
    elif preprovisioning is None:
        notes.append(NOT_KNOWN)
    if readiness is Readiness.RED and red_by:
        named = ", ".join(red_by[:limit])
        more = len(red_by) - limit
        notes.append(f"red by {named}" + (f" and {more} more" if more > 0 else ""))
    return "; ".join(notes)


def not_preprovisioning(snapshot: TenantSnapshot) -> frozenset[str]:
    """The snapshot's profiles that do not allow pre-provisioning (a profile the snapshot does
    not hold is taken as one that does, as the reports show it)."""
    return frozenset(
        profile.id
        for profile in snapshot.autopilot_profiles or ()
        if not profile.preprovisioning_allowed
    )
