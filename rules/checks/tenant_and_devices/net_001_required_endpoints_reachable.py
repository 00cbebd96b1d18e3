"""NET-001 (manual): the bench network reaches every endpoint Autopilot and Intune need."""

from __future__ import annotations

from rules.findings import RuleKind, RuleMetadata, Severity
from rules.manual import manual_item
from rules.network_endpoints import AUTOPILOT_REQUIREMENTS, ENDPOINTS, INTUNE_ENDPOINTS

METADATA = RuleMetadata(
    id="NET-001",
    title="The technician's network reaches every endpoint Autopilot and Intune need",
    severity=Severity.BLOCKER,
    rationale=(
        "Autopilot needs DNS resolution of internet names and access to hosts on ports 80, "
        "443 and UDP 123; pre-provisioning attests the TPM through *.microsoftaik.azure.net "
        "and firmware TPMs fetch their EK certificate from their maker (requirements.md, "
        "Networking); Intune lists its own endpoints (intune-endpoints.md). A clock that "
        "cannot sync with time.windows.com breaks attestation. Greenscreen cannot see a "
        "network: `greenscreen network` lists the endpoints, a person checks the bench "
        f"reaches them ({len(ENDPOINTS)} published entries)."
    ),
    remediation=(
        "Microsoft Intune admin center > Tenant administration > Tenant status > Tenant "
        "details: note the tenant location (it picks the regional endpoints), then give the "
        "network team `greenscreen network --format csv` and allow every host and port it "
        "lists on the bench network, without TLS inspection of *.manage.microsoft.com."
    ),
    references=(AUTOPILOT_REQUIREMENTS, INTUNE_ENDPOINTS),
    graph_reads=(),
    permissions=("none",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        "run `greenscreen network` (add --format csv for the network team) for the hosts and "
        "ports, including the Cloud Management Gateway when co-management is configured",
        "on the bench network, check DNS resolves internet names and HTTP 80, HTTPS 443 and "
        "UDP 123 (time.windows.com) reach those hosts without a sign-in page or TLS inspection",
        "pre-provision one device and confirm the TPM attestation step ('Securing your "
        "hardware') passes",
    ),
)

evaluate = manual_item(METADATA)
