"""Microsoft Graph objects in the shapes a tenant snapshot stores them.

Intune objects are beta shape, Entra objects v1.0 shape (docs/snapshot-format.md). The builders
take every value that varies and fill in what Graph returns around it, so the Contoso sample and
the synthetic generator produce the same shapes. Each builder returns a fresh dict.
"""

import base64
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rules.tenant_collections import ALL_COLLECTIONS

JsonObject = dict[str, Any]

SNAPSHOT_FORMAT: Final = "greenscreen.tenant-snapshot/1"

# Intune names the "All devices" / "All users" virtual groups with these fixed ids inside
# assignment ids (e.g. "<policyId>_adadadad-808e-44e2-905a-0b7873a8a531").
ALL_DEVICES_VIRTUAL_GROUP_ID: Final = "adadadad-808e-44e2-905a-0b7873a8a531"
ALL_LICENSED_USERS_VIRTUAL_GROUP_ID: Final = "acacacac-9df4-4c7d-9d50-4ef0226f57a9"

# Graph reports "never" as the minimum DateTimeOffset rather than null on Autopilot devices.
GRAPH_NEVER: Final = "0001-01-01T00:00:00Z"
# managedDeviceId of an Autopilot device that has not enrolled yet.
EMPTY_GUID: Final = "00000000-0000-0000-0000-000000000000"

GROUP_TARGET: Final = "#microsoft.graph.groupAssignmentTarget"
EXCLUSION_GROUP_TARGET: Final = "#microsoft.graph.exclusionGroupAssignmentTarget"
ALL_DEVICES_TARGET: Final = "#microsoft.graph.allDevicesAssignmentTarget"
ALL_LICENSED_USERS_TARGET: Final = "#microsoft.graph.allLicensedUsersAssignmentTarget"

ENTRA_JOIN_PROFILE: Final = "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile"
HYBRID_JOIN_PROFILE: Final = "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile"

ESP_CONFIGURATION: Final = "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration"


# --- snapshot envelope ---------------------------------------------------------------------------


def tenant_snapshot(
    *, tenant_id: str, captured_at: str, collections: Mapping[str, list[JsonObject]]
) -> JsonObject:
    """The snapshot document, with collections in the order of `ALL_COLLECTIONS`."""
    unknown = set(collections) - set(ALL_COLLECTIONS)
    if unknown:
        raise ValueError(f"not snapshot collections: {sorted(unknown)}")
    return {
        "format": SNAPSHOT_FORMAT,
        "tenantId": tenant_id,
        "capturedAt": captured_at,
        "collections": {path: collections[path] for path in ALL_COLLECTIONS if path in collections},
        "errors": {},
    }


def render_snapshot_json(snapshot: Mapping[str, Any], *, indent: int | None = 2) -> str:
    """Serialise a snapshot byte-stably: same dict in, same text out."""
    separators = None if indent is not None else (",", ":")
    return json.dumps(snapshot, indent=indent, ensure_ascii=False, separators=separators) + "\n"


# --- assignment targets and assignments ----------------------------------------------------------


def _target(odata_type: str, filter_id: str | None, filter_type: str) -> JsonObject:
    # Beta returns the filter fields on every target, "none" when no filter is attached.
    return {
        "@odata.type": odata_type,
        "deviceAndAppManagementAssignmentFilterId": filter_id,
        "deviceAndAppManagementAssignmentFilterType": filter_type,
    }


def group_target(
    group_id: str, *, filter_id: str | None = None, filter_type: str = "none"
) -> JsonObject:
    return {**_target(GROUP_TARGET, filter_id, filter_type), "groupId": group_id}


def exclusion_group_target(group_id: str) -> JsonObject:
    return {**_target(EXCLUSION_GROUP_TARGET, None, "none"), "groupId": group_id}


def all_devices_target(*, filter_id: str | None = None, filter_type: str = "none") -> JsonObject:
    return _target(ALL_DEVICES_TARGET, filter_id, filter_type)


def all_licensed_users_target(
    *, filter_id: str | None = None, filter_type: str = "none"
) -> JsonObject:
    return _target(ALL_LICENSED_USERS_TARGET, filter_id, filter_type)


def _target_key(target: Mapping[str, Any]) -> str:
    if target["@odata.type"] == ALL_DEVICES_TARGET:
        return ALL_DEVICES_VIRTUAL_GROUP_ID
    if target["@odata.type"] == ALL_LICENSED_USERS_TARGET:
        return ALL_LICENSED_USERS_VIRTUAL_GROUP_ID
    return str(target["groupId"])


def profile_assignment(profile_id: str, target: JsonObject) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.windowsAutopilotDeploymentProfileAssignment",
        "id": f"{profile_id}_{_target_key(target)}",
        "target": target,
        "source": "direct",
        "sourceId": profile_id,
    }


def enrollment_configuration_assignment(configuration_id: str, target: JsonObject) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.enrollmentConfigurationAssignment",
        "id": f"{configuration_id}_{_target_key(target)}",
        "target": target,
        "source": "direct",
        "sourceId": configuration_id,
    }


def device_configuration_assignment(configuration_id: str, target: JsonObject) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.deviceConfigurationAssignment",
        "id": f"{configuration_id}_{_target_key(target)}",
        "source": "direct",
        "sourceId": configuration_id,
        "intent": "apply",
        "target": target,
    }


def configuration_policy_assignment(policy_id: str, target: JsonObject) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicyAssignment",
        "id": f"{policy_id}_{_target_key(target)}",
        "target": target,
        "source": "direct",
        "sourceId": policy_id,
    }


def script_assignment(script_id: str, target: JsonObject) -> JsonObject:
    # Script assignment ids join script and group with a colon, unlike the other collections.
    return {
        "@odata.type": "#microsoft.graph.deviceManagementScriptAssignment",
        "id": f"{script_id}:{_target_key(target)}",
        "target": target,
    }


def compliance_policy_assignment(policy_id: str, target: JsonObject) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.deviceCompliancePolicyAssignment",
        "id": f"{policy_id}_{_target_key(target)}",
        "target": target,
        "source": "direct",
        "sourceId": policy_id,
    }


_INTENT_ORDINALS: Final = {"available": 0, "required": 1, "uninstall": 2}


def app_assignment(target: JsonObject, *, intent: str, settings: JsonObject | None) -> JsonObject:
    exclusion = 1 if target["@odata.type"] == EXCLUSION_GROUP_TARGET else 0
    return {
        "@odata.type": "#microsoft.graph.mobileAppAssignment",
        "id": f"{_target_key(target)}_{_INTENT_ORDINALS.get(intent, 3)}_{exclusion}",
        "intent": intent,
        "target": target,
        "settings": settings,
        "source": "direct",
        "sourceId": None,
    }


# --- app assignment settings, per app type -------------------------------------------------------


def win32_assignment_settings(
    *, notifications: str = "showAll", deadline: str | None = None
) -> JsonObject:
    install_time = (
        None
        if deadline is None
        else {
            "@odata.type": "#microsoft.graph.mobileAppInstallTimeSettings",
            "useLocalTime": True,
            "startDateTime": None,
            "deadlineDateTime": deadline,
        }
    )
    return {
        "@odata.type": "#microsoft.graph.win32LobAppAssignmentSettings",
        "notifications": notifications,
        "restartSettings": None,
        "installTimeSettings": install_time,
        "deliveryOptimizationPriority": "notConfigured",
        "autoUpdateSettings": None,
    }


def win_get_assignment_settings() -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.winGetAppAssignmentSettings",
        "notifications": "showAll",
        "restartSettings": None,
        "installTimeSettings": None,
    }


def appx_assignment_settings(*, use_device_context: bool) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.windowsUniversalAppXAppAssignmentSettings",
        "useDeviceContext": use_device_context,
    }


def store_for_business_assignment_settings(*, use_device_context: bool) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.microsoftStoreForBusinessAppAssignmentSettings",
        "useDeviceContext": use_device_context,
    }


def ios_store_assignment_settings() -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.iosStoreAppAssignmentSettings",
        "vpnConfigurationId": None,
        "uninstallOnDeviceRemoval": False,
        "isRemovable": True,
        "preventManagedAppBackup": None,
    }


def android_managed_store_assignment_settings() -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.androidManagedStoreAppAssignmentSettings",
        "androidManagedStoreAppTrackIds": [],
        "autoUpdateMode": "default",
    }


# --- groups and Entra devices --------------------------------------------------------------------


def dynamic_group(
    *,
    group_id: str,
    display_name: str,
    description: str,
    membership_rule: str,
    created: str,
    processing_state: str = "On",
) -> JsonObject:
    """A dynamic group: its membership is predicted from the rule, so no `members` are read."""
    return {
        "id": group_id,
        "displayName": display_name,
        "description": description,
        "groupTypes": ["DynamicMembership"],
        "securityEnabled": True,
        "mailEnabled": False,
        "membershipRule": membership_rule,
        "membershipRuleProcessingState": processing_state,
        "isAssignableToRole": None,
        "createdDateTime": created,
    }


def assigned_group(
    *,
    group_id: str,
    display_name: str,
    description: str,
    created: str,
    members: list[JsonObject],
) -> JsonObject:
    """An assigned (static) security group with its direct members inlined."""
    return {
        "id": group_id,
        "displayName": display_name,
        "description": description,
        "groupTypes": [],
        "securityEnabled": True,
        "mailEnabled": False,
        "membershipRule": None,
        "membershipRuleProcessingState": None,
        "isAssignableToRole": None,
        "createdDateTime": created,
        "members": members,
    }


def device_member(entra_object_id: str) -> JsonObject:
    return {"@odata.type": "#microsoft.graph.device", "id": entra_object_id}


def user_member(user_id: str) -> JsonObject:
    return {"@odata.type": "#microsoft.graph.user", "id": user_id}


def ztd_id_rule() -> str:
    # Rule text as Microsoft documents it, including its "[ZTDid]" casing.
    return '(device.devicePhysicalIDs -any (_ -startsWith "[ZTDid]"))'


def order_id_rule(group_tag: str) -> str:
    return f'(device.devicePhysicalIds -any _ -eq "[OrderID]:{group_tag}")'


def purchase_order_rule(purchase_order: str) -> str:
    return f'(device.devicePhysicalIds -any _ -eq "[PurchaseOrderId]:{purchase_order}")'


@dataclass(frozen=True)
class Hardware:
    """What the OEM reports for a model when it registers the hardware hash."""

    manufacturer: str
    model: str
    system_family: str
    sku_number: str


@dataclass(frozen=True)
class RegisteredDevice:
    """One Autopilot registration: the facts both of its Graph objects are built from."""

    autopilot_id: str
    serial_number: str
    hardware: Hardware
    group_tag: str
    purchase_order: str
    entra_object_id: str
    entra_device_id: str
    hardware_hash_id: str
    registered: str


def profile_reference(profile: Mapping[str, Any]) -> JsonObject:
    """How an Autopilot device carries its (intended) deployment profile in the snapshot."""
    return {
        "@odata.type": profile["@odata.type"],
        "id": profile["id"],
        "displayName": profile["displayName"],
    }


def autopilot_device(
    device: RegisteredDevice,
    *,
    profile: Mapping[str, Any] | None,
    assignment_status: str,
    assigned_at: str | None,
    enrollment_state: str = "notContacted",
    managed_device_id: str = EMPTY_GUID,
    display_name: str = "",
    user_principal_name: str = "",
    remediation_state: str = "noRemediationRequired",
    last_contacted: str = GRAPH_NEVER,
    intended_profile: Mapping[str, Any] | None = None,
) -> JsonObject:
    """A beta windowsAutopilotDeviceIdentity; `intended_profile` defaults to `profile`."""
    intended = profile if intended_profile is None else intended_profile
    return {
        "@odata.type": "#microsoft.graph.windowsAutopilotDeviceIdentity",
        "id": device.autopilot_id,
        "displayName": display_name,
        "serialNumber": device.serial_number,
        "groupTag": device.group_tag,
        "purchaseOrderIdentifier": device.purchase_order,
        "manufacturer": device.hardware.manufacturer,
        "model": device.hardware.model,
        "systemFamily": device.hardware.system_family,
        "skuNumber": device.hardware.sku_number,
        "enrollmentState": enrollment_state,
        "deploymentProfileAssignmentStatus": assignment_status,
        "deploymentProfileAssignmentDetailedStatus": "none",
        "deploymentProfileAssignedDateTime": GRAPH_NEVER if assigned_at is None else assigned_at,
        # beta carries the Entra deviceId under both names; v1.0 only the first.
        "azureActiveDirectoryDeviceId": device.entra_device_id,
        "azureAdDeviceId": device.entra_device_id,
        "managedDeviceId": managed_device_id,
        "userPrincipalName": user_principal_name,
        "userlessEnrollmentStatus": "allowed",
        "remediationState": remediation_state,
        "lastContactedDateTime": last_contacted,
        "deploymentProfile": None if profile is None else profile_reference(profile),
        "intendedDeploymentProfile": None if intended is None else profile_reference(intended),
    }


def entra_device(
    device: RegisteredDevice,
    *,
    display_name: str,
    operating_system_version: str,
    trust_type: str = "AzureAd",
) -> JsonObject:
    """The v1.0 Entra device object Autopilot creates at import (the `[ZTDId]` anchor)."""
    physical_ids = [f"[ZTDId]:{device.autopilot_id}"]
    if device.group_tag:
        # Intune's group tag surfaces on the Entra object as OrderID.
        physical_ids.append(f"[OrderID]:{device.group_tag}")
    if device.purchase_order:
        physical_ids.append(f"[PurchaseOrderId]:{device.purchase_order}")
    physical_ids.append(f"[HWID]:h:{device.hardware_hash_id}")
    return {
        "id": device.entra_object_id,
        "deviceId": device.entra_device_id,
        "displayName": display_name,
        "physicalIds": physical_ids,
        "trustType": trust_type,
        "accountEnabled": True,
        "operatingSystem": "Windows",
        "operatingSystemVersion": operating_system_version,
        "createdDateTime": device.registered,
    }


# --- apps ----------------------------------------------------------------------------------------


def _windows_minimum_os() -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.windowsMinimumOperatingSystem",
        "v8_0": False,
        "v8_1": False,
        "v10_0": False,
        "v10_1607": True,
        "v10_1703": False,
        "v10_1709": False,
        "v10_1803": False,
        "v10_1809": False,
        "v10_1903": False,
        "v10_1909": False,
        "v10_2004": False,
        "v10_2H20": False,
        "v10_21H1": False,
    }


def _mobile_app_base(
    *,
    odata_type: str,
    app_id: str,
    display_name: str,
    description: str,
    publisher: str,
    created: str,
    last_modified: str,
    assignments: list[JsonObject],
    relationships: list[JsonObject] | None = None,
    dependent_app_count: int = 0,
    superseding_app_count: int = 0,
    superseded_app_count: int = 0,
    information_url: str | None = None,
    privacy_url: str | None = None,
) -> JsonObject:
    counts = dependent_app_count + superseding_app_count + superseded_app_count
    if relationships is None:
        if counts:
            raise ValueError(f"{display_name}: counts say relationships exist, none given")
        relationships = []
    return {
        "@odata.type": odata_type,
        "id": app_id,
        "displayName": display_name,
        "description": description,
        "publisher": publisher,
        # LIST omits icons: only a GET of one app returns largeIcon content.
        "largeIcon": None,
        "createdDateTime": created,
        "lastModifiedDateTime": last_modified,
        "isFeatured": False,
        "privacyInformationUrl": privacy_url,
        "informationUrl": information_url,
        "owner": "",
        "developer": "",
        "notes": "",
        "uploadState": 1,
        "publishingState": "published",
        "isAssigned": bool(assignments),
        "roleScopeTagIds": ["0"],
        "dependentAppCount": dependent_app_count,
        "supersedingAppCount": superseding_app_count,
        "supersededAppCount": superseded_app_count,
        "assignments": assignments,
        "relationships": relationships,
    }


@dataclass(frozen=True)
class Win32Detection:
    """One detection check, in both forms beta returns: `detectionRules` and unified `rules`."""

    detection: JsonObject
    rule: JsonObject


def msi_product_code_detection(product_code: str) -> Win32Detection:
    return Win32Detection(
        detection={
            "@odata.type": "#microsoft.graph.win32LobAppProductCodeDetection",
            "productCode": product_code,
            "productVersionOperator": "notConfigured",
            "productVersion": None,
        },
        rule={
            "@odata.type": "#microsoft.graph.win32LobAppProductCodeRule",
            "ruleType": "detection",
            "productCode": product_code,
            "productVersionOperator": "notConfigured",
            "productVersion": None,
        },
    )


def registry_detection(key_path: str, value_name: str, version: str) -> Win32Detection:
    return Win32Detection(
        detection={
            "@odata.type": "#microsoft.graph.win32LobAppRegistryDetection",
            "check32BitOn64System": False,
            "keyPath": key_path,
            "valueName": value_name,
            "detectionType": "version",
            "operator": "greaterThanOrEqual",
            "detectionValue": version,
        },
        rule={
            "@odata.type": "#microsoft.graph.win32LobAppRegistryRule",
            "ruleType": "detection",
            "check32BitOn64System": False,
            "keyPath": key_path,
            "valueName": value_name,
            "operationType": "version",
            "operator": "greaterThanOrEqual",
            "comparisonValue": version,
        },
    )


def file_detection(path: str, file_name: str, version: str) -> Win32Detection:
    return Win32Detection(
        detection={
            "@odata.type": "#microsoft.graph.win32LobAppFileSystemDetection",
            "path": path,
            "fileOrFolderName": file_name,
            "check32BitOn64System": False,
            "detectionType": "version",
            "operator": "greaterThanOrEqual",
            "detectionValue": version,
        },
        rule={
            "@odata.type": "#microsoft.graph.win32LobAppFileSystemRule",
            "ruleType": "detection",
            "path": path,
            "fileOrFolderName": file_name,
            "check32BitOn64System": False,
            "operationType": "version",
            "operator": "greaterThanOrEqual",
            "comparisonValue": version,
        },
    )


def msi_information(
    *, product_code: str, product_version: str, upgrade_code: str, product_name: str, publisher: str
) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.win32LobAppMsiInformation",
        "productCode": product_code,
        "productVersion": product_version,
        "upgradeCode": upgrade_code,
        "requiresReboot": False,
        "packageType": "perMachine",
        "productName": product_name,
        "publisher": publisher,
    }


def _default_return_codes() -> list[JsonObject]:
    # The codes Intune pre-fills for every new Win32 app.
    return [
        {"@odata.type": "#microsoft.graph.win32LobAppReturnCode", "returnCode": code, "type": kind}
        for code, kind in (
            (0, "success"),
            (1707, "success"),
            (3010, "softReboot"),
            (1641, "hardReboot"),
            (1618, "retry"),
        )
    ]


def win32_app(
    *,
    app_id: str,
    display_name: str,
    description: str,
    publisher: str,
    display_version: str,
    file_name: str,
    setup_file: str,
    size: int,
    install_command_line: str,
    uninstall_command_line: str,
    run_as_account: str,
    detections: Sequence[Win32Detection],
    created: str,
    last_modified: str,
    assignments: list[JsonObject],
    relationships: list[JsonObject] | None = None,
    dependent_app_count: int = 0,
    superseding_app_count: int = 0,
    superseded_app_count: int = 0,
    msi: JsonObject | None = None,
    max_run_time_minutes: int = 60,
    device_restart_behavior: str = "suppress",
    information_url: str | None = None,
) -> JsonObject:
    return {
        **_mobile_app_base(
            odata_type="#microsoft.graph.win32LobApp",
            app_id=app_id,
            display_name=display_name,
            description=description,
            publisher=publisher,
            created=created,
            last_modified=last_modified,
            assignments=assignments,
            relationships=relationships,
            dependent_app_count=dependent_app_count,
            superseding_app_count=superseding_app_count,
            superseded_app_count=superseded_app_count,
            information_url=information_url,
        ),
        "committedContentVersion": "1",
        "fileName": file_name,
        "size": size,
        "installCommandLine": install_command_line,
        "uninstallCommandLine": uninstall_command_line,
        "applicableArchitectures": "x64",
        "minimumSupportedOperatingSystem": _windows_minimum_os(),
        "minimumFreeDiskSpaceInMB": None,
        "minimumMemoryInMB": None,
        "minimumNumberOfProcessors": None,
        "minimumCpuSpeedInMHz": None,
        "detectionRules": [d.detection for d in detections],
        "requirementRules": [],
        "rules": [d.rule for d in detections],
        "installExperience": {
            "@odata.type": "#microsoft.graph.win32LobAppInstallExperience",
            "runAsAccount": run_as_account,
            "deviceRestartBehavior": device_restart_behavior,
            "maxRunTimeInMinutes": max_run_time_minutes,
        },
        "returnCodes": _default_return_codes(),
        "msiInformation": msi,
        "setupFilePath": setup_file,
        "minimumSupportedWindowsRelease": "1607",
        "displayVersion": display_version,
        "allowAvailableUninstall": True,
    }


def windows_msi_app(
    *,
    app_id: str,
    display_name: str,
    description: str,
    publisher: str,
    file_name: str,
    size: int,
    product_code: str,
    product_version: str,
    use_device_context: bool,
    created: str,
    last_modified: str,
    assignments: list[JsonObject],
    command_line: str = "/qn",
) -> JsonObject:
    return {
        **_mobile_app_base(
            odata_type="#microsoft.graph.windowsMobileMSI",
            app_id=app_id,
            display_name=display_name,
            description=description,
            publisher=publisher,
            created=created,
            last_modified=last_modified,
            assignments=assignments,
        ),
        "committedContentVersion": "1",
        "fileName": file_name,
        "size": size,
        "commandLine": command_line,
        "productCode": product_code,
        "productVersion": product_version,
        "ignoreVersionDetection": False,
        "identityVersion": product_version,
        "useDeviceContext": use_device_context,
    }


def office_suite_app(
    *, app_id: str, created: str, last_modified: str, assignments: list[JsonObject]
) -> JsonObject:
    return {
        **_mobile_app_base(
            odata_type="#microsoft.graph.officeSuiteApp",
            app_id=app_id,
            display_name="Microsoft 365 Apps for Windows 10 and later",
            description="Microsoft 365 Apps for Windows 10 and later",
            publisher="Microsoft",
            created=created,
            last_modified=last_modified,
            assignments=assignments,
            information_url="https://products.office.com/en-us/explore-office-for-home",
            privacy_url="https://privacy.microsoft.com/en-us/privacystatement",
        ),
        "autoAcceptEula": True,
        "productIds": ["o365ProPlusRetail"],
        "excludedApps": {
            "@odata.type": "#microsoft.graph.excludedApps",
            "access": False,
            "bing": True,
            "excel": False,
            "groove": True,
            "infoPath": True,
            "lync": True,
            "oneDrive": False,
            "oneNote": False,
            "outlook": False,
            "powerPoint": False,
            "publisher": False,
            "sharePointDesigner": True,
            "teams": True,
            "visio": True,
            "word": False,
        },
        "useSharedComputerActivation": False,
        "updateChannel": "current",
        "officeSuiteAppDefaultFileFormat": "officeOpenXMLFormat",
        "officePlatformArchitecture": "x64",
        "localesToInstall": ["en-us"],
        "installProgressDisplayLevel": "none",
        "shouldUninstallOlderVersionsOfOffice": True,
        "targetVersion": "",
        "updateVersion": "",
        "officeConfigurationXml": None,
    }


def win_get_app(
    *,
    app_id: str,
    display_name: str,
    description: str,
    publisher: str,
    package_identifier: str,
    run_as_account: str,
    created: str,
    last_modified: str,
    assignments: list[JsonObject],
) -> JsonObject:
    return {
        **_mobile_app_base(
            odata_type="#microsoft.graph.winGetApp",
            app_id=app_id,
            display_name=display_name,
            description=description,
            publisher=publisher,
            created=created,
            last_modified=last_modified,
            assignments=assignments,
        ),
        "manifestHash": None,
        "packageIdentifier": package_identifier,
        "installExperience": {
            "@odata.type": "#microsoft.graph.winGetAppInstallExperience",
            "runAsAccount": run_as_account,
        },
    }


def appx_app(
    *,
    app_id: str,
    display_name: str,
    description: str,
    publisher: str,
    file_name: str,
    size: int,
    identity_name: str,
    identity_version: str,
    created: str,
    last_modified: str,
    assignments: list[JsonObject],
) -> JsonObject:
    return {
        **_mobile_app_base(
            odata_type="#microsoft.graph.windowsUniversalAppX",
            app_id=app_id,
            display_name=display_name,
            description=description,
            publisher=publisher,
            created=created,
            last_modified=last_modified,
            assignments=assignments,
        ),
        "committedContentVersion": "1",
        "fileName": file_name,
        "size": size,
        "applicableArchitectures": "x64",
        "applicableDeviceTypes": "desktop",
        "identityName": identity_name,
        "identityPublisherHash": "8wekyb3d8bbwe",
        "identityResourceIdentifier": None,
        "isBundle": True,
        "minimumSupportedOperatingSystem": _windows_minimum_os(),
        "identityVersion": identity_version,
    }


def store_for_business_app(
    *,
    app_id: str,
    display_name: str,
    description: str,
    publisher: str,
    product_key: str,
    package_identity_name: str,
    created: str,
    last_modified: str,
    assignments: list[JsonObject],
) -> JsonObject:
    return {
        **_mobile_app_base(
            odata_type="#microsoft.graph.microsoftStoreForBusinessApp",
            app_id=app_id,
            display_name=display_name,
            description=description,
            publisher=publisher,
            created=created,
            last_modified=last_modified,
            assignments=assignments,
        ),
        "usedLicenseCount": 0,
        "totalLicenseCount": 0,
        "productKey": product_key,
        "licenseType": "online",
        "packageIdentityName": package_identity_name,
    }


def edge_app(
    *, app_id: str, created: str, last_modified: str, assignments: list[JsonObject]
) -> JsonObject:
    return {
        **_mobile_app_base(
            odata_type="#microsoft.graph.windowsMicrosoftEdgeApp",
            app_id=app_id,
            display_name="Microsoft Edge for Windows 10 and later",
            description="Microsoft Edge is the browser for business with modern and legacy web "
            "compatibility, new privacy features and more.",
            publisher="Microsoft",
            created=created,
            last_modified=last_modified,
            assignments=assignments,
            information_url="https://www.microsoft.com/en-us/windows/microsoft-edge",
            privacy_url="https://privacy.microsoft.com/en-US/privacystatement",
        ),
        "channel": "stable",
        "displayLanguageLocale": None,
    }


def ios_store_app(
    *,
    app_id: str,
    display_name: str,
    publisher: str,
    bundle_id: str,
    app_store_url: str,
    created: str,
    last_modified: str,
    assignments: list[JsonObject],
) -> JsonObject:
    return {
        **_mobile_app_base(
            odata_type="#microsoft.graph.iosStoreApp",
            app_id=app_id,
            display_name=display_name,
            description=display_name,
            publisher=publisher,
            created=created,
            last_modified=last_modified,
            assignments=assignments,
        ),
        "bundleId": bundle_id,
        "appStoreUrl": app_store_url,
        "applicableDeviceType": {
            "@odata.type": "#microsoft.graph.iosDeviceType",
            "iPad": True,
            "iPhoneAndIPod": True,
        },
        "minimumSupportedOperatingSystem": {
            "@odata.type": "#microsoft.graph.iosMinimumOperatingSystem",
            "v16_0": True,
        },
    }


def android_managed_store_app(
    *,
    app_id: str,
    display_name: str,
    publisher: str,
    package_id: str,
    created: str,
    last_modified: str,
    assignments: list[JsonObject],
) -> JsonObject:
    return {
        **_mobile_app_base(
            odata_type="#microsoft.graph.androidManagedStoreApp",
            app_id=app_id,
            display_name=display_name,
            description=display_name,
            publisher=publisher,
            created=created,
            last_modified=last_modified,
            assignments=assignments,
        ),
        "packageId": package_id,
        "appIdentifier": package_id,
        "usedLicenseCount": 0,
        "totalLicenseCount": 0,
        "appStoreUrl": f"https://play.google.com/store/apps/details?id={package_id}",
        "isPrivate": False,
        "isSystemApp": False,
        "appTracks": [],
        "supportsOemConfig": False,
    }


# --- app relationships ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AppFacts:
    """What a relationship shows about the app at its other end."""

    app_id: str
    display_name: str
    display_version: str
    publisher: str


def dependency(parent: AppFacts, child: AppFacts, *, dependency_type: str) -> JsonObject:
    """The dependency as listed on the parent app (the app that needs `child`)."""
    return {
        "@odata.type": "#microsoft.graph.mobileAppDependency",
        "id": f"{parent.app_id}_{child.app_id}",
        "targetId": child.app_id,
        "targetDisplayName": child.display_name,
        "targetDisplayVersion": child.display_version,
        "targetPublisher": child.publisher,
        "targetPublisherDisplayName": child.publisher,
        "sourceId": parent.app_id,
        "sourceDisplayName": parent.display_name,
        "sourceDisplayVersion": parent.display_version,
        "sourcePublisherDisplayName": parent.publisher,
        "targetType": "child",
        "dependencyType": dependency_type,
        "dependentAppCount": 0,
        "dependsOnAppCount": 0,
    }


def supersedence_pair(
    newer: AppFacts, older: AppFacts, *, supersedence_type: str
) -> tuple[JsonObject, JsonObject]:
    """The supersedence as listed on the superseding app and on the superseded app.

    Graph shows it on both apps: on the newer one the target is the `child` it supersedes, on
    the older one the target is the `parent` that supersedes it.
    """

    def listed_on(source: AppFacts, target: AppFacts, target_type: str) -> JsonObject:
        return {
            "@odata.type": "#microsoft.graph.mobileAppSupersedence",
            "id": f"{newer.app_id}_{older.app_id}",
            "targetId": target.app_id,
            "targetDisplayName": target.display_name,
            "targetDisplayVersion": target.display_version,
            "targetPublisher": target.publisher,
            "targetPublisherDisplayName": target.publisher,
            "sourceId": source.app_id,
            "sourceDisplayName": source.display_name,
            "sourceDisplayVersion": source.display_version,
            "sourcePublisherDisplayName": source.publisher,
            "targetType": target_type,
            "supersedenceType": supersedence_type,
            "supersededAppCount": 1,
            "supersedingAppCount": 1,
        }

    return listed_on(newer, older, "child"), listed_on(older, newer, "parent")


# --- settings catalog ----------------------------------------------------------------------------


def choice_setting_instance(
    definition_id: str, value: str, children: Iterable[JsonObject] = ()
) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
        "settingDefinitionId": definition_id,
        "settingInstanceTemplateReference": None,
        "choiceSettingValue": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingValue",
            "settingValueTemplateReference": None,
            "value": value,
            "children": list(children),
        },
    }


def integer_setting_instance(definition_id: str, value: int) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
        "settingDefinitionId": definition_id,
        "settingInstanceTemplateReference": None,
        "simpleSettingValue": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationIntegerSettingValue",
            "settingValueTemplateReference": None,
            "value": value,
        },
    }


def string_setting_instance(definition_id: str, value: str) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
        "settingDefinitionId": definition_id,
        "settingInstanceTemplateReference": None,
        "simpleSettingValue": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationStringSettingValue",
            "settingValueTemplateReference": None,
            "value": value,
        },
    }


def policy_settings(instances: Iterable[JsonObject]) -> list[JsonObject]:
    """Wrap setting instances the way `configurationPolicies/{id}/settings` lists them."""
    return [
        {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting",
            "id": str(index),
            "settingInstance": instance,
        }
        for index, instance in enumerate(instances)
    ]


def configuration_policy(
    *,
    policy_id: str,
    name: str,
    description: str,
    created: str,
    last_modified: str,
    settings: list[JsonObject],
    assignments: list[JsonObject],
    template_family: str = "none",
    template_id: str = "",
    template_display_name: str | None = None,
) -> JsonObject:
    # Settings catalog policies are named by `name`, not `displayName`.
    return {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
        "id": policy_id,
        "name": name,
        "description": description,
        "platforms": "windows10",
        "technologies": "mdm",
        "createdDateTime": created,
        "lastModifiedDateTime": last_modified,
        "settingCount": len(settings),
        "creationSource": None,
        "roleScopeTagIds": ["0"],
        "isAssigned": bool(assignments),
        "templateReference": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicyTemplateReference",
            "templateId": template_id,
            "templateFamily": template_family,
            "templateDisplayName": template_display_name,
            "templateDisplayVersion": None,
        },
        "priorityMetaData": None,
        "assignments": assignments,
        "settings": settings,
    }


# --- other Intune objects ------------------------------------------------------------------------


def oma_setting_boolean(
    display_name: str, description: str, oma_uri: str, value: bool
) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.omaSettingBoolean",
        "displayName": display_name,
        "description": description,
        "omaUri": oma_uri,
        "isEncrypted": False,
        "secretReferenceValueId": None,
        "value": value,
    }


# Intune stores the values of string, string-XML and base64 OMA-URI settings encrypted: a read
# answers `isEncrypted: true`, a ciphertext in `value` and a `secretReferenceValueId`
# (`<guid>_<configuration id>_<guid>`); the plain value needs
# `getOmaSettingPlainTextValue(secretReferenceValueId='...')` (docs/graph-simulator.md, "Shapes
# and models"). Boolean, integer, floating-point and date settings come back in plain text.
_SECRET_NAMESPACE: Final = uuid.UUID("5e1c7e7a-0a5e-4c1b-9d7e-3c2f0d0e4a11")


def oma_ciphertext(plain: str) -> str:
    """The sample's stand-in for Intune's ciphertext: base64 of the UTF-16LE text.

    Only the Graph simulator turns it back (`tests/graphsim/oma_secrets.py`); nothing else may
    read it, as nothing can read Intune's real ciphertext.
    """
    return base64.b64encode(plain.encode("utf-16-le")).decode("ascii")


def secret_reference_value_id(configuration_id: str, oma_uri: str) -> str:
    first = uuid.uuid5(_SECRET_NAMESPACE, f"{configuration_id}|{oma_uri}|tenant")
    last = uuid.uuid5(_SECRET_NAMESPACE, f"{configuration_id}|{oma_uri}|value")
    return f"{first}_{configuration_id}_{last}"


def oma_setting_string(
    display_name: str, description: str, oma_uri: str, value: str, *, configuration_id: str
) -> JsonObject:
    """A string OMA-URI setting as Graph reads it back: encrypted."""
    return {
        "@odata.type": "#microsoft.graph.omaSettingString",
        "displayName": display_name,
        "description": description,
        "omaUri": oma_uri,
        "isEncrypted": True,
        "secretReferenceValueId": secret_reference_value_id(configuration_id, oma_uri),
        "value": oma_ciphertext(value),
    }


def device_configuration_base(
    *,
    odata_type: str,
    configuration_id: str,
    display_name: str,
    description: str,
    created: str,
    last_modified: str,
    assignments: list[JsonObject],
    version: int = 1,
) -> JsonObject:
    return {
        "@odata.type": odata_type,
        "id": configuration_id,
        "lastModifiedDateTime": last_modified,
        "roleScopeTagIds": ["0"],
        "supportsScopeTags": True,
        "deviceManagementApplicabilityRuleOsEdition": None,
        "deviceManagementApplicabilityRuleOsVersion": None,
        "deviceManagementApplicabilityRuleDeviceMode": None,
        "createdDateTime": created,
        "description": description,
        "displayName": display_name,
        "version": version,
        "assignments": assignments,
    }


def custom_configuration(
    *,
    configuration_id: str,
    display_name: str,
    description: str,
    created: str,
    last_modified: str,
    oma_settings: list[JsonObject],
    assignments: list[JsonObject],
) -> JsonObject:
    return {
        **device_configuration_base(
            odata_type="#microsoft.graph.windows10CustomConfiguration",
            configuration_id=configuration_id,
            display_name=display_name,
            description=description,
            created=created,
            last_modified=last_modified,
            assignments=assignments,
        ),
        "omaSettings": oma_settings,
    }


def platform_script(
    *,
    script_id: str,
    display_name: str,
    description: str,
    file_name: str,
    script_content_base64: str,
    run_as_account: str,
    created: str,
    last_modified: str,
    assignments: list[JsonObject],
) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.deviceManagementScript",
        "id": script_id,
        "displayName": display_name,
        "description": description,
        "scriptContent": script_content_base64,
        "createdDateTime": created,
        "lastModifiedDateTime": last_modified,
        "runAsAccount": run_as_account,
        "enforceSignatureCheck": False,
        "fileName": file_name,
        "roleScopeTagIds": ["0"],
        "runAs32Bit": False,
        "assignments": assignments,
    }


def block_after_grace_period(
    *, rule_id: str, action_id: str, grace_period_hours: int
) -> list[JsonObject]:
    """`scheduledActionsForRule` with the mandatory "mark non-compliant" block action."""
    return [
        {
            "@odata.type": "#microsoft.graph.deviceComplianceScheduledActionForRule",
            "id": rule_id,
            "ruleName": "PasswordRequired",
            "scheduledActionConfigurations": [
                {
                    "@odata.type": "#microsoft.graph.deviceComplianceActionItem",
                    "id": action_id,
                    "gracePeriodHours": grace_period_hours,
                    "actionType": "block",
                    # Graph answers the all-zero GUID, not "", when no template is chosen.
                    "notificationTemplateId": EMPTY_GUID,
                    "notificationMessageCCList": [],
                }
            ],
        }
    ]


def assignment_filter(
    *,
    filter_id: str,
    display_name: str,
    description: str,
    rule: str,
    created: str,
    last_modified: str,
) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter",
        "id": filter_id,
        "createdDateTime": created,
        "lastModifiedDateTime": last_modified,
        "displayName": display_name,
        "description": description,
        "platform": "windows10AndLater",
        "rule": rule,
        "roleScopeTags": ["0"],
        "payloads": [],
        "assignmentFilterManagementType": "devices",
    }


def domain_join_connector(
    *, connector_id: str, display_name: str, last_connection: str, state: str, version: str
) -> JsonObject:
    return {
        "@odata.type": "#microsoft.graph.deviceManagementDomainJoinConnector",
        "id": connector_id,
        "displayName": display_name,
        "lastConnectionDateTime": last_connection,
        "state": state,
        "version": version,
    }


def autopilot_profile(
    *,
    odata_type: str,
    profile_id: str,
    display_name: str,
    description: str,
    created: str,
    last_modified: str,
    device_name_template: str,
    preprovisioning_allowed: bool,
    assignments: list[JsonObject],
    device_usage_type: str = "singleUser",
    device_type: str = "windowsPc",
    language: str = "user-select",
    keyboard_selection_page_skipped: bool = False,
    hybrid_skip_connectivity_check: bool = True,
) -> JsonObject:
    """A beta Autopilot deployment profile, with both the current and the deprecated OOBE shape."""
    profile = {
        "@odata.type": odata_type,
        "id": profile_id,
        "displayName": display_name,
        "description": description,
        "language": language,
        "locale": language,
        "createdDateTime": created,
        "lastModifiedDateTime": last_modified,
        # Deprecated, still returned alongside outOfBoxExperienceSetting.
        "outOfBoxExperienceSettings": {
            "@odata.type": "#microsoft.graph.outOfBoxExperienceSettings",
            "hidePrivacySettings": True,
            "hideEULA": True,
            "userType": "standard",
            "deviceUsageType": device_usage_type,
            "skipKeyboardSelectionPage": keyboard_selection_page_skipped,
            "hideEscapeLink": True,
        },
        "outOfBoxExperienceSetting": {
            "@odata.type": "#microsoft.graph.outOfBoxExperienceSetting",
            "privacySettingsHidden": True,
            "eulaHidden": True,
            "userType": "standard",
            "deviceUsageType": device_usage_type,
            "keyboardSelectionPageSkipped": keyboard_selection_page_skipped,
            "escapeLinkHidden": True,
        },
        "enrollmentStatusScreenSettings": None,
        "extractHardwareHash": True,
        "hardwareHashExtractionEnabled": True,
        "deviceNameTemplate": device_name_template,
        "deviceType": device_type,
        # Deprecated since May 2024 in favour of preprovisioningAllowed; Graph keeps both in step.
        "enableWhiteGlove": preprovisioning_allowed,
        "preprovisioningAllowed": preprovisioning_allowed,
        "roleScopeTagIds": ["0"],
        "managementServiceAppId": None,
        "assignments": assignments,
    }
    if odata_type == HYBRID_JOIN_PROFILE:
        profile["hybridAzureADJoinSkipConnectivityCheck"] = hybrid_skip_connectivity_check
    return profile


def enrollment_status_page(
    *,
    configuration_id: str,
    display_name: str,
    description: str,
    priority: int,
    created: str,
    last_modified: str,
    selected_app_ids: list[str],
    timeout_minutes: int,
    assignments: list[JsonObject],
    default: bool = False,
    show_installation_progress: bool = True,
) -> JsonObject:
    """An ESP profile; the default one differs only in its configuration type and priority 0."""
    return {
        "@odata.type": ESP_CONFIGURATION,
        "id": configuration_id,
        "displayName": display_name,
        "description": description,
        "priority": priority,
        "createdDateTime": created,
        "lastModifiedDateTime": last_modified,
        "version": 1,
        "roleScopeTagIds": ["0"],
        "deviceEnrollmentConfigurationType": (
            "defaultWindows10EnrollmentCompletionPageConfiguration"
            if default
            else "windows10EnrollmentCompletionPageConfiguration"
        ),
        "showInstallationProgress": show_installation_progress,
        "blockDeviceSetupRetryByUser": False,
        "allowDeviceResetOnInstallFailure": False,
        "allowLogCollectionOnInstallFailure": True,
        "customErrorMessage": "Setup could not be completed. Please try again or contact your "
        "support person for help.",
        "installProgressTimeoutInMinutes": timeout_minutes,
        "allowDeviceUseOnInstallFailure": False,
        "selectedMobileAppIds": selected_app_ids,
        "allowNonBlockingAppInstallation": False,
        "installQualityUpdates": False,
        "trackInstallProgressForAutopilotOnly": True,
        "disableUserStatusTrackingAfterFirstUser": True,
        "assignments": assignments,
    }


# --- tenant-wide policies ------------------------------------------------------------------------

INTUNE_APP_ID: Final = "0000000a-0000-0000-c000-000000000000"
INTUNE_ENROLLMENT_APP_ID: Final = "d4ebce55-015a-49b5-a083-c84d1797ae8c"


def intune_mdm_policy(*, applies_to: str = "all") -> JsonObject:
    """The Microsoft Intune entry of `policies/mobileDeviceManagementPolicies`, default URLs."""
    # The policy's id is the application id of the MDM app it configures.
    return {
        "@odata.type": "#microsoft.graph.mobilityManagementPolicy",
        "id": INTUNE_APP_ID,
        "appliesTo": applies_to,
        "complianceUrl": "https://portal.manage.microsoft.com/?portalAction=Compliance",
        "description": "",
        "discoveryUrl": "https://enrollment.manage.microsoft.com/enrollmentserver/discovery.svc",
        "displayName": "Microsoft Intune",
        "termsOfUseUrl": "https://portal.manage.microsoft.com/TermsofUse.aspx",
        "isValid": True,
        "includedGroups": [],
    }


def device_registration_policy(*, user_device_quota: int = 50) -> JsonObject:
    """The v1.0 singleton; users may join devices, registering users are not local admins."""
    return {
        "id": "deviceRegistrationPolicy",
        "displayName": "Device Registration Policy",
        "description": "Tenant-wide policy that manages initial provisioning controls using "
        "quota restrictions, additional authentication and authorization checks",
        "userDeviceQuota": user_device_quota,
        "multiFactorAuthConfiguration": "notRequired",
        "azureADRegistration": {
            "isAdminConfigurable": False,
            "allowedToRegister": {
                "@odata.type": "#microsoft.graph.allDeviceRegistrationMembership"
            },
        },
        "azureADJoin": {
            "isAdminConfigurable": True,
            "allowedToJoin": {"@odata.type": "#microsoft.graph.allDeviceRegistrationMembership"},
            "localAdmins": {
                "enableGlobalAdmins": True,
                "registeringUsers": {
                    "@odata.type": "#microsoft.graph.noDeviceRegistrationMembership"
                },
            },
        },
        "localAdminPassword": {"isEnabled": True},
    }


def conditional_access_policy(
    *,
    policy_id: str,
    display_name: str,
    created: str,
    include_applications: list[str],
    exclude_applications: list[str],
    exclude_users: list[str],
    built_in_controls: list[str],
) -> JsonObject:
    """An enabled v1.0 conditionalAccessPolicy for all users, granting with any of the controls."""
    return {
        "id": policy_id,
        "templateId": None,
        "displayName": display_name,
        "createdDateTime": created,
        "modifiedDateTime": created,
        "state": "enabled",
        "sessionControls": None,
        "conditions": {
            "userRiskLevels": [],
            "signInRiskLevels": [],
            "clientAppTypes": ["all"],
            "servicePrincipalRiskLevels": [],
            "insiderRiskLevels": None,
            "platforms": None,
            "locations": None,
            "devices": None,
            "clientApplications": None,
            "authenticationFlows": None,
            "applications": {
                "includeApplications": include_applications,
                "excludeApplications": exclude_applications,
                "includeUserActions": [],
                "includeAuthenticationContextClassReferences": [],
                "applicationFilter": None,
            },
            "users": {
                "includeUsers": ["All"],
                "excludeUsers": exclude_users,
                "includeGroups": [],
                "excludeGroups": [],
                "includeRoles": [],
                "excludeRoles": [],
                "includeGuestsOrExternalUsers": None,
                "excludeGuestsOrExternalUsers": None,
            },
        },
        "grantControls": {
            "operator": "OR",
            "builtInControls": built_in_controls,
            "customAuthenticationFactors": [],
            "termsOfUse": [],
            "authenticationStrength": None,
        },
    }
