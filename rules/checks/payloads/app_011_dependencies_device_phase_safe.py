"""APP-011: dependencies of technician-phase apps are Win32 apps that install as System."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from rules.applicability import Applicability
from rules.checks.payloads.app_facts import is_win32
from rules.checks.payloads.device_phase import (
    ProfileView,
    filter_names,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity, Subject
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS, MOBILE_APPS
from rules.tenant_objects import MobileApp

METADATA = RuleMetadata(
    id="APP-011",
    title="Dependencies of technician-phase apps are Win32 apps that install as System",
    severity=Severity.ERROR,
    rationale=(
        "Any Win32 app dependency needs to also be a Win32 app; dependencies set to "
        "automatically install are installed even if the dependent app isn't targeted; an app "
        "can have at most 100 dependencies, counted across the whole graph (Add a Win32 app: "
        "dependencies). A dependency that installs as the user, is missing or is not a Win32 "
        "app fails its parent in the technician phase, which only installs device-context "
        "apps (Windows Autopilot pre-provisioning)."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the parent app > Properties > "
        "Dependencies: replace missing or non-Win32 dependencies, and set Install behavior to "
        "System on each dependency (Properties > Program)."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/apps/apps-win32-add",
        "https://learn.microsoft.com/autopilot/pre-provision",
    ),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)

_MAX_DEPENDENCIES: Final = 100
_DEPENDENCY_TYPE: Final = "#microsoft.graph.mobileappdependency"


@dataclass(frozen=True, slots=True)
class _Dependency:
    target_id: str
    name: str
    # "autoInstall" or "detect"
    dependency_type: str | None


@dataclass(slots=True)
class _Graph:
    """Every dependency reachable from one app."""

    dependencies: dict[str, _Dependency] = field(default_factory=dict)
    # Apps whose relationships could not be read, so the graph may be larger.
    unreadable: list[str] = field(default_factory=list)


def _direct_dependencies(app: MobileApp) -> tuple[_Dependency, ...] | None:
    if app.relationships is None:
        return None
    return tuple(
        _Dependency(
            relation.target_id,
            relation.target_display_name or relation.target_id,
            relation.dependency_type,
        )
        for relation in app.relationships
        if (relation.odata_type or "").casefold() == _DEPENDENCY_TYPE
        and (relation.target_type or "child").casefold() == "child"
        and relation.target_id
    )


def _dependency_graph(snapshot: TenantSnapshot, root: MobileApp) -> _Graph:
    graph = _Graph()
    pending = [root]
    seen = {root.id}
    while pending:
        app = pending.pop()
        direct = _direct_dependencies(app)
        if direct is None:
            graph.unreadable.append(f"dependencies of '{app.display_name}' could not be read")
            continue
        for dependency in direct:
            graph.dependencies.setdefault(dependency.target_id, dependency)
            child = snapshot.mobile_app(dependency.target_id)
            if child is not None and child.id not in seen:
                seen.add(child.id)
                pending.append(child)
    return graph


def _dependency_problem(view: ProfileView, dependency: _Dependency) -> str | None:
    child = view.context.snapshot.mobile_app(dependency.target_id)
    if child is None:
        return f"dependency '{dependency.name}' is not in the tenant (deleted?)"
    if not is_win32(child):
        return f"dependency '{child.display_name}' is not a Win32 app ({child.odata_type})"
    account = (child.run_as_account or "").casefold()
    if account == "user":
        return f"dependency '{child.display_name}' installs as the signed-in user"
    if account != "system":
        return None  # reported as unknown by the caller
    if (dependency.dependency_type or "").casefold() == "detect":
        reach = view.applicability(child).verdict
        if reach is Applicability.DOES_NOT_APPLY:
            return (
                f"dependency '{child.display_name}' is only detected, not installed, and is not "
                "required for these devices itself"
            )
    return None


def _app_findings(view: ProfileView, app: MobileApp) -> Iterator[Finding]:
    applicability = view.applicability(app)
    if applicability.verdict is Applicability.DOES_NOT_APPLY:
        return
    subject = payload_subject(app)
    graph = _dependency_graph(view.context.snapshot, app)
    if not graph.dependencies and not graph.unreadable:
        return
    problems = [
        problem
        for dependency in graph.dependencies.values()
        if (problem := _dependency_problem(view, dependency)) is not None
    ]
    if len(graph.dependencies) > _MAX_DEPENDENCIES:
        problems.append(
            f"the dependency graph holds {len(graph.dependencies)} apps (at most "
            f"{_MAX_DEPENDENCIES})"
        )
    unclear = [
        f"install behavior of dependency '{child.display_name}' could not be read"
        for dependency in graph.dependencies.values()
        if (child := view.context.snapshot.mobile_app(dependency.target_id)) is not None
        and is_win32(child)
        and (child.run_as_account or "").casefold() not in ("system", "user")
    ] + graph.unreadable
    related = tuple(
        Subject("mobileApp", dependency.target_id, dependency.name)
        for dependency in graph.dependencies.values()
    )
    if problems and applicability.verdict is not Applicability.UNKNOWN:
        where = ""
        if applicability.verdict is Applicability.CONDITIONAL:
            where = f" on devices that filter {filter_names(applicability)} lets through"
        yield view.finding.failed(
            subject,
            f"'{app.display_name}' has dependencies that cannot install in the technician "
            f"phase of profile '{view.profile.display_name}'{where}",
            (*problems, *applicability.reasons),
            devices=view.devices,
            related=related,
        )
    elif problems or unclear:
        yield view.finding.unknown(
            subject,
            f"whether the dependencies of '{app.display_name}' install in the technician phase "
            "could not be determined",
            (*problems, *unclear, *applicability.reasons),
            devices=view.devices,
            related=related,
        )
    else:
        yield view.finding.passed(
            subject,
            f"the {len(graph.dependencies)} dependencies of '{app.display_name}' are Win32 apps "
            "installing as System",
            applicability.reasons,
            devices=view.devices,
            related=related,
        )


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    apps = context.snapshot.mobile_apps or ()
    for view in profile_views(context, METADATA):
        for app in apps:
            yield from _app_findings(view, app)
