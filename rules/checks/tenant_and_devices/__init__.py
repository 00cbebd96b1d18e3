"""Enrollment prerequisites, Autopilot device registrations, groups, hybrid join, co-management."""

from types import ModuleType

from rules.checks.tenant_and_devices import (
    com_001_no_comanagement_for_preprovisioning,
    dev_001_profile_assigned_in_sync,
    dev_002_hardware_requirements_met,
    dev_003_reenrollment_not_blocked,
    dev_004_no_hardware_change_pending,
    dev_005_entra_device_object_exists,
    dev_007_group_tag_matches_a_group,
    dev_008_not_a_virtual_machine,
    enr_001_mdm_user_scope,
    enr_003_single_mdm_configuration,
    enr_007_windows_enrollment_not_blocked,
    grp_001_device_group_selects_autopilot_devices,
    grp_002_dynamic_processing_on,
    grp_006_assigned_groups_exist,
    hyb_001_intune_connector_active,
    hyb_003_domain_join_profile_targets_hybrid_devices,
    hyb_004_domain_join_profile_values,
)

RULES: tuple[ModuleType, ...] = (
    enr_001_mdm_user_scope,
    enr_003_single_mdm_configuration,
    enr_007_windows_enrollment_not_blocked,
    dev_001_profile_assigned_in_sync,
    dev_002_hardware_requirements_met,
    dev_003_reenrollment_not_blocked,
    dev_004_no_hardware_change_pending,
    dev_005_entra_device_object_exists,
    dev_007_group_tag_matches_a_group,
    dev_008_not_a_virtual_machine,
    grp_001_device_group_selects_autopilot_devices,
    grp_002_dynamic_processing_on,
    grp_006_assigned_groups_exist,
    hyb_001_intune_connector_active,
    hyb_003_domain_join_profile_targets_hybrid_devices,
    hyb_004_domain_join_profile_values,
    com_001_no_comanagement_for_preprovisioning,
)
