"""Precision and recall of Greenscreen's predictions against real pre-provisioning attempts.

Over the covered attempts of a window (default: the last 30 days; an attempt is *covered* when
Greenscreen had at least one verdict for its profile or the tenant at that time):

- predicted failure: a failing `blocker`/`error` verdict about the attempt's profile (or the
  tenant, or that device) was valid at the attempt's time (docs/deployments.md);
- true positive (TP): predicted, and the attempt failed; false positive (FP, a false alarm):
  predicted, and it went green; false negative (FN): not predicted, and it failed;
- precision = TP / (TP + FP); recall = TP / (TP + FN); `null` when the denominator is 0;
- per rule R: TP_R and FP_R count the attempts R was among the predictions of; precision_R =
  TP_R / (TP_R + FP_R); recall_R = TP_R / (all covered failures); `explained` counts failures
  where R's subject is the app or policy that failed.

Unexplained failures (FN) are listed with what they share: profile, model, failing app/policy
type, error code and failing item, each value with how many of them carry it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from monitors.deployments.assessment import (
    EXPLAINED,
    FALSE_ALARM,
    GREEN,
    NOT_COVERED,
    PREDICTED,
    UNEXPLAINED,
)
from monitors.store.deployment_store import DeploymentStore
from monitors.store.keys import format_time

WINDOW: Final = timedelta(days=30)
MAX_LISTED: Final = 20


def accuracy(documents: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    unexplained: list[Mapping[str, Any]] = []
    for document in documents:
        category = str(document.get("category") or "")
        counts[category] += 1
        if category == UNEXPLAINED:
            unexplained.append(document)
        rules = {str(p.get("ruleId")) for p in document.get("predictions") or ()}
        explaining = {
            str(p.get("ruleId")) for p in document.get("predictions") or () if p.get("explains")
        }
        for rule in rules:
            if category in (EXPLAINED, PREDICTED):
                per_rule[rule]["tp"] += 1
            elif category == FALSE_ALARM:
                per_rule[rule]["fp"] += 1
        for rule in explaining:
            per_rule[rule]["explained"] += 1
    tp = counts[EXPLAINED] + counts[PREDICTED]
    fp, fn = counts[FALSE_ALARM], counts[UNEXPLAINED]
    failures = tp + fn
    return {
        "attempts": sum(counts.values()),
        "covered": sum(counts.values()) - counts[NOT_COVERED],
        "notCovered": counts[NOT_COVERED],
        "failures": failures,
        "categories": {
            name: counts[name]
            for name in (EXPLAINED, PREDICTED, UNEXPLAINED, FALSE_ALARM, GREEN, NOT_COVERED)
        },
        "overall": {
            "truePositives": tp,
            "falsePositives": fp,
            "falseNegatives": fn,
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
        },
        "rules": [
            {
                "ruleId": rule,
                "truePositives": c["tp"],
                "falsePositives": c["fp"],
                "explained": c["explained"],
                "precision": _ratio(c["tp"], c["tp"] + c["fp"]),
                "recall": _ratio(c["tp"], failures),
            }
            for rule, c in sorted(per_rule.items())
        ],
        "unexplained": {
            "count": len(unexplained),
            "common": common_traits(unexplained),
            "items": [_summary(d) for d in unexplained[:MAX_LISTED]],
        },
    }


def report(
    deployments: DeploymentStore, tenant_id: str, now: datetime, window: timedelta = WINDOW
) -> dict[str, Any]:
    since = now - window
    documents = deployments.between(tenant_id, since, now)
    return {
        "since": format_time(since),
        "until": format_time(now),
        "windowDays": window.days,
        **accuracy(documents),
    }


def common_traits(documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Values several unexplained failures share, most shared first."""
    traits: dict[str, Counter[str]] = defaultdict(Counter)
    listed = list(documents)
    for document in listed:
        failing = [f for f in document.get("failing") or () if isinstance(f, Mapping)]
        traits["profile"][str(document.get("profile") or "")] += 1
        traits["model"][str(document.get("model") or "")] += 1
        traits["phase"][str(document.get("phase") or "")] += 1
        for name, key in (
            ("policyType", "policyType"),
            ("errorCode", "errorCode"),
            ("item", "name"),
        ):
            for value in {str(f.get(key) or "") for f in failing}:
                traits[name][value] += 1
    shared = sorted(
        (
            (-count, trait, value)
            for trait, counter in traits.items()
            for value, count in counter.items()
            if value and (count >= 2 or len(listed) == 1)
        )
    )[:MAX_LISTED]
    return [
        {"trait": trait, "value": value, "count": -negative, "of": len(listed)}
        for negative, trait, value in shared
    ]


def _summary(document: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: document.get(key)
        for key in ("eventId", "at", "serialNumber", "profile", "model", "phase", "failing")
    }


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None
