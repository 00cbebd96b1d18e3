"""Which profiles the newest read of a tenant says are not used for pre-provisioning.

Recorded verdicts do not say whether a profile allows pre-provisioning; the tenant mirror (the
newest read of the tenant, at or after the recorded evaluation) does. Every place that shows a
profile's readiness from the store (the dashboard's scan, `GET /api/readiness`, the readiness
gauges) asks here, so they judge a profile as the reports do (`monitors.reports.profile_verdict`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from azure.core.exceptions import AzureError

from monitors.guardrail.mirror import MirrorError, TenantMirror
from rules.graph_json import SnapshotModelError
from rules.tenant_collections import AUTOPILOT_PROFILES
from rules.tenant_objects import parse_autopilot_profile

if TYPE_CHECKING:
    from monitors.store.verdict_store import VerdictStore

log = logging.getLogger(__name__)


def profiles_not_preprovisioning(mirror: TenantMirror, tenant: str) -> frozenset[str] | None:
    """The mirror's profiles that do not allow pre-provisioning; None when the mirror cannot
    tell (no mirror yet, the profiles unreadable at its last read, or storage unreadable now):
    then a caller does not guess, and a verdict that depends on it is unknown."""
    try:
        meta = mirror.meta(tenant)
        if (
            meta is None
            or AUTOPILOT_PROFILES not in meta.collections
            or AUTOPILOT_PROFILES in meta.errors
        ):
            return None
        profiles = [
            parse_autopilot_profile(obj, AUTOPILOT_PROFILES, frozenset())
            for obj in mirror.objects(tenant, AUTOPILOT_PROFILES)
        ]
    except (AzureError, MirrorError, SnapshotModelError, ValueError, TypeError) as error:
        # The type only: storage messages can carry account names and request URLs.
        log.warning("profiles in the mirror unreadable: %s", type(error).__name__)
        return None
    return frozenset(p.id for p in profiles if not p.preprovisioning_allowed)


def not_preprovisioning_beside(store: VerdictStore, tenant_id: str) -> frozenset[str] | None:
    """The same, read from the mirror in the verdict store's account."""
    return profiles_not_preprovisioning(TenantMirror(store._service), tenant_id)
