"""Intune assignments (`assignments[]` on every assignable object) as typed values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from rules.fast_init import fast_init
from rules.graph_json import (
    freeze_json,
    odata_type_of,
    optional_mapping,
    optional_str,
    required_list,
    required_mapping,
)


class TargetKind(Enum):
    GROUP_INCLUDE = "group include"
    GROUP_EXCLUDE = "group exclude"
    ALL_DEVICES = "all devices"
    ALL_LICENSED_USERS = "all licensed users"
    # Targets the readiness rules do not reason about (Configuration Manager collections, the
    # abstract base type some documentation examples show).
    OTHER = "other"


class FilterType(Enum):
    NONE = "none"
    INCLUDE = "include"
    EXCLUDE = "exclude"


_TARGET_KINDS: dict[str, TargetKind] = {
    "#microsoft.graph.groupassignmenttarget": TargetKind.GROUP_INCLUDE,
    "#microsoft.graph.exclusiongroupassignmenttarget": TargetKind.GROUP_EXCLUDE,
    "#microsoft.graph.alldevicesassignmenttarget": TargetKind.ALL_DEVICES,
    "#microsoft.graph.alllicensedusersassignmenttarget": TargetKind.ALL_LICENSED_USERS,
}

_FILTER_TYPES: dict[str, FilterType] = {kind.value: kind for kind in FilterType}


@fast_init
@dataclass(frozen=True, slots=True)
class Assignment:
    """One assignment of a payload (or an Autopilot profile) to a target."""

    id: str | None
    target_kind: TargetKind
    target_odata_type: str | None
    group_id: str | None
    filter_id: str | None
    filter_type: FilterType
    # App assignments only: `required` | `available` | `uninstall` | `availableWithoutEnrollment`.
    intent: str | None
    settings: Mapping[str, Any] | None
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def has_filter(self) -> bool:
        # Graph keeps a filter id with type `none` after a filter is removed in some portals;
        # only a type of include/exclude makes the filter take part in targeting.
        return self.filter_id is not None and self.filter_type is not FilterType.NONE

    @property
    def targets_group(self) -> bool:
        return self.target_kind in (TargetKind.GROUP_INCLUDE, TargetKind.GROUP_EXCLUDE)


def parse_assignment(value: object, where: str) -> Assignment:
    obj = required_mapping(value, where)
    target = required_mapping(obj.get("target"), f"{where}.target")
    target_type = odata_type_of(target)
    kind = _TARGET_KINDS.get((target_type or "").casefold(), TargetKind.OTHER)
    filter_type_text = optional_str(target, "deviceAndAppManagementAssignmentFilterType") or "none"
    filter_id = optional_str(target, "deviceAndAppManagementAssignmentFilterId") or None
    settings = optional_mapping(obj, "settings")
    return Assignment(
        id=optional_str(obj, "id"),
        target_kind=kind,
        target_odata_type=target_type,
        group_id=optional_str(target, "groupId") or None,
        filter_id=filter_id,
        filter_type=_FILTER_TYPES.get(filter_type_text.casefold(), FilterType.NONE),
        intent=optional_str(obj, "intent"),
        settings=freeze_json(settings) if settings is not None else None,
        raw=freeze_json(obj),
    )


def parse_assignments(value: object, where: str) -> tuple[Assignment, ...]:
    items: Sequence[Any] = required_list(value, where)
    return tuple(parse_assignment(item, f"{where}[{index}]") for index, item in enumerate(items))
