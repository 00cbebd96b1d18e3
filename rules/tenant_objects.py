"""Typed tenant objects: the fields readiness rules reason about, plus `raw` for the rest.

Each type is built from one Graph object as the snapshot stores it (Intune in beta shape). A
navigation property (`assignments`, `members`, ...) is a tuple when it was read and `None` when
it could not be read: absent from the object, or named in the snapshot's `errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Final, Protocol

from rules.assignments import Assignment, parse_assignments
from rules.fast_init import fast_init
from rules.graph_json import (
    freeze_json,
    odata_type_of,
    optional_bool,
    optional_datetime,
    optional_int,
    optional_mapping,
    optional_str,
    required_id,
    required_list,
    required_mapping,
    same_odata_type,
    string_tuple,
    text_or_empty,
)

HYBRID_PROFILE_TYPE: Final = "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile"
CUSTOM_ESP_TYPE: Final = "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration"
DEFAULT_ESP_CONFIGURATION_TYPE: Final = "defaultWindows10EnrollmentCompletionPageConfiguration"


class NotRead(Enum):
    """A single-valued navigation that could not be read (where `None` means "read, empty")."""

    NOT_READ = "not read"


NOT_READ: Final = NotRead.NOT_READ


class AssignedPayload(Protocol):
    """Anything Intune assigns to groups: apps, policies, scripts, enrollment configurations."""

    @property
    def id(self) -> str: ...

    @property
    def display_name(self) -> str: ...

    @property
    def assignments(self) -> tuple[Assignment, ...] | None: ...


@fast_init
@dataclass(frozen=True, slots=True)
class ObjectReference:
    """A reference inlined on another object (`deploymentProfile`, `includedGroups[]`)."""

    id: str
    display_name: str
    odata_type: str | None


@fast_init
@dataclass(frozen=True, slots=True)
class AutopilotProfile:
    id: str
    display_name: str
    odata_type: str | None
    is_hybrid: bool
    preprovisioning_allowed: bool
    # `singleUser` (user-driven) or `shared` (self-deploying).
    device_usage_type: str | None
    device_type: str | None
    device_name_template: str | None
    created: datetime | None
    last_modified: datetime | None
    assignments: tuple[Assignment, ...] | None
    raw: Mapping[str, Any] = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class AutopilotDevice:
    id: str
    serial_number: str | None
    display_name: str
    group_tag: str | None
    purchase_order_identifier: str | None
    manufacturer: str | None
    model: str | None
    # Entra `deviceId` (not the object id) of the device object Autopilot created.
    entra_device_id: str | None
    user_principal_name: str | None
    profile_assignment_status: str | None
    profile_assigned: datetime | None
    enrollment_state: str | None
    deployment_profile: ObjectReference | NotRead | None
    intended_deployment_profile: ObjectReference | NotRead | None
    raw: Mapping[str, Any] = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class GroupMember:
    id: str
    odata_type: str | None


@fast_init
@dataclass(frozen=True, slots=True)
class Group:
    id: str
    display_name: str
    group_types: tuple[str, ...]
    is_dynamic: bool
    membership_rule: str | None
    membership_rule_processing_state: str | None
    security_enabled: bool | None
    mail_enabled: bool | None
    is_assignable_to_role: bool | None
    created: datetime | None
    # Direct members; only assigned groups carry them (dynamic groups are predicted from the rule).
    members: tuple[GroupMember, ...] | None
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def processing_paused(self) -> bool:
        return (self.membership_rule_processing_state or "").casefold() == "paused"


@fast_init
@dataclass(frozen=True, slots=True)
class EntraDevice:
    id: str
    device_id: str | None
    display_name: str
    physical_ids: tuple[str, ...]
    trust_type: str | None
    account_enabled: bool | None
    operating_system: str | None
    operating_system_version: str | None
    created: datetime | None
    raw: Mapping[str, Any] = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class AppRelationship:
    """A dependency or supersedence edge (`mobileAppDependency` / `mobileAppSupersedence`)."""

    odata_type: str | None
    target_id: str | None
    target_display_name: str | None
    # `child` when the target is the dependency / superseded app, `parent` otherwise.
    target_type: str | None
    dependency_type: str | None
    supersedence_type: str | None
    raw: Mapping[str, Any] = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class MobileApp:
    id: str
    display_name: str
    odata_type: str | None
    # `installExperience.runAsAccount` of Win32 apps (`system` | `user`); None for other types.
    run_as_account: str | None
    created: datetime | None
    assignments: tuple[Assignment, ...] | None
    relationships: tuple[AppRelationship, ...] | None
    raw: Mapping[str, Any] = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class DeviceConfiguration:
    id: str
    display_name: str
    odata_type: str | None
    assignments: tuple[Assignment, ...] | None
    raw: Mapping[str, Any] = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class SettingsCatalogPolicy:
    id: str
    # Settings catalog policies carry `name`, not `displayName`.
    display_name: str
    platforms: str | None
    technologies: str | None
    assignments: tuple[Assignment, ...] | None
    settings: tuple[Mapping[str, Any], ...] | None
    raw: Mapping[str, Any] = field(repr=False)
    # `templateReference.templateFamily`: `enrollmentConfiguration` for a Windows Autopilot device
    # preparation policy, `none` for a plain settings catalog policy.
    template_family: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class PlatformScript:
    id: str
    display_name: str
    run_as_account: str | None
    assignments: tuple[Assignment, ...] | None
    raw: Mapping[str, Any] = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class CompliancePolicy:
    id: str
    display_name: str
    odata_type: str | None
    assignments: tuple[Assignment, ...] | None
    scheduled_actions: tuple[Mapping[str, Any], ...] | None
    raw: Mapping[str, Any] = field(repr=False)


class EnrollmentConfigurationKind(Enum):
    ESP = "enrollment status page"
    DEFAULT_ESP = "default enrollment status page"
    PLATFORM_RESTRICTIONS = "platform restrictions"
    LIMIT = "device limit"
    CO_MANAGEMENT = "co-management"
    OTHER = "other"


@fast_init
@dataclass(frozen=True, slots=True)
class EnrollmentConfiguration:
    id: str
    display_name: str
    odata_type: str | None
    kind: EnrollmentConfigurationKind
    # Lower number wins; the default configurations carry 0 and never compete.
    priority: int | None
    assignments: tuple[Assignment, ...] | None
    raw: Mapping[str, Any] = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class AssignmentFilter:
    id: str
    display_name: str
    platform: str | None
    rule: str | None
    management_type: str | None
    raw: Mapping[str, Any] = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class DomainJoinConnector:
    id: str
    display_name: str
    state: str | None
    version: str | None
    last_connection: datetime | None
    raw: Mapping[str, Any] = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class MdmPolicy:
    id: str
    display_name: str
    applies_to: str | None
    is_valid: bool | None
    discovery_url: str | None
    terms_of_use_url: str | None
    compliance_url: str | None
    included_groups: tuple[ObjectReference, ...] | None
    raw: Mapping[str, Any] = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class DeviceRegistrationPolicy:
    id: str
    user_device_quota: int | None
    # `azureADJoin.allowedToJoin.@odata.type`: all / enumerated / no device registration membership.
    join_allowed_odata_type: str | None
    raw: Mapping[str, Any] = field(repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class ConditionalAccessPolicy:
    id: str
    display_name: str
    state: str | None
    raw: Mapping[str, Any] = field(repr=False)


# --- parsing -------------------------------------------------------------------------------------

# One object as the snapshot stores it, with the navigations the snapshot says were not read.
ObjectParser = Callable[[Mapping[str, Any], str, frozenset[str]], Any]


def _navigation_list(
    obj: Mapping[str, Any], name: str, unreadable: frozenset[str], where: str
) -> tuple[Any, ...] | None:
    if name in unreadable or name not in obj:
        return None
    return tuple(required_list(obj[name], f"{where}.{name}"))


def _assignments(
    obj: Mapping[str, Any], unreadable: frozenset[str], where: str
) -> tuple[Assignment, ...] | None:
    if "assignments" in unreadable or "assignments" not in obj:
        return None
    return parse_assignments(obj["assignments"], f"{where}.assignments")


def _frozen_mappings(
    obj: Mapping[str, Any], name: str, unreadable: frozenset[str], where: str
) -> tuple[Mapping[str, Any], ...] | None:
    items = _navigation_list(obj, name, unreadable, where)
    if items is None:
        return None
    return tuple(
        freeze_json(required_mapping(item, f"{where}.{name}[{index}]"))
        for index, item in enumerate(items)
    )


def _object_reference(value: object, where: str) -> ObjectReference:
    obj = required_mapping(value, where)
    return ObjectReference(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "displayName"),
        odata_type=odata_type_of(obj),
    )


def _single_reference(
    obj: Mapping[str, Any], name: str, unreadable: frozenset[str], where: str
) -> ObjectReference | NotRead | None:
    if name in unreadable or name not in obj:
        return NOT_READ
    value = obj[name]
    return None if value is None else _object_reference(value, f"{where}.{name}")


def parse_autopilot_profile(
    obj: Mapping[str, Any], where: str, unreadable: frozenset[str]
) -> AutopilotProfile:
    odata_type = odata_type_of(obj)
    # `outOfBoxExperienceSettings` is the deprecated spelling; profiles created before the rename
    # can carry only that one.
    experience = optional_mapping(obj, "outOfBoxExperienceSetting") or optional_mapping(
        obj, "outOfBoxExperienceSettings"
    )
    return AutopilotProfile(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "displayName"),
        odata_type=odata_type,
        is_hybrid=same_odata_type(odata_type, HYBRID_PROFILE_TYPE),
        # `enableWhiteGlove` was deprecated in May 2024 for `preprovisioningAllowed`; older
        # profiles may carry only the old flag, and either being true allows pre-provisioning.
        preprovisioning_allowed=optional_bool(obj, "preprovisioningAllowed") is True
        or optional_bool(obj, "enableWhiteGlove") is True,
        device_usage_type=optional_str(experience, "deviceUsageType") if experience else None,
        device_type=optional_str(obj, "deviceType"),
        device_name_template=optional_str(obj, "deviceNameTemplate"),
        created=optional_datetime(obj, "createdDateTime"),
        last_modified=optional_datetime(obj, "lastModifiedDateTime"),
        assignments=_assignments(obj, unreadable, where),
        raw=freeze_json(obj),
    )


def parse_autopilot_device(
    obj: Mapping[str, Any], where: str, unreadable: frozenset[str]
) -> AutopilotDevice:
    return AutopilotDevice(
        id=required_id(obj, where),
        serial_number=optional_str(obj, "serialNumber"),
        display_name=text_or_empty(obj, "displayName"),
        group_tag=optional_str(obj, "groupTag") or None,
        purchase_order_identifier=optional_str(obj, "purchaseOrderIdentifier") or None,
        manufacturer=optional_str(obj, "manufacturer"),
        model=optional_str(obj, "model"),
        # beta names it `azureAdDeviceId`, v1.0 `azureActiveDirectoryDeviceId`.
        entra_device_id=optional_str(obj, "azureAdDeviceId")
        or optional_str(obj, "azureActiveDirectoryDeviceId")
        or None,
        user_principal_name=optional_str(obj, "userPrincipalName") or None,
        profile_assignment_status=optional_str(obj, "deploymentProfileAssignmentStatus"),
        profile_assigned=optional_datetime(obj, "deploymentProfileAssignedDateTime"),
        enrollment_state=optional_str(obj, "enrollmentState"),
        deployment_profile=_single_reference(obj, "deploymentProfile", unreadable, where),
        intended_deployment_profile=_single_reference(
            obj, "intendedDeploymentProfile", unreadable, where
        ),
        raw=freeze_json(obj),
    )


def parse_group(obj: Mapping[str, Any], where: str, unreadable: frozenset[str]) -> Group:
    group_types = string_tuple(obj, "groupTypes")
    members = _navigation_list(obj, "members", unreadable, where)
    return Group(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "displayName"),
        group_types=group_types,
        is_dynamic=any(kind.casefold() == "dynamicmembership" for kind in group_types),
        membership_rule=optional_str(obj, "membershipRule"),
        membership_rule_processing_state=optional_str(obj, "membershipRuleProcessingState"),
        security_enabled=optional_bool(obj, "securityEnabled"),
        mail_enabled=optional_bool(obj, "mailEnabled"),
        is_assignable_to_role=optional_bool(obj, "isAssignableToRole"),
        created=optional_datetime(obj, "createdDateTime"),
        members=None
        if members is None
        else tuple(
            _group_member(member, f"{where}.members[{index}]")
            for index, member in enumerate(members)
        ),
        raw=freeze_json(obj),
    )


def _group_member(value: object, where: str) -> GroupMember:
    obj = required_mapping(value, where)
    return GroupMember(id=required_id(obj, where), odata_type=odata_type_of(obj))


def parse_entra_device(
    obj: Mapping[str, Any], where: str, unreadable: frozenset[str]
) -> EntraDevice:
    return EntraDevice(
        id=required_id(obj, where),
        device_id=optional_str(obj, "deviceId") or None,
        display_name=text_or_empty(obj, "displayName"),
        physical_ids=string_tuple(obj, "physicalIds"),
        trust_type=optional_str(obj, "trustType"),
        account_enabled=optional_bool(obj, "accountEnabled"),
        operating_system=optional_str(obj, "operatingSystem"),
        operating_system_version=optional_str(obj, "operatingSystemVersion"),
        created=optional_datetime(obj, "createdDateTime"),
        raw=freeze_json(obj),
    )


def _app_relationship(value: object, where: str) -> AppRelationship:
    obj = required_mapping(value, where)
    return AppRelationship(
        odata_type=odata_type_of(obj),
        target_id=optional_str(obj, "targetId"),
        target_display_name=optional_str(obj, "targetDisplayName"),
        target_type=optional_str(obj, "targetType"),
        dependency_type=optional_str(obj, "dependencyType"),
        supersedence_type=optional_str(obj, "supersedenceType"),
        raw=freeze_json(obj),
    )


def parse_mobile_app(obj: Mapping[str, Any], where: str, unreadable: frozenset[str]) -> MobileApp:
    install_experience = optional_mapping(obj, "installExperience")
    relationships = _navigation_list(obj, "relationships", unreadable, where)
    return MobileApp(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "displayName"),
        odata_type=odata_type_of(obj),
        run_as_account=optional_str(install_experience, "runAsAccount")
        if install_experience
        else None,
        created=optional_datetime(obj, "createdDateTime"),
        assignments=_assignments(obj, unreadable, where),
        relationships=None
        if relationships is None
        else tuple(
            _app_relationship(item, f"{where}.relationships[{index}]")
            for index, item in enumerate(relationships)
        ),
        raw=freeze_json(obj),
    )


def parse_device_configuration(
    obj: Mapping[str, Any], where: str, unreadable: frozenset[str]
) -> DeviceConfiguration:
    return DeviceConfiguration(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "displayName"),
        odata_type=odata_type_of(obj),
        assignments=_assignments(obj, unreadable, where),
        raw=freeze_json(obj),
    )


def parse_settings_catalog_policy(
    obj: Mapping[str, Any], where: str, unreadable: frozenset[str]
) -> SettingsCatalogPolicy:
    return SettingsCatalogPolicy(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "name") or text_or_empty(obj, "displayName"),
        platforms=optional_str(obj, "platforms"),
        technologies=optional_str(obj, "technologies"),
        assignments=_assignments(obj, unreadable, where),
        settings=_frozen_mappings(obj, "settings", unreadable, where),
        raw=freeze_json(obj),
        template_family=_template_family(obj),
    )


def _template_family(obj: Mapping[str, Any]) -> str | None:
    reference = optional_mapping(obj, "templateReference")
    # Some exports flatten the reference onto the policy itself.
    return (
        optional_str(reference, "templateFamily")
        if reference
        else optional_str(obj, "templateFamily")
    )


def parse_platform_script(
    obj: Mapping[str, Any], where: str, unreadable: frozenset[str]
) -> PlatformScript:
    return PlatformScript(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "displayName"),
        run_as_account=optional_str(obj, "runAsAccount"),
        assignments=_assignments(obj, unreadable, where),
        raw=freeze_json(obj),
    )


def parse_compliance_policy(
    obj: Mapping[str, Any], where: str, unreadable: frozenset[str]
) -> CompliancePolicy:
    return CompliancePolicy(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "displayName"),
        odata_type=odata_type_of(obj),
        assignments=_assignments(obj, unreadable, where),
        scheduled_actions=_frozen_mappings(obj, "scheduledActionsForRule", unreadable, where),
        raw=freeze_json(obj),
    )


_ENROLLMENT_KINDS: dict[str, EnrollmentConfigurationKind] = {
    CUSTOM_ESP_TYPE.casefold(): EnrollmentConfigurationKind.ESP,
    "#microsoft.graph.deviceenrollmentplatformrestrictionsconfiguration": (
        EnrollmentConfigurationKind.PLATFORM_RESTRICTIONS
    ),
    # beta's per-platform restriction (one platform per configuration).
    "#microsoft.graph.deviceenrollmentplatformrestrictionconfiguration": (
        EnrollmentConfigurationKind.PLATFORM_RESTRICTIONS
    ),
    "#microsoft.graph.deviceenrollmentlimitconfiguration": EnrollmentConfigurationKind.LIMIT,
    "#microsoft.graph.devicecomanagementauthorityconfiguration": (
        EnrollmentConfigurationKind.CO_MANAGEMENT
    ),
}


def enrollment_configuration_kind(obj: Mapping[str, Any]) -> EnrollmentConfigurationKind:
    kind = _ENROLLMENT_KINDS.get((odata_type_of(obj) or "").casefold())
    if kind is None:
        return EnrollmentConfigurationKind.OTHER
    if kind is EnrollmentConfigurationKind.ESP and _is_default_esp(obj):
        return EnrollmentConfigurationKind.DEFAULT_ESP
    return kind


def _is_default_esp(obj: Mapping[str, Any]) -> bool:
    # The default ESP has the same @odata.type as custom ones. beta marks it with
    # `deviceEnrollmentConfigurationType`; its id also ends in the type name, which is what
    # distinguishes it when a reader did not $select the type property.
    configuration_type = optional_str(obj, "deviceEnrollmentConfigurationType") or ""
    if configuration_type.casefold() == DEFAULT_ESP_CONFIGURATION_TYPE.casefold():
        return True
    object_id = optional_str(obj, "id") or ""
    return object_id.casefold().endswith("_" + DEFAULT_ESP_CONFIGURATION_TYPE.casefold())


def parse_enrollment_configuration(
    obj: Mapping[str, Any], where: str, unreadable: frozenset[str]
) -> EnrollmentConfiguration:
    return EnrollmentConfiguration(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "displayName"),
        odata_type=odata_type_of(obj),
        kind=enrollment_configuration_kind(obj),
        priority=optional_int(obj, "priority"),
        assignments=_assignments(obj, unreadable, where),
        raw=freeze_json(obj),
    )


def parse_assignment_filter(
    obj: Mapping[str, Any], where: str, unreadable: frozenset[str]
) -> AssignmentFilter:
    return AssignmentFilter(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "displayName"),
        platform=optional_str(obj, "platform"),
        rule=optional_str(obj, "rule"),
        management_type=optional_str(obj, "assignmentFilterManagementType"),
        raw=freeze_json(obj),
    )


def parse_domain_join_connector(
    obj: Mapping[str, Any], where: str, unreadable: frozenset[str]
) -> DomainJoinConnector:
    return DomainJoinConnector(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "displayName"),
        state=optional_str(obj, "state"),
        version=optional_str(obj, "version"),
        last_connection=optional_datetime(obj, "lastConnectionDateTime"),
        raw=freeze_json(obj),
    )


def parse_mdm_policy(obj: Mapping[str, Any], where: str, unreadable: frozenset[str]) -> MdmPolicy:
    included = _navigation_list(obj, "includedGroups", unreadable, where)
    return MdmPolicy(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "displayName"),
        applies_to=optional_str(obj, "appliesTo"),
        is_valid=optional_bool(obj, "isValid"),
        discovery_url=optional_str(obj, "discoveryUrl"),
        terms_of_use_url=optional_str(obj, "termsOfUseUrl"),
        compliance_url=optional_str(obj, "complianceUrl"),
        included_groups=None
        if included is None
        else tuple(
            _object_reference(item, f"{where}.includedGroups[{index}]")
            for index, item in enumerate(included)
        ),
        raw=freeze_json(obj),
    )


def parse_device_registration_policy(
    obj: Mapping[str, Any], where: str, unreadable: frozenset[str]
) -> DeviceRegistrationPolicy:
    join = optional_mapping(obj, "azureADJoin")
    allowed = optional_mapping(join, "allowedToJoin") if join else None
    return DeviceRegistrationPolicy(
        id=required_id(obj, where),
        user_device_quota=optional_int(obj, "userDeviceQuota"),
        join_allowed_odata_type=odata_type_of(allowed) if allowed else None,
        raw=freeze_json(obj),
    )


def parse_conditional_access_policy(
    obj: Mapping[str, Any], where: str, unreadable: frozenset[str]
) -> ConditionalAccessPolicy:
    return ConditionalAccessPolicy(
        id=required_id(obj, where),
        display_name=text_or_empty(obj, "displayName"),
        state=optional_str(obj, "state"),
        raw=freeze_json(obj),
    )
