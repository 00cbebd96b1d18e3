"""APP-010: required apps of the technician phase have no availability or deadline in the future."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Final

from rules.applicability import Applicability
from rules.assignments import Assignment, TargetKind
from rules.checks.payloads.app_facts import esp_blocking
from rules.checks.payloads.device_phase import (
    ProfileView,
    harmful_payload_finding,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.graph_json import optional_bool, optional_mapping, optional_str, parse_graph_datetime
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
)
from rules.tenant_objects import MobileApp

METADATA = RuleMetadata(
    id="APP-010",
    title="Required apps of the technician phase have no start time or deadline in the future",
    severity=Severity.ERROR,
    rationale=(
        "A Win32 app configured with an installation deadline is downloaded but not installed "
        "until the deadline (Win32 app management); an availability start time in the future "
        "hides the app until then. Either way the app is missing at reseal, and the ESP waits "
        "for it if it blocks (Graph win32LobAppAssignmentSettings.installTimeSettings). ERROR "
        "when the device ESP blocks on the app, WARNING otherwise."
    ),
    remediation=(
        "Microsoft Intune admin center > Apps > Windows > the app > Properties > Assignments: "
        "set App availability and Installation deadline to 'As soon as possible' for the "
        "Autopilot device group."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/apps/apps-win32-app-management",
        "https://learn.microsoft.com/graph/api/resources/intune-apps-win32lobappassignmentsettings",
    ),
    graph_reads=(AUTOPILOT_PROFILES, MOBILE_APPS, GROUPS, ENROLLMENT_CONFIGURATIONS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementApps.Read.All",
        "GroupMember.Read.All",
    ),
)

# With useLocalTime the time is read in the device's own time zone: anywhere from UTC-12 to
# UTC+14, so within this margin of the capture time it may be past or still to come.
_LOCAL_TIME_MARGIN: Final = timedelta(hours=14)


@dataclasses.dataclass(frozen=True, slots=True)
class _Delay:
    # "future", "maybe" (local time close to now, or unreadable) or "none"
    kind: str
    facts: tuple[str, ...]


def _delay(assignment: Assignment, now: datetime) -> _Delay:
    settings = assignment.settings or {}
    times = optional_mapping(settings, "installTimeSettings")
    if times is None:
        return _Delay("none", ())
    local = optional_bool(times, "useLocalTime") is True
    future: list[str] = []
    maybe: list[str] = []
    for key, label in (("startDateTime", "available from"), ("deadlineDateTime", "deadline")):
        text = optional_str(times, key)
        if text is None:
            continue
        when = parse_graph_datetime(text)
        if when is None:
            maybe.append(f"{key} '{text}' could not be read as a date")
        elif local and abs(when - now) < _LOCAL_TIME_MARGIN:
            maybe.append(f"{label} {text} device local time, within hours of the capture time")
        elif when > now:
            future.append(f"{label} {text}{' (device local time)' if local else ''}")
    if future:
        return _Delay("future", tuple(future))
    if maybe:
        return _Delay("maybe", tuple(maybe))
    return _Delay("none", ())


def _with_assignments(app: MobileApp, assignments: list[Assignment]) -> MobileApp:
    return dataclasses.replace(app, assignments=tuple(assignments))


def _app_findings(view: ProfileView, app: MobileApp, now: datetime) -> Iterator[Finding]:
    applicability = view.applicability(app)
    if applicability.verdict is Applicability.DOES_NOT_APPLY or app.assignments is None:
        return
    exclusions = [a for a in app.assignments if a.target_kind is TargetKind.GROUP_EXCLUDE]
    includes = [a for a in app.assignments if a.target_kind is not TargetKind.GROUP_EXCLUDE]
    delays = {id(a): _delay(a, now) for a in includes}
    immediate = [a for a in includes if delays[id(a)].kind == "none"]
    subject = payload_subject(app)
    targeting = view.context.targeting
    if immediate and len(immediate) < len(includes):
        # Another required assignment without delay already installs the app right away.
        without_delay = targeting.device_phase_applicability(
            _with_assignments(app, [*immediate, *exclusions]), view.profile
        )
        if without_delay.verdict is Applicability.APPLIES:
            yield view.finding.passed(
                subject,
                f"'{app.display_name}' is also required without a delay for these devices",
                without_delay.reasons,
                devices=view.devices,
            )
            return
    delayed = [a for a in includes if delays[id(a)].kind != "none"]
    worst = None
    for assignment in delayed:
        reaching = targeting.device_phase_applicability(
            _with_assignments(app, [assignment, *exclusions]), view.profile
        )
        if reaching.verdict is Applicability.DOES_NOT_APPLY:
            continue
        delay = delays[id(assignment)]
        if delay.kind == "future" and reaching.verdict is not Applicability.UNKNOWN:
            blocking = esp_blocking(targeting, view.profile, app)
            worst = harmful_payload_finding(
                view,
                subject,
                reaching,
                f"'{app.display_name}' is required with a start time or deadline in the future",
                (*delay.facts, *blocking.reasons),
                severity=blocking.severity,
            )
            break
        worst = worst or view.finding.unknown(
            subject,
            f"whether '{app.display_name}' installs before reseal could not be determined",
            (*delay.facts, *reaching.reasons),
            devices=view.devices,
        )
    if worst is not None:
        yield worst
        return
    yield view.finding.passed(
        subject,
        f"'{app.display_name}' installs as soon as possible",
        ("no required assignment reaching these devices has a future start time or deadline",),
        devices=view.devices,
    )


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, MOBILE_APPS)
    if stop is not None:
        yield from stop
        return
    now = context.snapshot.captured_at
    apps = context.snapshot.mobile_apps or ()
    for view in profile_views(context, METADATA):
        for app in apps:
            yield from _app_findings(view, app, now)
