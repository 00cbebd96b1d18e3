"""`greenscreen alerts replay`: post the alerts recorded as undelivered again.

Exit codes: 0 everything replayed (or nothing to replay), 1 some are still undelivered or the
storage is unreachable, 2 bad settings or usage (one line on stderr, never a webhook URL).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

# Delivery and storage are imported when `alerts replay` runs, not when the command line is built.
if TYPE_CHECKING:
    from monitors.alerts.wiring import AlertDelivery

EXIT_OK = 0
EXIT_UNDELIVERED = 1
EXIT_BAD_INPUT = 2


def add_alerts_command(commands: Any) -> argparse.ArgumentParser:
    """Add `alerts replay` to the `greenscreen` subcommands (`commands` from add_subparsers)."""
    alerts: argparse.ArgumentParser = commands.add_parser(
        "alerts", help="manage alert delivery", description="Manage alert delivery."
    )
    actions = alerts.add_subparsers(dest="alerts_command", metavar="ACTION")
    actions.required = True
    replay = actions.add_parser(
        "replay",
        help="post undelivered alerts again",
        description=(
            "Post the alerts recorded as undelivered (after their retry budget ran out, or "
            "claimed and never finished) to their destinations as configured now "
            "(GREENSCREEN_ALERT_ROUTES). Exit codes: 0 all delivered, 1 some still "
            "undelivered or storage unreachable, 2 bad settings."
        ),
    )
    replay.add_argument("--tenant", metavar="TENANT", help="only this tenant id")
    replay.add_argument("--limit", type=int, metavar="N", help="at most N messages")
    replay.add_argument(
        "--unconfirmed",
        action="store_true",
        help="also post alerts that were sent without an answer (they may be posted already)",
    )
    replay.set_defaults(handler=run_replay)
    return alerts


def run_replay(args: argparse.Namespace) -> int:
    from azure.core.exceptions import AzureError

    from monitors.alerts.routing import AlertSettingsError
    from monitors.alerts.wiring import alert_delivery_from_settings
    from monitors.store.settings import StoreSettingsError

    try:
        delivery = alert_delivery_from_settings(with_links=False)
    except (AlertSettingsError, StoreSettingsError) as error:
        print(f"greenscreen: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except AzureError as error:
        print(f"greenscreen: storage unreachable ({type(error).__name__})", file=sys.stderr)
        return EXIT_UNDELIVERED
    try:
        return replay_with(
            delivery, args.tenant, args.limit, sys.stdout, unconfirmed=args.unconfirmed
        )
    finally:
        delivery.close()


def replay_with(
    delivery: AlertDelivery,
    tenant: str | None,
    limit: int | None,
    out: TextIO,
    *,
    unconfirmed: bool = False,
) -> int:
    from azure.core.exceptions import AzureError

    from monitors.alerts.delivery import DeliveryStatus, replay_undelivered

    try:
        report = replay_undelivered(
            delivery.ledger,
            delivery.routing,
            delivery.poster,
            now=datetime.now(UTC),
            tenant_id=tenant,
            limit=limit,
            unconfirmed=unconfirmed,
        )
    except AzureError as error:
        print(f"greenscreen: storage unreachable ({type(error).__name__})", file=sys.stderr)
        return EXIT_UNDELIVERED
    for result in report.results:
        print(
            f"{result.status.value:12} {result.tenant_id} {result.destination} {result.key} "
            f"{result.detail}".rstrip(),
            file=out,
        )
    for tenant_id, key, why in report.skipped:
        print(f"{'skipped':12} {tenant_id} {key} {why}", file=out)
    still = [r for r in report.results if r.status is DeliveryStatus.UNDELIVERED]
    print(
        f"replayed {len(report.results)}, still undelivered {len(still)}, "
        f"skipped {len(report.skipped)}",
        file=out,
    )
    return EXIT_UNDELIVERED if still or report.skipped else EXIT_OK
