"""The frozen, typed tenant snapshot every readiness rule reads.

`TenantSnapshot.from_document` takes a snapshot document that the loader has already validated
against the JSON Schema (docs/snapshot-format.md). A collection that could not be read is `None`
and its error is kept; one that was read and is empty is `()`. The capture time is the only
"now" a rule may use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar, cast

from rules import tenant_collections as paths
from rules.graph_json import (
    SnapshotModelError,
    optional_str,
    parse_graph_datetime,
    required_list,
    required_mapping,
)
from rules.tenant_objects import (
    AssignmentFilter,
    AutopilotDevice,
    AutopilotProfile,
    CompliancePolicy,
    ConditionalAccessPolicy,
    DeviceConfiguration,
    DeviceRegistrationPolicy,
    DomainJoinConnector,
    EnrollmentConfiguration,
    EntraDevice,
    Group,
    MdmPolicy,
    MobileApp,
    ObjectParser,
    PlatformScript,
    SettingsCatalogPolicy,
    parse_assignment_filter,
    parse_autopilot_device,
    parse_autopilot_profile,
    parse_compliance_policy,
    parse_conditional_access_policy,
    parse_device_configuration,
    parse_device_registration_policy,
    parse_domain_join_connector,
    parse_enrollment_configuration,
    parse_entra_device,
    parse_group,
    parse_mdm_policy,
    parse_mobile_app,
    parse_platform_script,
    parse_settings_catalog_policy,
)

__all__ = [
    "COLLECTION_PATHS",
    "CollectionParser",
    "ReadError",
    "SnapshotModelError",
    "TenantSnapshot",
    "navigations_of",
    "parse_collection",
    "parse_object",
]


@dataclass(frozen=True, slots=True)
class ReadError:
    """Why a collection or a navigation could not be read (HTTP status and Graph's message)."""

    status: int
    message: str
    code: str | None = None


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_T = TypeVar("_T", bound=_Identified)
_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class _ById(Generic[_T]):
    items: Mapping[str, _T]

    @classmethod
    def of(cls, objects: tuple[_T, ...] | None) -> _ById[_T]:
        return cls(MappingProxyType({item.id: item for item in objects or ()}))


# Attribute name on TenantSnapshot and parser, per collection path.
_COLLECTION_PARSERS: Mapping[str, tuple[str, ObjectParser]] = MappingProxyType(
    {
        paths.AUTOPILOT_PROFILES: ("autopilot_profiles", parse_autopilot_profile),
        paths.AUTOPILOT_DEVICES: ("autopilot_devices", parse_autopilot_device),
        paths.ENROLLMENT_CONFIGURATIONS: (
            "enrollment_configurations",
            parse_enrollment_configuration,
        ),
        paths.DEVICE_CONFIGURATIONS: ("device_configurations", parse_device_configuration),
        paths.SETTINGS_CATALOG_POLICIES: (
            "settings_catalog_policies",
            parse_settings_catalog_policy,
        ),
        paths.PLATFORM_SCRIPTS: ("platform_scripts", parse_platform_script),
        paths.COMPLIANCE_POLICIES: ("compliance_policies", parse_compliance_policy),
        paths.ASSIGNMENT_FILTERS: ("assignment_filters", parse_assignment_filter),
        paths.DOMAIN_JOIN_CONNECTORS: ("domain_join_connectors", parse_domain_join_connector),
        paths.MOBILE_APPS: ("mobile_apps", parse_mobile_app),
        paths.GROUPS: ("groups", parse_group),
        paths.DEVICES: ("entra_devices", parse_entra_device),
        paths.MDM_POLICIES: ("mdm_policies", parse_mdm_policy),
        paths.DEVICE_REGISTRATION_POLICY: (
            "device_registration_policies",
            parse_device_registration_policy,
        ),
        paths.CONDITIONAL_ACCESS_POLICIES: (
            "conditional_access_policies",
            parse_conditional_access_policy,
        ),
    }
)


# The collections a snapshot can hold, in the model's order.
COLLECTION_PATHS: tuple[str, ...] = tuple(_COLLECTION_PARSERS)


class CollectionParser(Protocol):
    """Parses one read collection of a document into the model's objects.

    `items`: the document's list for `path`; `unreadable`: the object ids of this collection
    whose navigations could not be read, with those navigations (pass each object's set, or
    the empty set, to `parse_object`). `parse_collection` is the plain one; a caller that keeps
    the model of an earlier document can hand back the objects it parsed then for the items
    that are the same (`monitors.guardrail.snapshot_models`)."""

    def __call__(
        self, path: str, items: Sequence[Any], unreadable: Mapping[str, frozenset[str]]
    ) -> tuple[Any, ...]: ...


def parse_object(path: str, item: object, index: int, navigations: frozenset[str]) -> Any:
    """The model's object for `item`, the `index`-th of collection `path`; `navigations`: those
    of its navigations that could not be read (the parser makes them unknown, never empty)."""
    return _COLLECTION_PARSERS[path][1](
        required_mapping(item, f"{path}[{index}]"), f"{path}[{index}]", navigations
    )


def parse_collection(
    path: str, items: Sequence[Any], unreadable: Mapping[str, frozenset[str]]
) -> tuple[Any, ...]:
    """Every object of a read collection, parsed (the default `CollectionParser`)."""
    return tuple(
        parse_object(path, item, index, navigations_of(item, unreadable))
        for index, item in enumerate(items)
    )


def navigations_of(item: object, unreadable: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The navigations of `item` (by its id) that `unreadable` lists; none without an id."""
    object_id = item.get("id") if isinstance(item, Mapping) else None
    return unreadable.get(object_id, frozenset()) if isinstance(object_id, str) else frozenset()


@dataclass(frozen=True, slots=True, eq=False)
class TenantSnapshot:
    """One tenant as read at `captured_at`. Compared by identity; derived views cache on it."""

    tenant_id: str
    captured_at: datetime
    autopilot_profiles: tuple[AutopilotProfile, ...] | None
    autopilot_devices: tuple[AutopilotDevice, ...] | None
    enrollment_configurations: tuple[EnrollmentConfiguration, ...] | None
    device_configurations: tuple[DeviceConfiguration, ...] | None
    settings_catalog_policies: tuple[SettingsCatalogPolicy, ...] | None
    platform_scripts: tuple[PlatformScript, ...] | None
    compliance_policies: tuple[CompliancePolicy, ...] | None
    assignment_filters: tuple[AssignmentFilter, ...] | None
    domain_join_connectors: tuple[DomainJoinConnector, ...] | None
    mobile_apps: tuple[MobileApp, ...] | None
    groups: tuple[Group, ...] | None
    entra_devices: tuple[EntraDevice, ...] | None
    mdm_policies: tuple[MdmPolicy, ...] | None
    # A singleton in Graph, stored like every other collection: a one-element tuple.
    device_registration_policies: tuple[DeviceRegistrationPolicy, ...] | None
    conditional_access_policies: tuple[ConditionalAccessPolicy, ...] | None
    # Keyed by collection path.
    collection_errors: Mapping[str, ReadError] = field(default_factory=dict)
    # Keyed by "<collection path>/<object id>/<navigation>".
    navigation_errors: Mapping[str, ReadError] = field(default_factory=dict)
    _groups: _ById[Group] = field(init=False, repr=False)
    _apps: _ById[MobileApp] = field(init=False, repr=False)
    _filters: _ById[AssignmentFilter] = field(init=False, repr=False)
    _profiles: _ById[AutopilotProfile] = field(init=False, repr=False)
    _autopilot_devices: _ById[AutopilotDevice] = field(init=False, repr=False)
    _entra_devices: _ById[EntraDevice] = field(init=False, repr=False)
    _entra_devices_by_device_id: Mapping[str, EntraDevice] = field(init=False, repr=False)
    _enrollment_configurations: _ById[EnrollmentConfiguration] = field(init=False, repr=False)
    _derived_views: dict[Callable[[TenantSnapshot], object], object] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Lookup maps are built once here; the dataclass is frozen, hence object.__setattr__.
        object.__setattr__(
            self, "collection_errors", MappingProxyType(dict(self.collection_errors))
        )
        object.__setattr__(
            self, "navigation_errors", MappingProxyType(dict(self.navigation_errors))
        )
        object.__setattr__(self, "_groups", _ById.of(self.groups))
        object.__setattr__(self, "_apps", _ById.of(self.mobile_apps))
        object.__setattr__(self, "_filters", _ById.of(self.assignment_filters))
        object.__setattr__(self, "_profiles", _ById.of(self.autopilot_profiles))
        object.__setattr__(self, "_autopilot_devices", _ById.of(self.autopilot_devices))
        object.__setattr__(self, "_entra_devices", _ById.of(self.entra_devices))
        object.__setattr__(
            self,
            "_entra_devices_by_device_id",
            MappingProxyType(
                {
                    device.device_id.casefold(): device
                    for device in self.entra_devices or ()
                    if device.device_id
                }
            ),
        )
        object.__setattr__(
            self, "_enrollment_configurations", _ById.of(self.enrollment_configurations)
        )
        object.__setattr__(self, "_derived_views", {})

    def derived_view(self, build: Callable[[TenantSnapshot], _V]) -> _V:
        """`build(self)`, computed once per snapshot and shared by every rule that asks.

        For views that are pure functions of the snapshot (targeting, membership predictions):
        the snapshot never changes, so neither does the view.
        """
        if build not in self._derived_views:
            self._derived_views[build] = build(self)
        return cast(_V, self._derived_views[build])

    @classmethod
    def from_document(
        cls,
        document: Mapping[str, Any],
        *,
        parse: CollectionParser = parse_collection,
    ) -> TenantSnapshot:
        """The model of a validated snapshot document; `parse` turns each read collection into
        objects (see `CollectionParser`: a cache of earlier models passes its own)."""
        doc = required_mapping(document, "snapshot")
        tenant_id = optional_str(doc, "tenantId")
        if not tenant_id:
            raise SnapshotModelError("snapshot has no tenantId")
        captured_at = parse_graph_datetime(optional_str(doc, "capturedAt"))
        if captured_at is None:
            raise SnapshotModelError("snapshot capturedAt is not an ISO 8601 date-time")
        collections = required_mapping(doc.get("collections", {}), "collections")
        errors = required_mapping(doc.get("errors") or {}, "errors")
        collection_errors, navigation_errors = _split_errors(errors)
        unreadable = _unreadable_navigations(navigation_errors)

        unknown = sorted(set(collections) - set(_COLLECTION_PARSERS))
        if unknown:
            raise SnapshotModelError(f"unknown collections in snapshot: {', '.join(unknown)}")

        parsed: dict[str, tuple[Any, ...] | None] = {}
        for path, (attribute, _parser) in _COLLECTION_PARSERS.items():
            if path not in collections:
                parsed[attribute] = None
                continue
            if path in collection_errors:
                raise SnapshotModelError(f"collection {path} is both read and recorded as failed")
            items = required_list(collections[path], path)
            parsed[attribute] = parse(path, items, unreadable.get(path, _NONE_UNREADABLE))
        return cls(
            tenant_id=tenant_id,
            captured_at=captured_at,
            collection_errors=collection_errors,
            navigation_errors=navigation_errors,
            **parsed,
        )

    # --- lookups (None when absent; check the collection for None first to tell unreadable) ----

    def group(self, group_id: str) -> Group | None:
        return self._groups.items.get(group_id)

    def mobile_app(self, app_id: str) -> MobileApp | None:
        return self._apps.items.get(app_id)

    def assignment_filter(self, filter_id: str) -> AssignmentFilter | None:
        return self._filters.items.get(filter_id)

    def autopilot_profile(self, profile_id: str) -> AutopilotProfile | None:
        return self._profiles.items.get(profile_id)

    def autopilot_device(self, device_id: str) -> AutopilotDevice | None:
        return self._autopilot_devices.items.get(device_id)

    def entra_device(self, object_id: str) -> EntraDevice | None:
        """By the directory object id (what group `members` and assignment targets carry)."""
        return self._entra_devices.items.get(object_id)

    def entra_device_by_device_id(self, device_id: str) -> EntraDevice | None:
        """By Entra `deviceId`, which is what Autopilot's `azureAdDeviceId` holds."""
        return self._entra_devices_by_device_id.get(device_id.casefold())

    def enrollment_configuration(self, configuration_id: str) -> EnrollmentConfiguration | None:
        return self._enrollment_configurations.items.get(configuration_id)

    def collection_error(self, path: str) -> ReadError | None:
        return self.collection_errors.get(path)

    def navigation_error(self, path: str, object_id: str, navigation: str) -> ReadError | None:
        return self.navigation_errors.get(f"{path}/{object_id}/{navigation}")


def _read_error(value: object, key: str) -> ReadError:
    obj = required_mapping(value, f"errors[{key!r}]")
    status = obj.get("status")
    message = obj.get("message")
    if isinstance(status, bool) or not isinstance(status, int) or not isinstance(message, str):
        raise SnapshotModelError(f"errors[{key!r}] needs an integer status and a string message")
    return ReadError(status=status, message=message, code=optional_str(obj, "code"))


def _split_errors(
    errors: Mapping[str, Any],
) -> tuple[dict[str, ReadError], dict[str, ReadError]]:
    collection_errors: dict[str, ReadError] = {}
    navigation_errors: dict[str, ReadError] = {}
    for key, value in errors.items():
        error = _read_error(value, key)
        if key in _COLLECTION_PARSERS:
            collection_errors[key] = error
        elif _navigation_key_parts(key) is not None:
            navigation_errors[key] = error
        else:
            raise SnapshotModelError(f"errors key {key!r} names no known collection or navigation")
    return collection_errors, navigation_errors


def _navigation_key_parts(key: str) -> tuple[str, str, str] | None:
    # Collection paths contain slashes themselves, so match the known paths as prefixes.
    for path, navigations in paths.INLINED_NAVIGATIONS.items():
        if not key.startswith(path + "/"):
            continue
        object_id, _, navigation = key[len(path) + 1 :].rpartition("/")
        if object_id and navigation in navigations:
            return path, object_id, navigation
    return None


_NONE_UNREADABLE: Mapping[str, frozenset[str]] = MappingProxyType({})


def _unreadable_navigations(
    navigation_errors: Mapping[str, ReadError],
) -> dict[str, dict[str, frozenset[str]]]:
    """Per collection path, per object id: the navigations that could not be read."""
    unreadable: dict[str, dict[str, set[str]]] = {}
    for key in navigation_errors:
        parts = _navigation_key_parts(key)
        if parts is not None:
            path, object_id, navigation = parts
            unreadable.setdefault(path, {}).setdefault(object_id, set()).add(navigation)
    return {
        path: {object_id: frozenset(names) for object_id, names in objects.items()}
        for path, objects in unreadable.items()
    }
