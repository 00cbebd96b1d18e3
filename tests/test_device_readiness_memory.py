"""Per-device readiness holds the blockers devices share once, not once per device.

On a large tenant every device of a profile is named by thousands of the profile's failing
findings; a list of them per device grew with devices × findings (about 5 GB at 100,000 devices).
Memory is measured with tracemalloc (allocations, not time): what the readiness of every device
holds must not grow with the number of findings the devices share.
"""

from __future__ import annotations

import json
import tracemalloc
from collections import Counter

from monitors.reports.html_report import render_html
from monitors.reports.model import BlockerCounter, build_report
from rules.device_readiness import device_readiness
from rules.engine import Evaluation, collector_paused
from rules.findings import Finding, Severity, Status, Subject
from rules.snapshot_model import TenantSnapshot
from samples.synthetic import generate_tenant

DEVICES = 1500


def _snapshot() -> TenantSnapshot:
    document = generate_tenant(
        apps=10,
        device_configurations=5,
        settings_policies=2,
        scripts=2,
        enrollment_configurations=3,
        profiles=2,
        groups=20,
        devices=DEVICES,
        compliance_policies=1,
        filters=1,
    )
    return TenantSnapshot.from_document(document)


def _shared_failures(snapshot: TenantSnapshot, count: int) -> list[Finding]:
    """`count` failing findings that all name every device with one shared tuple, as a rule's
    findings for one profile do, plus one failure of a single device."""
    every_device = tuple(sorted(device.id for device in snapshot.autopilot_devices or ()))
    findings = [
        Finding(
            rule_id="TST-001",
            status=Status.FAIL,
            severity=Severity.ERROR,
            subject=Subject("mobileApp", f"app-{index:04d}", f"App {index:04d}"),
            message=f"app {index:04d} installs as the user",
            devices=every_device,
        )
        for index in range(count)
    ]
    findings.append(
        Finding(
            rule_id="TST-002",
            status=Status.FAIL,
            severity=Severity.ERROR,
            subject=Subject("autopilotDevice", every_device[0], "first"),
            message="the first device has no hardware hash",
            devices=every_device[:1],
        )
    )
    return findings


def _held_by_readiness(snapshot: TenantSnapshot, findings: list[Finding]) -> int:
    """Bytes still allocated by `device_readiness`'s answer (the answer kept, the rest freed)."""
    device_readiness(snapshot, findings)  # warm the snapshot's shared targeting view
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        answer = device_readiness(snapshot, findings)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(answer) == DEVICES
    return after - before


def test_readiness_memory_does_not_grow_with_devices_times_shared_findings() -> None:
    snapshot = _snapshot()
    with collector_paused():
        few = _held_by_readiness(snapshot, _shared_failures(snapshot, 20))
        many = _held_by_readiness(snapshot, _shared_failures(snapshot, 420))
    # 400 more findings naming 1,500 devices: a per-device list holds 600,000 more references
    # (4.8 MB); shared, the 400 blockers themselves and one tuple (well under 0.5 MB).
    assert many - few < 500_000, f"{many - few:,} bytes more for 400 more shared findings"


def test_shared_blockers_read_in_report_order_with_the_devices_own() -> None:
    snapshot = _snapshot()
    findings = _shared_failures(snapshot, 30)
    with collector_paused():
        devices = device_readiness(snapshot, findings)
    first = next(d for d in devices if d.device_id == findings[-1].devices[0])
    other = next(d for d in devices if d.device_id != first.device_id)
    named = [b.rule_id for b in first.blockers if b.rule_id is not None]
    assert named.count("TST-001") == 30
    assert named.count("TST-002") == 1
    assert named == sorted(named), "failures by rule id, as the report orders them"
    assert len(first.blockers) == len(tuple(first.blockers))
    assert first.blockers[0] == next(iter(first.blockers))
    assert [b.rule_id for b in other.blockers if b.rule_id] == ["TST-001"] * 30
    assert first.readiness.value == other.readiness.value == "red"


def test_blocker_counts_name_rules_in_the_order_each_device_lists_them() -> None:
    snapshot = _snapshot()
    findings = _shared_failures(snapshot, 25)
    with collector_paused():
        devices = device_readiness(snapshot, findings)
    count = BlockerCounter(lambda b: b.rule_id or b.message)
    for device in devices:
        listed = Counter((b.rule_id or b.message) for b in device.blockers)
        assert list(count(device.blockers).items()) == list(listed.items())


def test_html_device_rows_count_shared_blockers_per_device() -> None:
    snapshot = _snapshot()
    findings = _shared_failures(snapshot, 25)
    with collector_paused():
        devices = device_readiness(snapshot, findings)
        evaluation = Evaluation(
            tenant_id=snapshot.tenant_id,
            captured_at="2026-11-24T09:00:00Z",
            findings=tuple(findings),
            rules=(),
            unreadable=(),
        )
        page = render_html(build_report(evaluation, snapshot, Severity.ERROR, devices))
    texts = json.loads(page.split('id="device-data">', 1)[1].split("</script>", 1)[0])["texts"]
    assert "TST-001 ×25" in texts
    # The first device: its own failure after the 25 it shares with every device.
    assert any(text.endswith("TST-001 ×25; TST-002") for text in texts)
