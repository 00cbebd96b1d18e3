"""ENR-006: the per-user device quota leaves room to join Autopilot devices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.tenant_and_devices.device_registration import policy_subject, registration_policy
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity
from rules.tenant_collections import DEVICE_REGISTRATION_POLICY

METADATA = RuleMetadata(
    id="ENR-006",
    title="The per-user device quota leaves room to join Autopilot devices",
    severity=Severity.WARNING,
    rationale=(
        "troubleshooting-faq.yml: 'Errors occur if a user exceeds the allowed number of "
        "devices they can join. This default limit is 50'; enrollment then fails (80180018 can "
        "be 'Too many devices enrolled for the user'). Graph: userDeviceQuota is the maximum "
        "number of devices a user can have before new registrations are blocked, and 0 means "
        "users may not join any device (deviceRegistrationPolicy, v1.0). A quota under 5 is a "
        "warning, following the catalog. Intune's own enrollment limit is not the constraint: "
        "Windows Autopilot lets standard accounts enroll more than 15 devices "
        "(device-enrollment-manager-enroll.md)."
    ),
    remediation=(
        "Microsoft Entra admin center > Identity > Devices > All devices > Device settings: "
        "raise 'Maximum number of devices per user' (default 50, or Unlimited)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/graph/api/resources/deviceregistrationpolicy",
        "https://learn.microsoft.com/mem/intune/enrollment/device-enrollment-manager-enroll",
    ),
    graph_reads=(DEVICE_REGISTRATION_POLICY,),
    permissions=("Policy.Read.DeviceConfiguration",),
)

LOW_QUOTA: Final = 5


def evaluate(context: RuleContext) -> Iterator[Finding]:
    policy, unknown = registration_policy(context, METADATA)
    if policy is None:
        yield from unknown
        return
    finding = FindingBuilder(METADATA)
    subject = policy_subject(policy)
    quota = policy.user_device_quota
    if quota is None:
        yield finding.unknown(subject, "the device quota per user is not in the policy")
        return
    fact = (f"userDeviceQuota is {quota}",)
    if quota <= 0:
        yield finding.failed(
            subject,
            "the device quota per user is 0: users may not join any device",
            fact,
            severity=Severity.ERROR,
        )
    elif quota < LOW_QUOTA:
        yield finding.failed(
            subject,
            f"a user may join only {quota} device(s): technicians or users deploying several "
            "devices hit the quota",
            fact,
        )
    else:
        yield finding.passed(subject, f"a user may join up to {quota} devices", fact)
