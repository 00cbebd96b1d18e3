"""Manual items: catalog entries that tenant data cannot decide, made explicit.

A requirement Graph cannot show (the network a bench reaches, a sync scope on an on-premises
server, the TPM firmware of a device not yet enrolled) is never a silent pass. Its module
declares `METADATA` with `kind=RuleKind.MANUAL` and `manual_steps` (what a person must check,
one step per entry) and uses `manual_evaluate` as its `evaluate`. The engine then reports one
`Status.MANUAL` finding that carries the steps as its reasons.

What MANUAL means everywhere:
- not green: every report shows it as "check by hand", apart from passes;
- not a failure: it never makes `check` exit 1, never makes a profile RED or UNKNOWN, and is
  not an alerting state, so a manual item neither flips transitions nor alerts on every run
  (its verdict is the same each run, the store writes it once);
- counted separately in every summary (`manual`).

A rule decided from data may still hand over the part it cannot decide with
`FindingBuilder.manual(...)` (for example when it can name the host but not tell whether the
network reaches it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleKind, RuleMetadata, Subject


def manual_item(
    metadata: RuleMetadata,
    message: str | None = None,
) -> Callable[[RuleContext], Iterator[Finding]]:
    """The `evaluate` of a manual item: one MANUAL finding about the tenant, with its steps."""
    if metadata.kind is not RuleKind.MANUAL or not metadata.manual_steps:
        raise ValueError(f"{metadata.id} is not a manual item with steps to check")
    text = message or f"check by hand: {metadata.title[0].lower()}{metadata.title[1:]}"

    def evaluate(context: RuleContext) -> Iterator[Finding]:
        yield manual_finding(metadata, context.tenant_subject, text)

    return evaluate


def manual_finding(
    metadata: RuleMetadata,
    subject: Subject,
    message: str,
    steps: tuple[str, ...] = (),
) -> Finding:
    """One MANUAL finding; `steps` default to the metadata's `manual_steps`."""
    return FindingBuilder(metadata).manual(subject, message, steps)
