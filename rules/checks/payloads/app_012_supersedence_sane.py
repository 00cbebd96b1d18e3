"""APP-012: supersedence among technician-phase apps is targeted, short and free of conflicts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from rules.applicability import Applicability
from rules.checks.payloads.device_phase import (
    ProfileView,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS, MOBILE_APPS
from rules.tenant_objects import MobileApp

METADATA = RuleMetadata(
    id="APP-012",
    title="Supersedence among technician-phase apps is targeted, short and free of conflicts",
    severity=Severity.WARNING,
    rationale=(
        "Superseding apps don't get automatic targeting: a superseding app that isn't targeted "
        "is ignored; a supersedence chain holds at most 10 apps; an app that depends on an app "
        "another targeted app supersedes, or that depends on two apps one of which supersedes "
        "the other, is a conflict Intune cannot resolve (Add Win32 app supersedence). WARNING "
        "for an untargeted superseding app or a long chain, ERROR for a conflict."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the superseding app > Properties > "
        "Assignments: assign it to the Autopilot device group; Properties > Supersedence / "
        "Dependencies: remove conflicting relationships and keep chains to at most 10 apps."
    ),
    references=("https://learn.microsoft.com/intune/intune-service/apps/apps-win32-supersedence",),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)

_MAX_CHAIN: Final = 10
_SUPERSEDENCE: Final = "#microsoft.graph.mobileappsupersedence"
_DEPENDENCY: Final = "#microsoft.graph.mobileappdependency"
_REACHES: Final = (Applicability.APPLIES, Applicability.CONDITIONAL)


@dataclass(frozen=True, slots=True)
class _Relations:
    # superseding app id -> superseded app ids (both directions of Graph's listing merged)
    supersedes: dict[str, set[str]]
    # app id -> ids of the apps it depends on
    depends_on: dict[str, set[str]]


def _relations(snapshot: TenantSnapshot) -> _Relations:
    supersedes: dict[str, set[str]] = {}
    depends_on: dict[str, set[str]] = {}
    for app in snapshot.mobile_apps or ():
        for relation in app.relationships or ():
            kind = (relation.odata_type or "").casefold()
            target = relation.target_id
            if not target:
                continue
            is_child = (relation.target_type or "child").casefold() == "child"
            parent, child = (app.id, target) if is_child else (target, app.id)
            if kind == _SUPERSEDENCE:
                supersedes.setdefault(parent, set()).add(child)
            elif kind == _DEPENDENCY:
                depends_on.setdefault(parent, set()).add(child)
    return _Relations(supersedes, depends_on)


def _chain_length(relations: _Relations, app_id: str, visiting: frozenset[str]) -> int:
    longest = 0
    for child in relations.supersedes.get(app_id, ()):
        if child not in visiting:
            longest = max(longest, _chain_length(relations, child, visiting | {app_id}))
    return 1 + longest


def _name(snapshot: TenantSnapshot, app_id: str) -> str:
    app = snapshot.mobile_app(app_id)
    return f"'{app.display_name}'" if app else f"app {app_id}"


def _app_findings(view: ProfileView, app: MobileApp, relations: _Relations) -> Iterator[Finding]:
    snapshot = view.context.snapshot
    applicability = view.applicability(app)
    subject = payload_subject(app)
    superseded = sorted(relations.supersedes.get(app.id, ()))
    if not superseded:
        return
    reaching_superseded = [
        app_id
        for app_id in superseded
        if (old := snapshot.mobile_app(app_id)) is not None
        and view.applicability(old).verdict in _REACHES
    ]
    if applicability.verdict is Applicability.DOES_NOT_APPLY:
        if reaching_superseded:
            yield view.finding.failed(
                subject,
                f"superseding app '{app.display_name}' is not required for the devices of "
                f"profile '{view.profile.display_name}', so Intune ignores it and keeps "
                f"installing {', '.join(_name(snapshot, i) for i in reaching_superseded)}",
                applicability.reasons,
                devices=view.devices,
            )
        return
    problems: list[str] = []
    severity = Severity.WARNING
    length = _chain_length(relations, app.id, frozenset())
    if length > _MAX_CHAIN:
        problems.append(f"its supersedence chain holds {length} apps (at most {_MAX_CHAIN})")
    for parent, needed in relations.depends_on.items():
        parent_app = snapshot.mobile_app(parent)
        if parent_app is None or view.applicability(parent_app).verdict not in _REACHES:
            continue
        # Covers both documented conflicts: A depends on B while C supersedes B, and A depends
        # on B and C while B supersedes C (then `app` is B and C is among `needed`).
        for old_id in sorted(needed & set(superseded)):
            also = " and on the superseding app itself" if app.id in needed else ""
            problems.append(
                f"{_name(snapshot, parent)} depends on {_name(snapshot, old_id)}{also}, which "
                f"'{app.display_name}' supersedes"
            )
            severity = Severity.ERROR
    if problems and applicability.verdict in _REACHES:
        yield view.finding.failed(
            subject,
            f"the supersedence of '{app.display_name}' conflicts in the technician phase of "
            f"profile '{view.profile.display_name}'",
            (*problems, *applicability.reasons),
            severity=severity,
            devices=view.devices,
        )
    elif problems or applicability.verdict is Applicability.UNKNOWN:
        yield view.finding.unknown(
            subject,
            f"whether the supersedence of '{app.display_name}' works in the technician phase "
            "could not be determined",
            (*problems, *applicability.reasons),
            devices=view.devices,
        )
    else:
        yield view.finding.passed(
            subject,
            f"'{app.display_name}' supersedes {', '.join(_name(snapshot, i) for i in superseded)} "
            "and is itself targeted",
            (f"supersedence chain of {length} apps", *applicability.reasons),
            devices=view.devices,
        )


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    relations = _relations(context.snapshot)
    unreadable = [app for app in context.snapshot.mobile_apps or () if app.relationships is None]
    for view in profile_views(context, METADATA):
        for app in unreadable:
            if view.applicability(app).verdict is not Applicability.DOES_NOT_APPLY:
                yield view.finding.unknown(
                    payload_subject(app),
                    f"the supersedence of '{app.display_name}' could not be read",
                    (f"relationships of '{app.display_name}' could not be read",),
                    devices=view.devices,
                )
        for app in context.snapshot.mobile_apps or ():
            if app.relationships is not None:
                yield from _app_findings(view, app, relations)
