"""Audit records for applied changes, in the shapes Graph serves them.

Intune objects produce an Intune `auditEvent` (`/deviceManagement/auditEvents`), Entra ID objects
(groups, devices, tenant policies) a `directoryAudit` (`/auditLogs/directoryAudits`). Values are
strings in both logs: Intune writes property values as text, Entra ID as JSON text.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from monitors.tenant_changes import AppliedChange, ModifiedProperty
from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    COMPLIANCE_POLICIES,
    CONDITIONAL_ACCESS_POLICIES,
    DEVICE_CONFIGURATIONS,
    DEVICE_REGISTRATION_POLICY,
    DEVICES,
    DOMAIN_JOIN_CONNECTORS,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MDM_POLICIES,
    MOBILE_APPS,
    PLATFORM_SCRIPTS,
    SETTINGS_CATALOG_POLICIES,
)
from tests.graphsim.clock import graph_timestamp

DEFAULT_ACTOR_UPN: Final = "admin@contoso.onmicrosoft.com"
# The first-party app the Intune admin center acts through; its id is public and fixed.
INTUNE_PORTAL_APP_ID: Final = "5926fc8e-304e-4f59-8bed-58ca97cc39a4"
INTUNE_PORTAL_APP_NAME: Final = "Microsoft Intune portal extension"
ACTOR_IP_ADDRESS: Final = "203.0.113.10"  # documentation range (RFC 5737)

# Intune collection -> (base entity name in activity names, componentName, category), as real
# records carry them: `activityType` names the base entity ("Create
# DeviceEnrollmentConfiguration") while `auditResourceType` names the object's derived type
# ("DeviceEnrollmentLimitConfiguration"); componentName values are the ones public tooling
# filters real logs by (IntuneCD). Sources: docs/graph-simulator.md, "Audit events and
# unwatched policies".
INTUNE_AUDIT_VOCABULARY: Final[dict[str, tuple[str, str, str]]] = {
    AUTOPILOT_PROFILES: ("WindowsAutopilotDeploymentProfile", "Enrollment", "Enrollment"),
    AUTOPILOT_DEVICES: ("WindowsAutopilotDeviceIdentity", "Enrollment", "Enrollment"),
    ENROLLMENT_CONFIGURATIONS: ("DeviceEnrollmentConfiguration", "Enrollment", "Enrollment"),
    DEVICE_CONFIGURATIONS: ("DeviceConfiguration", "DeviceConfiguration", "DeviceConfiguration"),
    SETTINGS_CATALOG_POLICIES: (
        "DeviceManagementConfigurationPolicy",
        "DeviceConfiguration",
        "DeviceConfiguration",
    ),
    PLATFORM_SCRIPTS: ("DeviceManagementScript", "DeviceConfiguration", "DeviceConfiguration"),
    COMPLIANCE_POLICIES: ("DeviceCompliancePolicy", "DeviceCompliancePolicy", "Compliance"),
    ASSIGNMENT_FILTERS: (
        "DeviceAndAppManagementAssignmentFilter",
        "AssignmentFilter",
        "AssignmentFilter",
    ),
    DOMAIN_JOIN_CONNECTORS: ("DeviceManagementDomainJoinConnector", "Enrollment", "Enrollment"),
    MOBILE_APPS: ("MobileApp", "MobileApp", "Application"),
}

# Change op -> (activityOperationType, verb of `activityType` and `displayName`).
_INTUNE_OPERATIONS: Final[dict[str, tuple[str, str]]] = {
    "add": ("Create", "Create"),
    "set": ("Patch", "Patch"),
    "remove": ("Delete", "Delete"),
    "addAssignment": ("Action", "Assign"),
    "removeAssignment": ("Action", "Assign"),
}


def is_intune_collection(collection: str) -> bool:
    return collection.startswith(("deviceManagement/", "deviceAppManagement/"))


def audit_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def pascal_case(path: str) -> str:
    return ".".join(part[:1].upper() + part[1:] for part in path.split("."))


class AuditIds:
    """Deterministic ids for audit records (seeded), so runs are reproducible."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def next(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))


def intune_audit_event(
    change: AppliedChange, actor: Mapping[str, Any], at: datetime, ids: AuditIds
) -> dict[str, Any]:
    entity, component, category = INTUNE_AUDIT_VOCABULARY.get(
        change.collection, ("Resource", "Other", "Other")
    )
    operation, verb = _INTUNE_OPERATIONS.get(change.op, ("Patch", "Patch"))
    upn = actor.get("userPrincipalName")
    service_principal = actor.get("servicePrincipalName")
    actor_type = "Application" if service_principal and not upn else "ItPro"
    activity_type = f"{verb} {entity}"
    resource_type = derived_type_name(change.odata_type) or entity
    return {
        "@odata.type": "#microsoft.graph.auditEvent",
        "id": ids.next(),
        "displayName": activity_type,
        "componentName": component,
        "actor": {
            "@odata.type": "#microsoft.graph.auditActor",
            "type": actor_type,
            "auditActorType": actor_type,
            "userPermissions": ["*"],
            "applicationId": actor.get("applicationId", INTUNE_PORTAL_APP_ID),
            "applicationDisplayName": actor.get("applicationDisplayName", INTUNE_PORTAL_APP_NAME),
            "userPrincipalName": upn if upn or service_principal else DEFAULT_ACTOR_UPN,
            "servicePrincipalName": service_principal,
            "ipAddress": actor.get("ipAddress", ACTOR_IP_ADDRESS),
            "userId": actor.get("userId", _user_id(upn or DEFAULT_ACTOR_UPN)),
        },
        # Real records leave `activity` empty and name the activity in `activityType`.
        "activity": None,
        "activityDateTime": graph_timestamp(at),
        "activityType": activity_type,
        "activityOperationType": operation,
        "activityResult": "Success",
        "correlationId": ids.next(),
        "resources": [
            {
                "@odata.type": "#microsoft.graph.auditResource",
                "displayName": change.display_name,
                "modifiedProperties": [
                    _intune_property(p, change.op) for p in change.modified_properties
                ],
                "type": resource_type,
                "auditResourceType": resource_type,
                "resourceId": change.object_id,
            }
        ],
        "category": category,
    }


def derived_type_name(odata_type: str | None) -> str | None:
    """`#microsoft.graph.windows10CustomConfiguration` -> `Windows10CustomConfiguration`."""
    if not odata_type:
        return None
    name = odata_type.removeprefix("#").removeprefix("microsoft.graph.")
    return name[:1].upper() + name[1:] if name.isidentifier() else None


def _intune_property(prop: ModifiedProperty, op: str) -> dict[str, Any]:
    name = pascal_case(prop.name)
    if op in {"addAssignment", "removeAssignment"}:
        assignment = prop.new_value if prop.new_value is not None else prop.old_value
        if isinstance(assignment, Mapping):
            name = f"Assignments[{assignment.get('id')}]"
    return {
        "@odata.type": "#microsoft.graph.auditProperty",
        "displayName": name,
        "oldValue": audit_text(prop.old_value),
        "newValue": audit_text(prop.new_value),
    }


def _user_id(upn: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, upn.lower()))


# Change op -> (activityDisplayName template, operationType) for Entra ID objects.
_DIRECTORY_ACTIVITIES: Final[dict[str, tuple[str, str]]] = {
    "add": ("Add {noun}", "Add"),
    "set": ("Update {noun}", "Update"),
    "setGroupRule": ("Update {noun}", "Update"),
    "remove": ("Delete {noun}", "Delete"),
    "addGroupMember": ("Add member to group", "Assign"),
    "removeGroupMember": ("Remove member from group", "Unassign"),
}


# Tenant policies: (activity per op, category, loggedByService), as the Microsoft Entra audit
# log activity reference lists them (Conditional Access, Device Registration Service,
# Mobility Management).
_POLICY_AUDITS: Final[dict[str, tuple[dict[str, str], str, str]]] = {
    CONDITIONAL_ACCESS_POLICIES: (
        {
            "add": "Add conditional access policy",
            "remove": "Delete conditional access policy",
            "set": "Update conditional access policy",
        },
        "Policy",
        "Conditional Access",
    ),
    DEVICE_REGISTRATION_POLICY: (
        {"set": "Set device registration policies"},
        "Policy",
        "Device Registration Service",
    ),
    MDM_POLICIES: (
        {"remove": "Delete policy", "set": "Update mobility management policy"},
        "PolicyManagement",
        "Mobility Management",
    ),
}


def directory_audit(
    change: AppliedChange, actor: Mapping[str, Any], at: datetime, ids: AuditIds
) -> dict[str, Any]:
    service = "Core Directory"
    if change.collection == GROUPS:
        noun, category, resource_type = "group", "GroupManagement", "Group"
    elif change.collection == DEVICES:
        noun, category, resource_type = "device", "Device", "Device"
    else:
        noun, category, resource_type = "policy", "Policy", "Policy"
    template, operation = _DIRECTORY_ACTIVITIES.get(change.op, ("Update {noun}", "Update"))
    activity = template.format(noun=noun)
    if change.collection in _POLICY_AUDITS:
        activities, category, service = _POLICY_AUDITS[change.collection]
        activity = activities.get(change.op, activities["set"])
    upn = actor.get("userPrincipalName") or DEFAULT_ACTOR_UPN
    target = {
        "id": change.object_id,
        "displayName": change.display_name,
        "type": resource_type,
        "modifiedProperties": _directory_properties(change),
        "userPrincipalName": None,
    }
    if change.collection == GROUPS:
        target["groupType"] = "azureAD"
    targets = [target]
    member = _member_of(change)
    if member is not None:
        # "Add member to group" names the group and the member (as Entra ID's own records do).
        targets.append(
            {
                "id": member.get("id"),
                "displayName": None,
                "type": "Device"
                if str(member.get("@odata.type", "")).endswith("device")
                else "User",
                "modifiedProperties": [],
                "userPrincipalName": None,
            }
        )
    return {
        "id": f"Directory_{ids.next()}",
        "category": category,
        "correlationId": ids.next(),
        "result": "success",
        "resultReason": "",
        "activityDisplayName": activity,
        "activityDateTime": graph_timestamp(at),
        "loggedByService": service,
        "operationType": operation,
        "initiatedBy": {
            "user": {
                "id": actor.get("userId", _user_id(upn)),
                "displayName": None,
                "userPrincipalName": upn,
                "ipAddress": actor.get("ipAddress", ACTOR_IP_ADDRESS),
            },
            "app": None,
        },
        "targetResources": targets,
        "additionalDetails": [],
    }


def _member_of(change: AppliedChange) -> Mapping[str, Any] | None:
    if change.op not in {"addGroupMember", "removeGroupMember"}:
        return None
    prop = change.modified_properties[0]
    member = prop.new_value if prop.new_value is not None else prop.old_value
    return member if isinstance(member, Mapping) else None


def _directory_properties(change: AppliedChange) -> list[dict[str, Any]]:
    if change.op in {"addGroupMember", "removeGroupMember", "remove"}:
        properties = [
            {
                "displayName": "Group.ObjectID",
                "oldValue": None,
                "newValue": json.dumps(change.object_id),
            },
            {
                "displayName": "Group.DisplayName",
                "oldValue": None,
                "newValue": json.dumps(change.display_name),
            },
        ]
        return properties if change.collection == GROUPS and change.op != "remove" else []
    properties = [
        {
            "displayName": pascal_case(p.name),
            "oldValue": None if p.old_value is None else json.dumps(p.old_value),
            "newValue": None if p.new_value is None else json.dumps(p.new_value),
        }
        for p in change.modified_properties
    ]
    # Entra ID closes each update record with the list of properties it touched.
    names = ", ".join(pascal_case(p.name) for p in change.modified_properties)
    properties.append(
        {
            "displayName": "Included Updated Properties",
            "oldValue": None,
            "newValue": json.dumps(names),
        }
    )
    return properties
