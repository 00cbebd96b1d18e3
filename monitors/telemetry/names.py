"""Every span, metric and attribute name Greenscreen emits, in one place (docs/telemetry.md).

Dashboards, alerts and KQL queries depend on these strings: rename one only together with the
documentation and the queries. Attribute values are never secrets: no token, clientState, webhook
URL, connection string or query-string value is ever put into one (tests/test_telemetry.py).
OpenTelemetry semantic-convention names are used where one exists (`http.*`, `url.template`,
`faas.*`, `error.type`); the rest are ours, under `greenscreen.`.
"""

from __future__ import annotations

from typing import Final

INSTRUMENTATION_SCOPE: Final = "greenscreen"
SERVICE_NAME: Final = "greenscreen"  # default when OTEL_SERVICE_NAME is not set

# -- spans ---------------------------------------------------------------------------------------
SPAN_FUNCTION: Final = "greenscreen.function"  # one per trigger invocation
SPAN_EVALUATION: Final = "greenscreen.evaluation"  # one per rules-engine run over a snapshot
SPAN_RULE: Final = "greenscreen.rule"  # one per rule inside an evaluation
SPAN_GRAPH_REQUEST: Final = "greenscreen.graph.request"  # one per Graph call, retries inside
SPAN_GRAPH_BATCH: Final = "greenscreen.graph.batch"  # one per JSON batch, around its request
SPAN_ALERT_DELIVERY: Final = "greenscreen.alert.delivery"  # one per alert message and destination

# -- attributes: OpenTelemetry semantic conventions ----------------------------------------------
FAAS_NAME: Final = "faas.name"
FAAS_TRIGGER: Final = "faas.trigger"  # "http", "pubsub" (queues), "timer"
HTTP_METHOD: Final = "http.request.method"
HTTP_STATUS: Final = "http.response.status_code"
HTTP_RESEND_COUNT: Final = "http.request.resend_count"
URL_TEMPLATE: Final = "url.template"
ERROR_TYPE: Final = "error.type"

# -- attributes: ours ----------------------------------------------------------------------------
TENANT_ID: Final = "greenscreen.tenant.id"
TRIGGER: Final = (
    "greenscreen.trigger"  # what started an evaluation: "reconcile", "queue:audit", ...
)
RULE_ID: Final = "greenscreen.rule.id"
RULE_SEVERITY: Final = "greenscreen.rule.severity"
RULE_COUNT: Final = "greenscreen.rule.count"
RULE_ERROR: Final = "greenscreen.rule.error"  # the rule raised: its verdict is UNKNOWN
FINDING_STATUS: Final = "greenscreen.finding.status"
FINDING_SEVERITY: Final = "greenscreen.finding.severity"
FINDINGS_PREFIX: Final = "greenscreen.findings."  # + status: findings of that status (span count)
UNREADABLE_COUNT: Final = "greenscreen.collections.unreadable"
PROFILE_ID: Final = "greenscreen.profile.id"  # "" for the tenant as a whole
PROFILE_NAME: Final = "greenscreen.profile.name"
TRANSITION_FROM: Final = "greenscreen.transition.from"  # "" for a first verdict
TRANSITION_TO: Final = "greenscreen.transition.to"
GRAPH_VERSION: Final = "greenscreen.graph.version"
GRAPH_QUERY_OPTIONS: Final = "greenscreen.graph.query_options"  # names only, never values
GRAPH_THROTTLED: Final = "greenscreen.graph.throttled"
GRAPH_RETRY_AFTER: Final = "greenscreen.graph.retry_after_s"
GRAPH_IN_BATCH: Final = "greenscreen.graph.in_batch"
GRAPH_BATCH_SIZE: Final = "greenscreen.graph.batch.size"
GRAPH_BATCH_THROTTLED: Final = "greenscreen.graph.batch.throttled"
GRAPH_FALLBACK: Final = "greenscreen.graph.fallback"  # which way round a refused query was taken
CHANGE_KIND: Final = "greenscreen.change.kind"
CHANGE_SOURCE: Final = "greenscreen.change.source"
CHANGE_OUTCOME: Final = "greenscreen.change.outcome"
TRANSITION_COUNT: Final = "greenscreen.transition.count"
QUEUE_NAME: Final = "greenscreen.queue.name"
DEQUEUE_COUNT: Final = "greenscreen.queue.dequeue_count"
NOTIFICATION_OUTCOME: Final = "greenscreen.notification.outcome"
WEBHOOK_KIND: Final = "greenscreen.webhook.kind"  # "validation" or "notification"
ALERT_DESTINATION: Final = "greenscreen.alert.destination"  # the route's name, never its URL
ALERT_OUTCOME: Final = "greenscreen.alert.outcome"  # sent, already_sent, in_flight, undelivered
ALERT_ATTEMPTS: Final = "greenscreen.alert.attempts"
# A Graph type name from an audit record (`Windows10CustomConfiguration`), or "other" if unusual.
AUDIT_RESOURCE_TYPE: Final = "greenscreen.audit.resource_type"
COLLECTION: Final = "greenscreen.collection"  # a snapshot collection path
REREAD_REASON: Final = "greenscreen.reread.reason"  # "unmapped_audit" or "policy_changed"

# -- metrics -------------------------------------------------------------------------------------
METRIC_FINDINGS: Final = "greenscreen.evaluation.findings"  # counter {finding}
METRIC_READINESS: Final = "greenscreen.readiness"  # gauge 1 ready / 0 not ready
METRIC_READINESS_BLOCKING: Final = "greenscreen.readiness.blocking"  # gauge {verdict}
METRIC_TRANSITIONS: Final = "greenscreen.transitions"  # counter {transition}
METRIC_GRAPH_REQUESTS: Final = "greenscreen.graph.requests"  # counter {request}
METRIC_GRAPH_THROTTLES: Final = "greenscreen.graph.throttles"  # counter {request}
# Query forms Graph refused that the reader had relied on (a 400 to an `$expand`...): the day
# Microsoft changes something, this moves.
METRIC_GRAPH_REFUSED: Final = "greenscreen.graph.refused"  # counter {request}
METRIC_GRAPH_FALLBACKS: Final = "greenscreen.graph.fallbacks"  # counter {read}
METRIC_WEBHOOK_DURATION: Final = "greenscreen.webhook.duration"  # histogram s
METRIC_NOTIFICATIONS: Final = "greenscreen.notifications"  # counter {item}
METRIC_QUEUE_LAG: Final = "greenscreen.queue.lag"  # histogram s
METRIC_ALERT_DELIVERIES: Final = "greenscreen.alert.deliveries"  # counter {message}
METRIC_ALERT_FAILURES: Final = "greenscreen.alert.failures"  # counter {message}
METRIC_AUDIT_UNMAPPED: Final = "greenscreen.audit.unmapped_resources"  # counter {resource}
METRIC_POLICY_CHANGES: Final = "greenscreen.policy.changes_detected"  # counter {change}
METRIC_REREADS: Final = "greenscreen.rereads"  # counter {collection}

# -- values --------------------------------------------------------------------------------------
TRIGGER_HTTP: Final = "http"
TRIGGER_QUEUE: Final = "pubsub"
TRIGGER_TIMER: Final = "timer"
