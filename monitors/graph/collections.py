"""How each snapshot collection is read from Graph: version, $select, $expand, filters, pages.

One table, so the number of requests a full read costs can be reasoned about from here.
Intune collections are polymorphic (win32LobApp, windows10CustomConfiguration, ...): their derived
properties cannot be named in `$select` without a type cast per derived type, so they are read
whole. Directory collections are `$select`ed. The Autopilot device list is read plain: Graph
answers 500 to any `$select` on it and 400 to `$expand=deploymentProfile`; a device's assigned
profile comes from each profile's `assignedDevices` instead (see the reader and
docs/graph-simulator.md, "How real Graph behaves").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from monitors.graph.client import GraphVersion
from rules import tenant_collections as tc

INTUNE_PAGE_SIZE: Final = 1000  # the largest $top the Intune collections accept
DIRECTORY_PAGE_SIZE: Final = 999  # Entra directory objects: $top 1..999
# The settings catalog (`configurationPolicies`, its `settings` and `assignments`) pages at 25
# in the field, whatever `$top` asks; asking for more than it serves changes nothing.
SETTINGS_CATALOG_PAGE_SIZE: Final = 25

GROUP_FIELDS: Final = (
    "id",
    "displayName",
    "description",
    "groupTypes",
    "securityEnabled",
    "mailEnabled",
    "membershipRule",
    "membershipRuleProcessingState",
    "isAssignableToRole",
    "createdDateTime",
)
ENTRA_DEVICE_FIELDS: Final = (
    "id",
    "deviceId",
    "displayName",
    "physicalIds",
    "trustType",
    "accountEnabled",
    "operatingSystem",
    "operatingSystemVersion",
    "createdDateTime",
)
# What the snapshot keeps of an Autopilot device (the plain list carries all of it). Not sent as
# `$select`: Graph answers 500 to that on this collection.
AUTOPILOT_DEVICE_FIELDS: Final = (
    "id",
    "displayName",
    "serialNumber",
    "groupTag",
    "purchaseOrderIdentifier",
    "manufacturer",
    "model",
    "systemFamily",
    "skuNumber",
    "enrollmentState",
    "deploymentProfileAssignmentStatus",
    "deploymentProfileAssignmentDetailedStatus",
    "deploymentProfileAssignedDateTime",
    "azureActiveDirectoryDeviceId",
    "azureAdDeviceId",
    "managedDeviceId",
    "userPrincipalName",
    "userlessEnrollmentStatus",
    "remediationState",
    "lastContactedDateTime",
)
# The Autopilot device statuses that say no profile is assigned (the device then needs no
# `assignedDevices` lookup: its `deploymentProfile` is null).
NOT_ASSIGNED_STATUSES: Final = frozenset({"notAssigned"})


@dataclass(frozen=True)
class CollectionSpec:
    path: str
    version: GraphVersion
    select: tuple[str, ...] = ()
    expand: str = ""
    filter: str = ""
    page_size: int = INTUNE_PAGE_SIZE
    # Directory "advanced queries" (any/startswith on physicalIds) need eventual consistency.
    advanced_query: bool = False
    singleton: bool = False
    # Navigations expanded in the list that can be read per object instead if Graph refuses the
    # expand (documented on every resource as GET /{id}/<navigation>).
    per_object_fallback: tuple[str, ...] = ()
    # Delegated-only in Graph: application permissions cannot read it (docs/permissions.md).
    delegated_only: bool = False

    def list_url(self) -> str:
        params: list[str] = []
        if self.filter:
            params.append(f"$filter={self.filter}")
        if self.select:
            params.append("$select=" + ",".join(self.select))
        if self.expand:
            params.append(f"$expand={self.expand}")
        if not self.singleton:
            params.append(f"$top={self.page_size}")
        if self.advanced_query:
            params.append("$count=true")
        return self.path + ("?" + "&".join(params) if params else "")

    def without_expand(self) -> CollectionSpec:
        return CollectionSpec(
            path=self.path,
            version=self.version,
            select=self.select,
            filter=self.filter,
            page_size=self.page_size,
            advanced_query=self.advanced_query,
            singleton=self.singleton,
        )


def _intune(path: str, expand: str = "assignments", **kwargs: object) -> CollectionSpec:
    fallback = ("assignments",) if "assignments" in expand else ()
    return CollectionSpec(
        path=path,
        version="beta",
        expand=expand,
        per_object_fallback=fallback,
        **kwargs,  # type: ignore[arg-type]
    )


COLLECTION_SPECS: Final[tuple[CollectionSpec, ...]] = (
    _intune(tc.AUTOPILOT_PROFILES),
    # Plain: `$select` answers 500 and `$expand=deploymentProfile` 400 here (profile status
    # fields exist on beta only). `deploymentProfile` is filled from `assignedDevices`.
    CollectionSpec(path=tc.AUTOPILOT_DEVICES, version="beta"),
    _intune(tc.ENROLLMENT_CONFIGURATIONS),
    _intune(tc.DEVICE_CONFIGURATIONS),
    # `settings` cannot be expanded on the list; read per policy (see the reader).
    _intune(tc.SETTINGS_CATALOG_POLICIES, page_size=SETTINGS_CATALOG_PAGE_SIZE),
    _intune(tc.PLATFORM_SCRIPTS),
    _intune(
        tc.COMPLIANCE_POLICIES,
        expand="assignments,scheduledActionsForRule($expand=scheduledActionConfigurations)",
    ),
    _intune(tc.ASSIGNMENT_FILTERS, expand=""),
    _intune(tc.DOMAIN_JOIN_CONNECTORS, expand=""),
    # `relationships` cannot be expanded on the list; read per app when Graph's counts say so.
    _intune(tc.MOBILE_APPS),
    CollectionSpec(
        path=tc.DEVICES,
        version="v1.0",
        select=ENTRA_DEVICE_FIELDS,
        # The query Microsoft documents for finding Autopilot device objects (known-issues.md).
        filter="physicalIds/any(p:startswith(p,'[ZTDId]'))",
        page_size=DIRECTORY_PAGE_SIZE,
        advanced_query=True,
    ),
    CollectionSpec(
        path=tc.MDM_POLICIES,
        version="beta",
        expand="includedGroups",
        delegated_only=True,
    ),
    CollectionSpec(path=tc.DEVICE_REGISTRATION_POLICY, version="v1.0", singleton=True),
    CollectionSpec(
        path=tc.CONDITIONAL_ACCESS_POLICIES, version="v1.0", page_size=DIRECTORY_PAGE_SIZE
    ),
)

# Groups are not listed: only those that something references are read, by id, 15 per request
# (Graph's limit for `id in (...)` on directory objects), 20 requests per batch.
GROUP_IDS_PER_FILTER: Final = 15
MEMBERS_PAGE_SIZE: Final = DIRECTORY_PAGE_SIZE
SETTINGS_PAGE_SIZE: Final = SETTINGS_CATALOG_PAGE_SIZE
# One profile's `assignedDevices` (Autopilot device identities, like the device list).
ASSIGNED_DEVICES_PAGE_SIZE: Final = INTUNE_PAGE_SIZE


def spec_for(path: str) -> CollectionSpec:
    for spec in COLLECTION_SPECS:
        if spec.path == path:
            return spec
    raise KeyError(path)
