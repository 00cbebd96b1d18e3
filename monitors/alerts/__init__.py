"""Alerts that follow transitions: Teams cards, a JSON webhook payload, routing, delivery.

- `alert`: what one alert says (a transition plus the facts the store does not keep);
- `links`: deep links into the Intune admin center and the history API;
- `cards`: Adaptive Cards in the Teams Workflows envelope, and the generic JSON payload (pure);
- `routing`: destinations per tenant and minimum severity, suppressions;
- `delivery`: posting with retries, the idempotency ledger, replay of undelivered alerts.

The design is in docs/alerts.md.
"""
