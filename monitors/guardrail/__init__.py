"""The event path: webhook, polling, change processing, subscriptions, mirror, slots, queues.

`composition` is its composition root: the one call behind each Functions trigger
(`function_app.py` stays thin on top). `webhook` answers Graph's change notifications;
`audit_polling`, `directory_polling` and `collection_refresh` turn Intune and Entra ID audit trails
and policy reads into `changes` messages (`queues`); `change_processing` refreshes what a message
touched in the tenant `mirror`, re-evaluates the rules that read it and records the verdicts;
`slots` bounds the work per tenant across instances; `subscriptions` keeps Graph subscriptions
alive; `alert_dispatch` posts the `alerts` queue's batches through `monitors/alerts`; `settings`
reads the app settings in one place.
"""
