"""The readiness dashboard: server-rendered pages over the verdict store and the tenant mirror.

- `access`: who the user is (Easy Auth's principal on Azure; the local user on loopback) and
  which tenants their app roles let them see;
- `views`: what each page shows, as plain values (bounded, cached per committed evaluation);
- `pages`: one request in, one HTML response out (Jinja2, autoescaped);
- `server`: `greenscreen serve`, the same pages on loopback;
- `command`: the `serve` subcommand.

docs/dashboard.md describes the views, the access model and the choice of parts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

# The views (and the storage SDK under them) are imported when a dashboard is made: the
# package also holds `command`, which the command line imports to declare `serve`.
if TYPE_CHECKING:
    from monitors.dashboard.views import Dashboard


def dashboard_from_settings(
    environ: Mapping[str, str] | None = None, *, default_connection: str | None = None
) -> Dashboard:
    """The dashboard over the app's storage settings; `TENANTS` (when set) lists the tenants.

    Raises `StoreSettingsError` / `SettingsError` naming a missing or malformed setting.
    """
    from monitors.dashboard.views import Dashboard
    from monitors.guardrail.mirror import TenantMirror
    from monitors.guardrail.settings import TENANTS_SETTING, parse_tenants
    from monitors.store.settings import store_from_settings, table_service_from_settings

    settings = os.environ if environ is None else environ
    service = table_service_from_settings(settings, default_connection=default_connection)
    store = store_from_settings(
        settings, default_connection=default_connection, create_tables=False
    )
    tenants = parse_tenants(settings.get(TENANTS_SETTING) or "[]")
    return Dashboard(
        service, store, TenantMirror(service), [tenant.tenant_id for tenant in tenants]
    )
