"""Autopilot deployment profiles and the Enrollment Status Page."""

from types import ModuleType

from rules.checks.profiles_and_esp import (
    esp_001_device_esp_shows_progress,
    esp_002_blocking_apps_on_device_esp,
    esp_003_blocking_apps_install_in_device_phase,
    esp_004_blocking_list_limits,
    esp_005_timeout_covers_workload,
    esp_010_user_esp_skipped,
    esp_011_device_esp_not_skipped,
    prf_001_preprovisioning_allowed,
    prf_002_user_driven_mode,
    prf_003_entra_join,
    prf_004_device_type_windows_pc,
    prf_005_one_profile_per_device,
    prf_006_no_exclusions_with_all_devices,
    prf_007_device_group_not_excluded,
    prf_008_device_name_template_valid,
    prf_011_preprovisioning_profile_exists,
    prf_013_no_device_preparation_for_preprovisioning,
)

RULES: tuple[ModuleType, ...] = (
    prf_001_preprovisioning_allowed,
    prf_002_user_driven_mode,
    prf_003_entra_join,
    prf_004_device_type_windows_pc,
    prf_005_one_profile_per_device,
    prf_006_no_exclusions_with_all_devices,
    prf_007_device_group_not_excluded,
    prf_008_device_name_template_valid,
    prf_011_preprovisioning_profile_exists,
    prf_013_no_device_preparation_for_preprovisioning,
    esp_001_device_esp_shows_progress,
    esp_002_blocking_apps_on_device_esp,
    esp_003_blocking_apps_install_in_device_phase,
    esp_004_blocking_list_limits,
    esp_005_timeout_covers_workload,
    esp_010_user_esp_skipped,
    esp_011_device_esp_not_skipped,
)
