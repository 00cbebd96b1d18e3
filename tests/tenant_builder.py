"""A healthy pre-provisioning tenant as a snapshot document, and helpers to break one thing.

    tenant = healthy_tenant().patch(GROUPS, AP_GROUP_ID, membershipRuleProcessingState="Paused")
    snapshot = tenant.snapshot()

The healthy tenant: one Entra-joined pre-provisioning profile assigned to the dynamic
"Autopilot - All devices" group, two registered Autopilot devices (one with an assigned user),
a device-targeted ESP showing progress with the Win32 agent as blocking app, the default ESP,
required device-context payload for every workload, an available app for a user group, and
the tenant-wide policies in their recommended state. Every object is in the shape Graph returns
(beta for Intune), with the navigations the snapshot inlines.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any, Final

from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import (
    ALL_COLLECTIONS,
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

JsonObject = dict[str, Any]

TENANT_ID: Final = "8b1d1a5e-7f3c-4c1e-9d2a-5a6b7c8d9e0f"
CAPTURED_AT: Final = "2026-11-24T10:00:00Z"

AP_GROUP_ID: Final = "grp-autopilot-all-devices"
AP_GROUP_NAME: Final = "Autopilot - All devices"
ZTDID_RULE: Final = '(device.devicePhysicalIDs -any (_ -startsWith "[ZTDid]"))'
USER_GROUP_ID: Final = "grp-all-staff"
USER_GROUP_NAME: Final = "All staff"

PROFILE_ID: Final = "prf-contoso-preprov"
PROFILE_NAME: Final = "Contoso Pre-provisioning"
PROFILE_CREATED: Final = "2024-01-15T09:00:00Z"

DEVICE_A_ID: Final = "apd-pf3aaa01"
DEVICE_A_ENTRA_OBJECT_ID: Final = "entra-obj-pf3aaa01"
DEVICE_A_ENTRA_DEVICE_ID: Final = "entra-dev-pf3aaa01"
DEVICE_A_USER: Final = "adele.vance@contoso.example"
DEVICE_B_ID: Final = "apd-pf3bbb02"
DEVICE_B_ENTRA_OBJECT_ID: Final = "entra-obj-pf3bbb02"
DEVICE_B_ENTRA_DEVICE_ID: Final = "entra-dev-pf3bbb02"
GROUP_TAG: Final = "Contoso"

DEVICE_ESP_ID: Final = "esp-contoso-device"
DEVICE_ESP_NAME: Final = "Contoso device ESP"
DEFAULT_ESP_ID: Final = "tenant_DefaultWindows10EnrollmentCompletionPageConfiguration"
DEFAULT_ESP_NAME: Final = "All users and all devices"
RESTRICTIONS_ID: Final = "tenant_DefaultPlatformRestrictions"
LIMIT_ID: Final = "tenant_DefaultLimit"

AGENT_APP_ID: Final = "app-contoso-agent"
AGENT_APP_NAME: Final = "Contoso Agent"
PORTAL_APP_ID: Final = "app-company-portal"
SKIP_USER_ESP_ID: Final = "cfg-skip-user-esp"
SETTINGS_POLICY_ID: Final = "scp-contoso-baseline"
SCRIPT_ID: Final = "scr-set-time-zone"
COMPLIANCE_ID: Final = "cmp-windows"
SURFACE_FILTER_ID: Final = "flt-surface"
SURFACE_FILTER_RULE: Final = '(device.model -startsWith "Surface")'
# A filter decided only at enrollment: the device name is not known before it.
NAME_FILTER_ID: Final = "flt-device-name"
NAME_FILTER_NAME: Final = "CON device names"
NAME_FILTER_RULE: Final = '(device.deviceName -startsWith "CON-")'
MDM_POLICY_ID: Final = "0000000a-0000-0000-c000-000000000000"

SKIP_USER_STATUS_PAGE_URI: Final = (
    "./Vendor/MSFT/DMClient/Provider/MS DM Server/FirstSyncStatus/SkipUserStatusPage"
)

# Passed to `patch` to delete a property instead of setting it.
REMOVE: Final = object()


# --- assignments ---------------------------------------------------------------------------------


def _target(
    odata_type: str, group_id: str | None, filter_id: str | None, filter_type: str
) -> JsonObject:
    target: JsonObject = {
        "@odata.type": f"#microsoft.graph.{odata_type}",
        "deviceAndAppManagementAssignmentFilterId": filter_id,
        "deviceAndAppManagementAssignmentFilterType": filter_type if filter_id else "none",
    }
    if group_id is not None:
        target["groupId"] = group_id
    return target


_assignment_numbers = itertools.count(1)


def _assignment(target: JsonObject, intent: str | None) -> JsonObject:
    assignment: JsonObject = {"id": f"asg-{next(_assignment_numbers):04d}", "target": target}
    if intent is not None:
        assignment["intent"] = intent
    return assignment


def include_group(
    group_id: str,
    *,
    intent: str | None = None,
    filter_id: str | None = None,
    filter_type: str = "include",
) -> JsonObject:
    """An include assignment; pass `intent` for apps (`required`, `available`, ...)."""
    return _assignment(_target("groupAssignmentTarget", group_id, filter_id, filter_type), intent)


def exclude_group(group_id: str, *, intent: str | None = None) -> JsonObject:
    return _assignment(_target("exclusionGroupAssignmentTarget", group_id, None, "none"), intent)


def all_devices(
    *, intent: str | None = None, filter_id: str | None = None, filter_type: str = "include"
) -> JsonObject:
    return _assignment(_target("allDevicesAssignmentTarget", None, filter_id, filter_type), intent)


def all_users(*, intent: str | None = None) -> JsonObject:
    return _assignment(_target("allLicensedUsersAssignmentTarget", None, None, "none"), intent)


# --- directory objects ---------------------------------------------------------------------------


def dynamic_group(
    group_id: str, name: str, rule: str, *, paused: bool = False, **fields: Any
) -> JsonObject:
    return {
        "id": group_id,
        "displayName": name,
        "description": None,
        "groupTypes": ["DynamicMembership"],
        "securityEnabled": True,
        "mailEnabled": False,
        "mailNickname": group_id,
        "isAssignableToRole": None,
        "membershipRule": rule,
        "membershipRuleProcessingState": "Paused" if paused else "On",
        "createdDateTime": "2024-01-10T08:00:00Z",
        **fields,
    }


def assigned_group(
    group_id: str, name: str, members: list[JsonObject], **fields: Any
) -> JsonObject:
    return {
        "id": group_id,
        "displayName": name,
        "description": None,
        "groupTypes": [],
        "securityEnabled": True,
        "mailEnabled": False,
        "mailNickname": group_id,
        "isAssignableToRole": None,
        "membershipRule": None,
        "membershipRuleProcessingState": None,
        "createdDateTime": "2024-01-10T08:00:00Z",
        "members": members,
        **fields,
    }


def device_member(entra_object_id: str) -> JsonObject:
    return {"@odata.type": "#microsoft.graph.device", "id": entra_object_id}


def user_member(user_id: str) -> JsonObject:
    return {"@odata.type": "#microsoft.graph.user", "id": user_id}


def group_member(group_id: str) -> JsonObject:
    return {"@odata.type": "#microsoft.graph.group", "id": group_id}


def entra_device(
    object_id: str, device_id: str, name: str, physical_ids: list[str], **fields: Any
) -> JsonObject:
    return {
        "id": object_id,
        "deviceId": device_id,
        "displayName": name,
        "physicalIds": physical_ids,
        "trustType": "AzureAd",
        "accountEnabled": True,
        "operatingSystem": "Windows",
        "operatingSystemVersion": "10.0.26100.2033",
        "createdDateTime": "2024-05-01T08:00:00Z",
        **fields,
    }


# --- Autopilot -----------------------------------------------------------------------------------


def autopilot_profile(
    profile_id: str,
    name: str,
    *,
    assignments: list[JsonObject],
    created: str = PROFILE_CREATED,
    preprovisioning: bool = True,
    **fields: Any,
) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
        "id": profile_id,
        "displayName": name,
        "description": None,
        "language": "os-default",
        "locale": "os-default",
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "outOfBoxExperienceSetting": {
            "privacySettingsHidden": True,
            "eulaHidden": True,
            "userType": "standard",
            "deviceUsageType": "singleUser",
            "keyboardSelectionPageSkipped": False,
            "escapeLinkHidden": True,
        },
        "hardwareHashExtractionEnabled": True,
        "deviceNameTemplate": "CON-%SERIAL%",
        "deviceType": "windowsPc",
        "preprovisioningAllowed": preprovisioning,
        "roleScopeTagIds": ["0"],
        "managementServiceAppId": None,
        "assignments": assignments,
        **fields,
    }


def autopilot_device(
    device_id: str,
    *,
    serial: str,
    entra_device_id: str | None,
    group_tag: str | None = GROUP_TAG,
    profile: tuple[str, str] | None = (PROFILE_ID, PROFILE_NAME),
    user: str | None = None,
    **fields: Any,
) -> JsonObject:
    profile_reference = (
        None
        if profile is None
        else {
            "@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
            "id": profile[0],
            "displayName": profile[1],
        }
    )
    return {
        "@odata.type": "#microsoft.graph.windowsAutopilotDeviceIdentity",
        "id": device_id,
        "deploymentProfileAssignmentStatus": "assignedInSync" if profile else "notAssigned",
        "deploymentProfileAssignmentDetailedStatus": "none",
        "deploymentProfileAssignedDateTime": "2024-05-02T08:00:00Z" if profile else None,
        "groupTag": group_tag or "",
        "purchaseOrderIdentifier": "",
        "serialNumber": serial,
        "manufacturer": "Microsoft Corporation",
        "model": "Surface Laptop 6",
        "enrollmentState": "notContacted",
        "lastContactedDateTime": "0001-01-01T00:00:00Z",
        "userPrincipalName": user or "",
        "azureActiveDirectoryDeviceId": entra_device_id,
        "azureAdDeviceId": entra_device_id,
        "managedDeviceId": "00000000-0000-0000-0000-000000000000",
        "displayName": "",
        "userlessEnrollmentStatus": "allowed",
        "remediationState": "noRemediationRequired",
        "deploymentProfile": profile_reference,
        "intendedDeploymentProfile": profile_reference,
        **fields,
    }


def esp(
    configuration_id: str,
    name: str,
    *,
    priority: int,
    assignments: list[JsonObject],
    **fields: Any,
) -> JsonObject:
    """A custom enrollment status page, showing progress and blocking on the agent app."""
    return {
        "@odata.type": "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration",
        "id": configuration_id,
        "displayName": name,
        "description": None,
        "priority": priority,
        "createdDateTime": "2024-01-12T08:00:00Z",
        "lastModifiedDateTime": "2024-01-12T08:00:00Z",
        "version": 1,
        "roleScopeTagIds": ["0"],
        "deviceEnrollmentConfigurationType": "windows10EnrollmentCompletionPageConfiguration",
        "showInstallationProgress": True,
        "blockDeviceSetupRetryByUser": True,
        "allowDeviceResetOnInstallFailure": False,
        "allowLogCollectionOnInstallFailure": True,
        "customErrorMessage": "Contact the service desk.",
        "installProgressTimeoutInMinutes": 90,
        "allowDeviceUseOnInstallFailure": False,
        "selectedMobileAppIds": [AGENT_APP_ID],
        "allowNonBlockingAppInstallation": False,
        "installQualityUpdates": False,
        "trackInstallProgressForAutopilotOnly": True,
        "disableUserStatusTrackingAfterFirstUser": True,
        "assignments": assignments,
        **fields,
    }


def default_esp() -> JsonObject:
    return esp(
        DEFAULT_ESP_ID,
        DEFAULT_ESP_NAME,
        priority=0,
        assignments=[all_devices(), all_users()],
        deviceEnrollmentConfigurationType="defaultWindows10EnrollmentCompletionPageConfiguration",
        showInstallationProgress=False,
        selectedMobileAppIds=[],
    )


# --- Intune payload ------------------------------------------------------------------------------


def win32_app(
    app_id: str,
    name: str,
    *,
    assignments: list[JsonObject],
    run_as: str = "system",
    **fields: Any,
) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.win32LobApp",
        "id": app_id,
        "displayName": name,
        "publisher": "Contoso",
        "createdDateTime": "2024-02-01T08:00:00Z",
        "lastModifiedDateTime": "2024-02-01T08:00:00Z",
        "isAssigned": bool(assignments),
        "dependentAppCount": 0,
        "supersedingAppCount": 0,
        "supersededAppCount": 0,
        "fileName": f"{app_id}.intunewin",
        "installCommandLine": "install.cmd /quiet",
        "uninstallCommandLine": "uninstall.cmd /quiet",
        "applicableArchitectures": "x64",
        "detectionRules": [
            {
                "@odata.type": "#microsoft.graph.win32LobAppFileSystemDetection",
                "path": "C:\\Program Files\\Contoso",
                "fileOrFolderName": "agent.exe",
                "check32BitOn64System": False,
                "detectionType": "exists",
                "operator": "notConfigured",
                "detectionValue": None,
            }
        ],
        "requirementRules": [],
        "installExperience": {
            "runAsAccount": run_as,
            "deviceRestartBehavior": "suppress",
            "maxRunTimeInMinutes": 60,
        },
        "returnCodes": [{"returnCode": 0, "type": "success"}],
        "msiInformation": None,
        "assignments": assignments,
        "relationships": [],
        **fields,
    }


def assignment_filter(filter_id: str, name: str, rule: str) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter",
        "id": filter_id,
        "displayName": name,
        "description": None,
        "platform": "windows10AndLater",
        "rule": rule,
        "assignmentFilterManagementType": "devices",
        "roleScopeTags": ["0"],
        "createdDateTime": "2024-01-20T08:00:00Z",
        "lastModifiedDateTime": "2024-01-20T08:00:00Z",
    }


def _healthy_collections() -> dict[str, list[JsonObject]]:
    ap_group = [include_group(AP_GROUP_ID)]
    required_to_ap_group = [include_group(AP_GROUP_ID, intent="required")]
    return {
        AUTOPILOT_PROFILES: [autopilot_profile(PROFILE_ID, PROFILE_NAME, assignments=ap_group)],
        AUTOPILOT_DEVICES: [
            autopilot_device(
                DEVICE_A_ID,
                serial="PF3AAA01",
                entra_device_id=DEVICE_A_ENTRA_DEVICE_ID,
                user=DEVICE_A_USER,
            ),
            autopilot_device(
                DEVICE_B_ID, serial="PF3BBB02", entra_device_id=DEVICE_B_ENTRA_DEVICE_ID
            ),
        ],
        DEVICES: [
            entra_device(
                DEVICE_A_ENTRA_OBJECT_ID,
                DEVICE_A_ENTRA_DEVICE_ID,
                "PF3AAA01",
                ["[ZTDId]:5c3f0f6e-aaaa-4a01-9a01-000000000001", f"[OrderID]:{GROUP_TAG}"],
            ),
            entra_device(
                DEVICE_B_ENTRA_OBJECT_ID,
                DEVICE_B_ENTRA_DEVICE_ID,
                "PF3BBB02",
                ["[ZTDId]:5c3f0f6e-bbbb-4b02-9b02-000000000002", f"[OrderID]:{GROUP_TAG}"],
            ),
        ],
        GROUPS: [
            dynamic_group(AP_GROUP_ID, AP_GROUP_NAME, ZTDID_RULE),
            dynamic_group(USER_GROUP_ID, USER_GROUP_NAME, '(user.userType -eq "Member")'),
        ],
        ENROLLMENT_CONFIGURATIONS: [
            default_esp(),
            esp(DEVICE_ESP_ID, DEVICE_ESP_NAME, priority=1, assignments=ap_group),
            {
                "@odata.type": "#microsoft.graph.deviceEnrollmentPlatformRestrictionsConfiguration",
                "id": RESTRICTIONS_ID,
                "displayName": "All users and all devices",
                "priority": 0,
                "deviceEnrollmentConfigurationType": "platformRestrictions",
                "windowsRestriction": {
                    "platformBlocked": False,
                    "personalDeviceEnrollmentBlocked": False,
                    "osMinimumVersion": None,
                    "osMaximumVersion": None,
                },
                "assignments": [all_users()],
            },
            {
                "@odata.type": "#microsoft.graph.deviceEnrollmentLimitConfiguration",
                "id": LIMIT_ID,
                "displayName": "All users and all devices",
                "priority": 0,
                "deviceEnrollmentConfigurationType": "limit",
                "limit": 15,
                "assignments": [all_users()],
            },
        ],
        MOBILE_APPS: [
            win32_app(AGENT_APP_ID, AGENT_APP_NAME, assignments=required_to_ap_group),
            {
                "@odata.type": "#microsoft.graph.winGetApp",
                "id": PORTAL_APP_ID,
                "displayName": "Company Portal",
                "publisher": "Microsoft Corporation",
                "packageIdentifier": "9WZDNCRFJ3PZ",
                "installExperience": {"runAsAccount": "user"},
                "createdDateTime": "2024-02-01T08:00:00Z",
                "dependentAppCount": 0,
                "supersedingAppCount": 0,
                "supersededAppCount": 0,
                "assignments": [include_group(USER_GROUP_ID, intent="available")],
                "relationships": [],
            },
        ],
        DEVICE_CONFIGURATIONS: [
            {
                "@odata.type": "#microsoft.graph.windows10CustomConfiguration",
                "id": SKIP_USER_ESP_ID,
                "displayName": "Skip user ESP",
                "createdDateTime": "2024-01-12T08:00:00Z",
                "lastModifiedDateTime": "2024-01-12T08:00:00Z",
                "version": 1,
                "omaSettings": [
                    {
                        "@odata.type": "#microsoft.graph.omaSettingBoolean",
                        "displayName": "SkipUserStatusPage",
                        "description": None,
                        "omaUri": SKIP_USER_STATUS_PAGE_URI,
                        "value": True,
                    }
                ],
                "assignments": ap_group,
            }
        ],
        SETTINGS_CATALOG_POLICIES: [
            {
                "id": SETTINGS_POLICY_ID,
                "name": "Contoso baseline",
                "description": "",
                "platforms": "windows10",
                "technologies": "mdm",
                "settingCount": 0,
                "createdDateTime": "2024-01-12T08:00:00Z",
                "lastModifiedDateTime": "2024-01-12T08:00:00Z",
                "templateReference": {"templateId": "", "templateFamily": "none"},
                "assignments": ap_group,
                "settings": [],
            }
        ],
        PLATFORM_SCRIPTS: [
            {
                "@odata.type": "#microsoft.graph.deviceManagementScript",
                "id": SCRIPT_ID,
                "displayName": "Set time zone",
                "fileName": "Set-TimeZone.ps1",
                "runAsAccount": "system",
                "enforceSignatureCheck": False,
                "runAs32Bit": False,
                "createdDateTime": "2024-01-12T08:00:00Z",
                "lastModifiedDateTime": "2024-01-12T08:00:00Z",
                "assignments": ap_group,
            }
        ],
        COMPLIANCE_POLICIES: [
            {
                "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
                "id": COMPLIANCE_ID,
                "displayName": "Windows compliance",
                "createdDateTime": "2024-01-12T08:00:00Z",
                "lastModifiedDateTime": "2024-01-12T08:00:00Z",
                "bitLockerEnabled": True,
                "secureBootEnabled": True,
                "codeIntegrityEnabled": True,
                "tpmRequired": True,
                "assignments": ap_group,
                "scheduledActionsForRule": [
                    {
                        "ruleName": None,
                        "scheduledActionConfigurations": [
                            {"actionType": "block", "gracePeriodHours": 24}
                        ],
                    }
                ],
            }
        ],
        ASSIGNMENT_FILTERS: [
            assignment_filter(SURFACE_FILTER_ID, "Surface devices", SURFACE_FILTER_RULE),
            assignment_filter(NAME_FILTER_ID, NAME_FILTER_NAME, NAME_FILTER_RULE),
        ],
        DOMAIN_JOIN_CONNECTORS: [],
        MDM_POLICIES: [
            {
                "@odata.type": "#microsoft.graph.mobilityManagementPolicy",
                "id": MDM_POLICY_ID,
                "displayName": "Microsoft Intune",
                "appliesTo": "all",
                "isValid": True,
                "discoveryUrl": "https://enrollment.manage.microsoft.com/enrollmentserver/discovery.svc",
                "termsOfUseUrl": "https://portal.manage.microsoft.com/TermsofUse.aspx",
                "complianceUrl": "https://portal.manage.microsoft.com/?portalAction=Compliance",
                "includedGroups": [],
            }
        ],
        DEVICE_REGISTRATION_POLICY: [
            {
                "id": "deviceRegistrationPolicy",
                "displayName": "Device Registration Policy",
                "userDeviceQuota": 50,
                "multiFactorAuthConfiguration": "notRequired",
                "azureADJoin": {
                    "isAdminConfigurable": True,
                    "allowedToJoin": {
                        "@odata.type": "#microsoft.graph.allDeviceRegistrationMembership"
                    },
                },
            }
        ],
        CONDITIONAL_ACCESS_POLICIES: [],
    }


class TenantBuilder:
    """A snapshot document under construction. Every method changes it and returns the builder."""

    def __init__(self, document: JsonObject) -> None:
        self._document = document

    def document(self) -> JsonObject:
        """A deep copy of the document as it stands."""
        return copy.deepcopy(self._document)

    def snapshot(self) -> TenantSnapshot:
        return TenantSnapshot.from_document(self.document())

    def objects(self, collection: str) -> list[JsonObject]:
        objects: list[JsonObject] = self._document["collections"][collection]
        return objects

    def object(self, collection: str, object_id: str) -> JsonObject:
        for obj in self.objects(collection):
            if obj.get("id") == object_id:
                return obj
        raise KeyError(f"{collection} has no object {object_id}")

    def patch(
        self,
        collection: str,
        object_id: str,
        changes: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> TenantBuilder:
        """Set properties of one object (`changes` for keys like `@odata.type`); REMOVE deletes."""
        obj = self.object(collection, object_id)
        for key, value in {**(changes or {}), **fields}.items():
            if value is REMOVE:
                obj.pop(key, None)
            else:
                obj[key] = copy.deepcopy(value)
        return self

    def assign(self, collection: str, object_id: str, *assignments: JsonObject) -> TenantBuilder:
        """Replace the object's assignments."""
        return self.patch(collection, object_id, assignments=list(assignments))

    def add(self, collection: str, *objects: JsonObject) -> TenantBuilder:
        self.objects(collection).extend(copy.deepcopy(list(objects)))
        return self

    def remove(self, collection: str, object_id: str) -> TenantBuilder:
        self.object(collection, object_id)
        self._document["collections"][collection] = [
            obj for obj in self.objects(collection) if obj.get("id") != object_id
        ]
        return self

    def empty(self, collection: str) -> TenantBuilder:
        """Read, and nothing there."""
        self._document["collections"][collection] = []
        return self

    def unreadable(
        self,
        collection: str,
        *,
        status: int = 403,
        message: str = "Forbidden",
        code: str | None = None,
    ) -> TenantBuilder:
        """The collection could not be read: absent from collections, present in errors."""
        self._document["collections"].pop(collection, None)
        error: dict[str, Any] = {"status": status, "message": message}
        if code is not None:
            error["code"] = code
        self._document.setdefault("errors", {})[collection] = error
        return self

    def navigation_unreadable(
        self,
        collection: str,
        object_id: str,
        navigation: str,
        *,
        status: int = 429,
        message: str = "Too many requests",
    ) -> TenantBuilder:
        """One object's navigation could not be read: the object is present without it."""
        self.patch(collection, object_id, {navigation: REMOVE})
        self._document.setdefault("errors", {})[f"{collection}/{object_id}/{navigation}"] = {
            "status": status,
            "message": message,
        }
        return self


def healthy_tenant() -> TenantBuilder:
    collections = _healthy_collections()
    assert set(collections) == set(ALL_COLLECTIONS)
    return TenantBuilder(
        {
            "format": "greenscreen.tenant-snapshot/1",
            "tenantId": TENANT_ID,
            "capturedAt": CAPTURED_AT,
            "collections": collections,
            "errors": {},
        }
    )
