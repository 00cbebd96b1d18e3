"""What a rule is given: the frozen snapshot, the shared targeting engine, operator settings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rules.applicability import TenantTargeting, tenant_targeting
from rules.findings import (
    TENANT_SUBJECT_TYPE,
    Finding,
    FindingBuilder,
    RuleMetadata,
    Scope,
    Subject,
)
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import ALL_COLLECTIONS
from rules.tenant_objects import AutopilotProfile


@dataclass(frozen=True, slots=True)
class OperatorSettings:
    """Facts the operator attests where Graph cannot tell (or this identity cannot read)."""

    # "all" | "selected" | "none": the MDM user scope, attested when the delegated-only
    # mobileDeviceManagementPolicies API cannot be read (ENR-001).
    attested_mdm_user_scope: str | None = None
    # "none" | "active": whether MDM applications other than Intune have a user scope (ENR-003).
    attested_other_mdm_apps: str | None = None
    # Who attested, when, until when ("by jane@contoso.com on 2026-11-20, expires 2027-02-18").
    mdm_attestation_basis: str = ""
    # Why an attestation that was given no longer holds (expired, or the policy changed since):
    # the rules are then UNKNOWN and say so, asking for a new attestation.
    mdm_attestation_lapsed: str | None = None


@dataclass(frozen=True, slots=True)
class RuleContext:
    snapshot: TenantSnapshot
    targeting: TenantTargeting
    settings: OperatorSettings

    @classmethod
    def for_snapshot(
        cls, snapshot: TenantSnapshot, settings: OperatorSettings | None = None
    ) -> RuleContext:
        return cls(snapshot, tenant_targeting(snapshot), settings or OperatorSettings())

    @property
    def tenant_subject(self) -> Subject:
        return Subject(TENANT_SUBJECT_TYPE, self.snapshot.tenant_id, self.snapshot.tenant_id)

    def unreadable(self, *paths: str) -> tuple[str, ...]:
        """Reasons, one per collection among `paths` that could not be read (empty: all read)."""
        reasons = []
        for path in paths:
            if path not in ALL_COLLECTIONS:
                raise ValueError(f"unknown collection path {path!r}")
            error = self.snapshot.collection_error(path)
            if error is not None or _collection(self.snapshot, path) is None:
                detail = f"{error.status} {error.message}" if error else "not in the snapshot"
                reasons.append(f"{path} could not be read ({detail})")
        return tuple(reasons)

    def unknown_if_unreadable(
        self, metadata: RuleMetadata, *paths: str, subject: Subject | None = None
    ) -> Iterator[Finding]:
        """Yield one UNKNOWN finding when any of `paths` could not be read; nothing otherwise."""
        reasons = self.unreadable(*paths)
        if reasons:
            yield FindingBuilder(metadata).unknown(
                subject or self.tenant_subject,
                "cannot be evaluated: data it needs could not be read",
                reasons,
            )

    def profile_scope(self, profile: AutopilotProfile) -> Scope:
        scopes = self.snapshot.derived_view(_profile_scopes)
        scope = scopes.get(profile.id)
        if scope is None:
            scope = scopes[profile.id] = self._profile_scope(profile)
        return scope

    def _profile_scope(self, profile: AutopilotProfile) -> Scope:
        targeting = self.targeting.profile_targeting(profile)
        group_ids = tuple(sorted(targeting.ap_device_group_ids))
        names = []
        for group_id in group_ids:
            group = self.snapshot.group(group_id)
            names.append(group.display_name if group else group_id)
        return Scope(profile.id, profile.display_name, group_ids, tuple(names))


def _profile_scopes(snapshot: TenantSnapshot) -> dict[str, Scope]:
    """Per-snapshot memo of profile scopes (device rules ask once per device)."""
    return {}


def profile_subject(profile: AutopilotProfile) -> Subject:
    return Subject("autopilotProfile", profile.id, profile.display_name)


_ATTRIBUTE_BY_PATH = {
    "deviceManagement/windowsAutopilotDeploymentProfiles": "autopilot_profiles",
    "deviceManagement/windowsAutopilotDeviceIdentities": "autopilot_devices",
    "deviceManagement/deviceEnrollmentConfigurations": "enrollment_configurations",
    "deviceManagement/deviceConfigurations": "device_configurations",
    "deviceManagement/configurationPolicies": "settings_catalog_policies",
    "deviceManagement/deviceManagementScripts": "platform_scripts",
    "deviceManagement/deviceCompliancePolicies": "compliance_policies",
    "deviceManagement/assignmentFilters": "assignment_filters",
    "deviceManagement/domainJoinConnectors": "domain_join_connectors",
    "deviceAppManagement/mobileApps": "mobile_apps",
    "groups": "groups",
    "devices": "entra_devices",
    "policies/mobileDeviceManagementPolicies": "mdm_policies",
    "policies/deviceRegistrationPolicy": "device_registration_policies",
    "identity/conditionalAccess/policies": "conditional_access_policies",
}


def _collection(snapshot: TenantSnapshot, path: str) -> object:
    return getattr(snapshot, _ATTRIBUTE_BY_PATH[path])
