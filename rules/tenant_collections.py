"""The Graph collections a tenant snapshot holds, keyed by their path under the version root.

These keys are the snapshot contract (docs/snapshot-format.md): the reader
writes them, the rules read them, the simulator serves them. Intune objects are in beta shape.
"""

from typing import Final

AUTOPILOT_PROFILES: Final = "deviceManagement/windowsAutopilotDeploymentProfiles"
AUTOPILOT_DEVICES: Final = "deviceManagement/windowsAutopilotDeviceIdentities"
ENROLLMENT_CONFIGURATIONS: Final = "deviceManagement/deviceEnrollmentConfigurations"
DEVICE_CONFIGURATIONS: Final = "deviceManagement/deviceConfigurations"
SETTINGS_CATALOG_POLICIES: Final = "deviceManagement/configurationPolicies"
PLATFORM_SCRIPTS: Final = "deviceManagement/deviceManagementScripts"
COMPLIANCE_POLICIES: Final = "deviceManagement/deviceCompliancePolicies"
ASSIGNMENT_FILTERS: Final = "deviceManagement/assignmentFilters"
DOMAIN_JOIN_CONNECTORS: Final = "deviceManagement/domainJoinConnectors"
MOBILE_APPS: Final = "deviceAppManagement/mobileApps"
GROUPS: Final = "groups"
DEVICES: Final = "devices"
MDM_POLICIES: Final = "policies/mobileDeviceManagementPolicies"
# A singleton in Graph; the snapshot stores it as a one-element list like every other path.
DEVICE_REGISTRATION_POLICY: Final = "policies/deviceRegistrationPolicy"
CONDITIONAL_ACCESS_POLICIES: Final = "identity/conditionalAccess/policies"
# The error code a snapshot imported from a backup records for data the backup does not hold
# (status 0: nothing was asked of Graph).
NOT_IN_EXPORT: Final = "notInExport"

ALL_COLLECTIONS: Final[tuple[str, ...]] = (
    AUTOPILOT_PROFILES,
    AUTOPILOT_DEVICES,
    ENROLLMENT_CONFIGURATIONS,
    DEVICE_CONFIGURATIONS,
    SETTINGS_CATALOG_POLICIES,
    PLATFORM_SCRIPTS,
    COMPLIANCE_POLICIES,
    ASSIGNMENT_FILTERS,
    DOMAIN_JOIN_CONNECTORS,
    MOBILE_APPS,
    GROUPS,
    DEVICES,
    MDM_POLICIES,
    DEVICE_REGISTRATION_POLICY,
    CONDITIONAL_ACCESS_POLICIES,
)

# Navigation properties inlined on objects of a collection, under their Graph name.
# A per-object navigation that could not be read is absent from the object and recorded in
# the snapshot's `errors` under "<collection>/<object id>/<navigation>".
INLINED_NAVIGATIONS: Final[dict[str, tuple[str, ...]]] = {
    AUTOPILOT_PROFILES: ("assignments",),
    AUTOPILOT_DEVICES: ("deploymentProfile", "intendedDeploymentProfile"),
    ENROLLMENT_CONFIGURATIONS: ("assignments",),
    DEVICE_CONFIGURATIONS: ("assignments",),
    SETTINGS_CATALOG_POLICIES: ("assignments", "settings"),
    PLATFORM_SCRIPTS: ("assignments",),
    COMPLIANCE_POLICIES: ("assignments", "scheduledActionsForRule"),
    MOBILE_APPS: ("assignments", "relationships"),
    GROUPS: ("members",),
    MDM_POLICIES: ("includedGroups",),
}
