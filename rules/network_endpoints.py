"""The network a technician's bench must reach for Autopilot pre-provisioning, as data.

Every entry cites the Microsoft page it comes from. The lists are Microsoft's published minimums
(the Intune page says "At a minimum, make sure you include the URLs in the tables"); Microsoft
also publishes them through the Microsoft 365 endpoint web service (service area MEM), which a
network team may prefer for IP ranges. Greenscreen cannot see a network: the endpoints are what
to allow, the NET-001 manual item asks a person to confirm they are reachable.

Sources:
- AUTOPILOT: https://learn.microsoft.com/autopilot/requirements?tabs=networking
- INTUNE: https://learn.microsoft.com/mem/intune/fundamentals/intune-endpoints
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

AUTOPILOT_REQUIREMENTS: Final = "https://learn.microsoft.com/autopilot/requirements?tabs=networking"
INTUNE_ENDPOINTS: Final = "https://learn.microsoft.com/mem/intune/fundamentals/intune-endpoints"
COMANAGEMENT_AUTOPILOT: Final = (
    "https://learn.microsoft.com/mem/configmgr/comanage/autopilot-enrollment"
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str  # a host name or a wildcard pattern (`*.manage.microsoft.com`)
    protocol: str  # "TCP" | "UDP"
    ports: tuple[int, ...]
    service: str  # what the device uses it for
    source: str  # the Microsoft page that lists it
    # Only some devices need it (firmware TPMs of one maker, a tenant region, ...).
    note: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "protocol": self.protocol,
            "ports": list(self.ports),
            "service": self.service,
            "note": self.note,
            "source": self.source,
        }


_WEB: Final = (80, 443)
_HTTPS: Final = (443,)


def _tcp(
    hosts: str, ports: tuple[int, ...], service: str, source: str, note: str = ""
) -> list[Endpoint]:
    return [Endpoint(host, "TCP", ports, service, source, note) for host in hosts.split()]


ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    # Autopilot requirements, networking tab.
    *_tcp(
        "ztd.dds.microsoft.com cs.dds.microsoft.com login.live.com",
        _HTTPS,
        "Windows Autopilot Deployment Service",
        AUTOPILOT_REQUIREMENTS,
    ),
    *_tcp(
        "*.microsoftaik.azure.net",
        _HTTPS,
        "TPM attestation (self-deploying and pre-provisioning)",
        AUTOPILOT_REQUIREMENTS,
    ),
    *_tcp(
        "ekop.intel.com",
        _HTTPS,
        "firmware TPM EK certificate (Intel)",
        AUTOPILOT_REQUIREMENTS,
        "devices with an Intel firmware TPM",
    ),
    *_tcp(
        "ekcert.spserv.microsoft.com",
        _HTTPS,
        "firmware TPM EK certificate (Qualcomm)",
        AUTOPILOT_REQUIREMENTS,
        "devices with a Qualcomm firmware TPM",
    ),
    *_tcp(
        "ftpm.amd.com",
        _HTTPS,
        "firmware TPM EK certificate (AMD)",
        AUTOPILOT_REQUIREMENTS,
        "devices with an AMD firmware TPM",
    ),
    Endpoint(
        "time.windows.com",
        "UDP",
        (123,),
        "NTP time sync (clock skew breaks attestation)",
        AUTOPILOT_REQUIREMENTS,
    ),
    *_tcp(
        "*.msftconnecttest.com",
        (80,),
        "Network Connection Status Indicator",
        AUTOPILOT_REQUIREMENTS,
    ),
    # Intune network endpoints: core service, authentication, Autopilot dependencies.
    *_tcp(
        "manage.microsoft.com *.manage.microsoft.com EnterpriseEnrollment.manage.microsoft.com",
        _WEB,
        "Intune client and host service (no TLS inspection)",
        INTUNE_ENDPOINTS,
    ),
    *_tcp(
        "swda01-mscdn.manage.microsoft.com swda02-mscdn.manage.microsoft.com "
        "swdb01-mscdn.manage.microsoft.com swdb02-mscdn.manage.microsoft.com "
        "swdc01-mscdn.manage.microsoft.com swdc02-mscdn.manage.microsoft.com "
        "swdd01-mscdn.manage.microsoft.com swdd02-mscdn.manage.microsoft.com "
        "swdin01-mscdn.manage.microsoft.com swdin02-mscdn.manage.microsoft.com",
        _WEB,
        "Intune Win32 app content",
        INTUNE_ENDPOINTS,
    ),
    *_tcp(
        "imeswda-afd-primary.manage.microsoft.com imeswda-afd-secondary.manage.microsoft.com "
        "imeswda-afd-hotfix.manage.microsoft.com",
        _HTTPS,
        "Intune management extension: scripts and Win32 apps",
        INTUNE_ENDPOINTS,
        "tenants located in North America",
    ),
    *_tcp(
        "imeswdb-afd-primary.manage.microsoft.com imeswdb-afd-secondary.manage.microsoft.com "
        "imeswdb-afd-hotfix.manage.microsoft.com",
        _HTTPS,
        "Intune management extension: scripts and Win32 apps",
        INTUNE_ENDPOINTS,
        "tenants located in Europe",
    ),
    *_tcp(
        "imeswdc-afd-primary.manage.microsoft.com imeswdc-afd-secondary.manage.microsoft.com "
        "imeswdc-afd-hotfix.manage.microsoft.com",
        _HTTPS,
        "Intune management extension: scripts and Win32 apps",
        INTUNE_ENDPOINTS,
        "tenants located in Asia Pacific",
    ),
    *_tcp(
        "login.microsoftonline.com graph.windows.net",
        _WEB,
        "Microsoft Entra authentication",
        INTUNE_ENDPOINTS,
    ),
    *_tcp(
        "enterpriseregistration.windows.net certauth.enterpriseregistration.windows.net",
        _WEB,
        "Microsoft Entra device registration",
        INTUNE_ENDPOINTS,
    ),
    *_tcp("account.live.com", _HTTPS, "device authentication", INTUNE_ENDPOINTS),
    *_tcp("go.microsoft.com", _WEB, "endpoint discovery", INTUNE_ENDPOINTS),
    *_tcp(
        "*.do.dsp.mp.microsoft.com *.dl.delivery.mp.microsoft.com",
        _WEB,
        "Delivery Optimization",
        INTUNE_ENDPOINTS,
    ),
    *_tcp(
        "*.notify.windows.com *.wns.windows.com",
        _HTTPS,
        "Windows Push Notification Services",
        INTUNE_ENDPOINTS,
    ),
    *_tcp(
        "*.windowsupdate.com *.prod.do.dsp.mp.microsoft.com *.delivery.mp.microsoft.com "
        "*.update.microsoft.com tsfe.trafficshaping.dsp.mp.microsoft.com adl.windows.com",
        _WEB,
        "Windows Autopilot: Windows Update",
        INTUNE_ENDPOINTS,
    ),
    *_tcp(
        "clientconfig.passport.net windowsphone.com *.s-microsoft.com c.s-microsoft.com",
        _HTTPS,
        "Windows Autopilot: WNS dependencies",
        INTUNE_ENDPOINTS,
    ),
    *_tcp(
        "lgmsapeweu.blob.core.windows.net lgmsapewus2.blob.core.windows.net "
        "lgmsapesea.blob.core.windows.net lgmsapeaus.blob.core.windows.net "
        "lgmsapeind.blob.core.windows.net",
        _HTTPS,
        "Windows Autopilot: diagnostics upload",
        INTUNE_ENDPOINTS,
    ),
)


def endpoint_key(endpoint: Endpoint) -> tuple[str, str]:
    return (endpoint.host.casefold(), endpoint.protocol)


def merged_endpoints(extra: tuple[Endpoint, ...] = ()) -> tuple[Endpoint, ...]:
    """The published list plus `extra` (a CMG host), one entry per host and protocol."""
    seen: dict[tuple[str, str], Endpoint] = {}
    for endpoint in (*ENDPOINTS, *extra):
        key = endpoint_key(endpoint)
        if key in seen:
            kept = seen[key]
            ports = tuple(sorted(set(kept.ports) | set(endpoint.ports)))
            seen[key] = Endpoint(
                kept.host, kept.protocol, ports, kept.service, kept.source, kept.note
            )
        else:
            seen[key] = endpoint
    return tuple(seen.values())
