"""What the technician phase installs and applies: apps, scripts, configurations, compliance."""

from types import ModuleType

from rules.checks.payloads import (
    app_001_win32_installs_as_system,
    app_002_msi_installs_per_device,
    app_004_no_lob_msi_next_to_win32,
    app_005_microsoft_365_apps_as_win32,
    app_007_detection_rules_sane,
    app_008_silent_install_command,
    app_010_no_future_install_time,
    app_011_dependencies_device_phase_safe,
    app_012_supersedence_sane,
    app_013_required_apps_reach_technician_phase,
    cfg_001_device_settings_device_targeted,
    cfg_002_sign_in_assistant_not_disabled,
    cfg_003_no_logon_prompts_blocking_autologon,
    cmp_001_compliance_grace_period,
    scr_001_scripts_run_as_system,
)

RULES: tuple[ModuleType, ...] = (
    app_001_win32_installs_as_system,
    app_002_msi_installs_per_device,
    app_004_no_lob_msi_next_to_win32,
    app_005_microsoft_365_apps_as_win32,
    app_007_detection_rules_sane,
    app_008_silent_install_command,
    app_010_no_future_install_time,
    app_011_dependencies_device_phase_safe,
    app_012_supersedence_sane,
    app_013_required_apps_reach_technician_phase,
    scr_001_scripts_run_as_system,
    cfg_001_device_settings_device_targeted,
    cfg_002_sign_in_assistant_not_disabled,
    cfg_003_no_logon_prompts_blocking_autologon,
    cmp_001_compliance_grace_period,
)
