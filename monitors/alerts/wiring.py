"""Building the real alert clients from settings: the one place alerts do that.

Storage uses the same settings as the verdict store (`GREENSCREEN_STORAGE_CONNECTION`, or
`GREENSCREEN_STORAGE_TABLE_URL` with the managed identity); routing and links are read by
`monitors.alerts.routing`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from monitors.alerts.cards import CardContext
from monitors.alerts.delivery import RetryPolicy, WebhookPoster
from monitors.alerts.ledger import TableAlertLedger
from monitors.alerts.routing import (
    AlertRouting,
    digest_above_from_settings,
    history_links_from_settings,
    routing_from_settings,
)
from monitors.store.settings import DEVELOPMENT_STORAGE, table_service_from_settings

__all__ = ["AlertDelivery", "alert_delivery_from_settings", "digest_above_from_settings"]


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    routing: AlertRouting
    context: CardContext | None  # None when built for replay (stored bodies, no new cards)
    ledger: TableAlertLedger
    poster: WebhookPoster
    client: httpx.Client  # close it when done

    def close(self) -> None:
        self.client.close()


def ledger_from_settings(
    environ: Mapping[str, str] | None = None,
    *,
    default_connection: str | None = DEVELOPMENT_STORAGE,
) -> TableAlertLedger:
    ledger = TableAlertLedger(
        table_service_from_settings(environ, default_connection=default_connection)
    )
    ledger.ensure_table()
    return ledger


def alert_delivery_from_settings(
    environ: Mapping[str, str] | None = None, *, with_links: bool = True
) -> AlertDelivery:
    """Everything `deliver_alerts` and `replay_undelivered` need, built from app settings.

    `with_links=False` (replay) does not require `GREENSCREEN_HISTORY_BASE_URL`.
    """
    settings = os.environ if environ is None else environ
    policy = RetryPolicy()
    # Redirects are not followed: a webhook that redirects is misconfigured, and following
    # one would send the card somewhere the settings do not name.
    client = httpx.Client(follow_redirects=False, trust_env=False)
    links = history_links_from_settings(settings) if with_links else None
    return AlertDelivery(
        routing=routing_from_settings(settings),
        context=CardContext(links) if links is not None else None,
        ledger=ledger_from_settings(settings),
        poster=WebhookPoster(client, policy),
        client=client,
    )
