"""ENR-005: users may join devices to Microsoft Entra ID."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from rules.checks.tenant_and_devices.device_registration import policy_subject, registration_policy
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity
from rules.tenant_collections import DEVICE_REGISTRATION_POLICY

METADATA = RuleMetadata(
    id="ENR-005",
    title="Users may join devices to Microsoft Entra ID",
    severity=Severity.ERROR,
    rationale=(
        "Autopilot's configuration requirements: 'The first user that signs in needs to have "
        "Microsoft Entra join permissions for some deployment scenarios'; the only exception "
        "Microsoft names is self-deploying mode (requirements.md, Configuration). "
        "Pre-provisioning is user-driven, so with 'Users may join devices to Microsoft Entra "
        "ID' set to None the user flow cannot join. With Selected, only the listed users and "
        "groups can. The setting is deviceRegistrationPolicy.azureADJoin.allowedToJoin "
        "(Microsoft Graph v1.0)."
    ),
    remediation=(
        "Microsoft Entra admin center > Identity > Devices > All devices > Device settings: "
        "set 'Users may join devices to Microsoft Entra' to All, or to Selected with every "
        "user who deploys a device in the selected users or groups."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/requirements?tabs=configuration",
        "https://learn.microsoft.com/autopilot/tutorial/user-driven/azure-ad-join-allow-users-to-join",
        "https://learn.microsoft.com/graph/api/resources/deviceregistrationpolicy",
    ),
    graph_reads=(DEVICE_REGISTRATION_POLICY,),
    permissions=("Policy.Read.DeviceConfiguration",),
)

ALL: Final = "#microsoft.graph.allDeviceRegistrationMembership"
SELECTED: Final = "#microsoft.graph.enumeratedDeviceRegistrationMembership"
NONE: Final = "#microsoft.graph.noDeviceRegistrationMembership"


def evaluate(context: RuleContext) -> Iterator[Finding]:
    policy, unknown = registration_policy(context, METADATA)
    if policy is None:
        yield from unknown
        return
    finding = FindingBuilder(METADATA)
    subject = policy_subject(policy)
    allowed = _allowed_to_join(policy.raw)
    kind = policy.join_allowed_odata_type
    fact = f"azureADJoin.allowedToJoin is {kind or 'absent'}"
    if kind == ALL:
        yield finding.passed(subject, "all users may join devices to Microsoft Entra ID", (fact,))
    elif kind == NONE:
        yield finding.failed(
            subject,
            "no user may join devices to Microsoft Entra ID ('Users may join devices': None): "
            "the user flow cannot join the device",
            (fact,),
        )
    elif kind == SELECTED:
        users = _ids(allowed, "users")
        groups = _ids(allowed, "groups")
        listed = f"{len(users)} user(s) and {len(groups)} group(s) are selected"
        if not users and not groups:
            yield finding.failed(
                subject,
                "'Users may join devices' is Selected with nobody selected: no user may join",
                (fact, listed),
            )
        else:
            yield finding.failed(
                subject,
                "only selected users may join devices to Microsoft Entra ID: every user who "
                "deploys a device must be among them",
                (fact, listed),
                severity=Severity.WARNING,
            )
    else:
        yield finding.unknown(
            subject,
            "who may join devices to Microsoft Entra ID is not reported in a way Greenscreen knows",
            (fact,),
        )


def _allowed_to_join(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    join = raw.get("azureADJoin")
    allowed = join.get("allowedToJoin") if isinstance(join, Mapping) else None
    return allowed if isinstance(allowed, Mapping) else {}


def _ids(allowed: Mapping[str, Any], name: str) -> tuple[str, ...]:
    values = allowed.get(name)
    if not isinstance(values, (list, tuple)):
        return ()
    return tuple(value for value in values if isinstance(value, str))
