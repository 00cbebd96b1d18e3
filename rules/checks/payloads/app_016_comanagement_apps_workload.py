"""APP-016 (manual): On co-managed devices the Apps workload is Intune or Pilot Intune."""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item

METADATA = RuleMetadata(
    id="APP-016",
    title=(
        "On co-managed pre-provisioning devices the Apps workload is set to Intune or Pilot Intune"
    ),
    severity=Severity.WARNING,
    rationale=(
        "Win32 apps assigned from Intune are installed by the Intune management extension "
        "only when the co-management Apps workload is switched to Pilot Intune or Intune "
        '(intune-management-extension.md, "set the Apps workload to Pilot Intune or '
        'Intune"). The workload switch is configured in Configuration Manager, not in '
        "Intune, so Graph does not show it and a person checks it when devices are co-"
        "managed."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Co-management settings "
        "shows the co-management policy; the workload itself is in the Configuration Manager "
        "console > Administration > Cloud Services > Cloud Attach > Properties > Workloads: move "
        "'Client apps' to Pilot Intune (with the pilot collection holding the Autopilot devices) "
        "or Intune."
    ),
    references=(
        "https://learn.microsoft.com/mem/intune/apps/intune-management-extension",
        "https://learn.microsoft.com/mem/configmgr/comanage/workloads",
    ),
    graph_reads=(),
    permissions=("DeviceManagementServiceConfig.Read.All, to see the co-management policy",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        (
            "if pre-provisioned devices become co-managed (Configuration Manager client installed"
            " by the Autopilot co-management policy), open Configuration Manager > Co-management "
            "properties > Workloads"
        ),
        (
            "'Client apps' is Pilot Intune (and the pilot collection contains the Autopilot "
            "devices) or Intune"
        ),
    ),
)

evaluate = manual_item(METADATA)
