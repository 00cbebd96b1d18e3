"""Conditional Access policies that require a compliant device, as CMP rules read them."""

from __future__ import annotations

from rules.graph_json import optional_mapping, string_tuple
from rules.tenant_objects import ConditionalAccessPolicy


def requires_compliant_device(policy: ConditionalAccessPolicy) -> bool:
    """Enabled and granting access only to compliant devices (report-only policies don't block)."""
    if (policy.state or "").casefold() != "enabled":
        return False
    grant = optional_mapping(policy.raw, "grantControls") or {}
    controls = {control.casefold() for control in string_tuple(grant, "builtInControls")}
    return "compliantdevice" in controls


def accepts_hybrid_join(policy: ConditionalAccessPolicy) -> bool:
    """'Require one of the selected controls' with 'Microsoft Entra hybrid joined device'."""
    grant = optional_mapping(policy.raw, "grantControls") or {}
    controls = {control.casefold() for control in string_tuple(grant, "builtInControls")}
    operator = str(grant.get("operator") or "").casefold()
    return operator == "or" and "domainjoineddevice" in controls
