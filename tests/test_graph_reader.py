"""The Graph reader, run for real over HTTP against the Graph simulator."""

from __future__ import annotations

import asyncio
import copy
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError

from monitors.cli import main as greenscreen
from monitors.graph.client import GraphClient, RetryPolicy
from monitors.graph.collections import COLLECTION_SPECS, spec_for
from monitors.graph.credentials import LocalDevelopmentCredential
from monitors.graph.reader import TenantReader, autopilot_device_fields, is_safe_id
from monitors.snapshot_file import first_problem, load_snapshot
from monitors.telemetry import names
from rules import tenant_collections as tc
from samples.synthetic import generate_tenant
from tests.graphsim import Fault, GraphSimulator
from tests.test_telemetry import Captured, telemetry  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"
FAST_RETRIES = RetryPolicy(max_retries=3, base_delay_s=0.05, transport_retries=1, timeout_s=2.0)


def load_sample() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return document


def read(sim: GraphSimulator, tenant_id: str, retry: RetryPolicy = FAST_RETRIES) -> Any:
    async def run() -> tuple[dict[str, Any], Any]:
        async with GraphClient(
            LocalDevelopmentCredential(), base_url=sim.url, retry=retry
        ) as client:
            snapshot = await TenantReader(client, tenant_id=tenant_id).read()
            return snapshot, client.stats

    return asyncio.run(run())


def projected(source: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """What the reader should bring back: the source, with `$select`ed collections projected."""
    result: dict[str, list[dict[str, Any]]] = {}
    for path, items in source["collections"].items():
        spec = next((s for s in COLLECTION_SPECS if s.path == path), None)
        keep = set(spec.select) | {"@odata.type"} if spec and spec.select else None
        navigations = set(tc.INLINED_NAVIGATIONS.get(path, ()))
        rows = []
        for item in items:
            if path == tc.AUTOPILOT_DEVICES:
                # Graph cannot `$select` devices: the reader keeps the contract's fields and
                # learns `deploymentProfile` from the profiles; no bulk read gives the intended one.
                row = autopilot_device_fields(item)
                row["deploymentProfile"] = copy.deepcopy(item.get("deploymentProfile"))
                rows.append(row)
            elif keep is None:
                rows.append(copy.deepcopy(item))
            else:
                rows.append({k: v for k, v in item.items() if k in keep or k in navigations})
        result[path] = rows
    result[tc.GROUPS] = sorted(result.get(tc.GROUPS, []), key=lambda group: group["id"])
    return result


@pytest.fixture(scope="module")
def sample_tenant() -> dict[str, Any]:
    return load_sample()


@pytest.fixture
def sample_sim(sample_tenant: dict[str, Any]) -> Iterator[GraphSimulator]:
    with GraphSimulator(sample_tenant) as sim:
        yield sim


def test_reader_reproduces_the_sample_tenant_exactly(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    snapshot, _ = read(sample_sim, sample_tenant["tenantId"])
    assert first_problem(snapshot) is None
    assert snapshot["errors"] == {}
    assert snapshot["collections"] == projected(sample_tenant)


def test_reader_reproduces_a_tenant_that_needs_many_pages_and_batches() -> None:
    tenant = generate_tenant(
        apps=1300,
        device_configurations=120,
        settings_policies=70,
        scripts=30,
        enrollment_configurations=12,
        profiles=5,
        groups=400,
        devices=2100,
        seed=7,
    )
    with GraphSimulator(tenant) as sim:
        snapshot, stats = read(sim, tenant["tenantId"])
        log = list(sim.request_log)
    assert snapshot["errors"] == {}
    assert snapshot["collections"] == projected(tenant)
    next_pages = [entry for entry in log if "skiptoken" in entry.query.lower()]
    assert next_pages, "the tenant was meant to need more than one page somewhere"
    assert stats.batch_requests >= 3
    # Graph's batch limit: never more than 20 items in one envelope.
    per_batch: dict[str | None, int] = {}
    for entry in log:
        if entry.in_batch:
            per_batch[entry.batch_id] = per_batch.get(entry.batch_id, 0) + 1
    assert max(per_batch.values()) <= 20


def test_full_read_uses_pages_at_the_cap_and_batches_of_twenty(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    _snapshot, stats = read(sample_sim, sample_tenant["tenantId"])
    top_level = [entry for entry in sample_sim.request_log if not entry.in_batch]
    list_requests = [entry for entry in top_level if entry.method == "GET"]
    # One page per collection (the sample is small), one request for the singleton.
    assert len(list_requests) == len(COLLECTION_SPECS)
    # Every list asks for the largest page Graph gives (the settings catalog's is 25).
    for entry in list_requests:
        if entry.path == tc.SETTINGS_CATALOG_POLICIES:
            assert "$top=25" in entry.query, entry
        elif entry.path == tc.AUTOPILOT_DEVICES:
            assert entry.query == "$top=1000", entry  # no $select, no $expand: both refused
        elif entry.path != tc.DEVICE_REGISTRATION_POLICY:
            assert "$top=1000" in entry.query or "$top=999" in entry.query, entry
    inner = [entry for entry in sample_sim.request_log if entry.in_batch]
    batches = {entry.batch_id for entry in inner}
    assert stats.batch_requests == len(batches)
    # Per-object reads of one version share batches: 13 reads need one batch per version/round.
    beta_inner = [entry for entry in inner if entry.version == "beta"]
    assert len({entry.batch_id for entry in beta_inner}) == math.ceil(len(beta_inner) / 20)
    # Assignments came with the lists: no per-object assignment reads.
    assert not [entry for entry in sample_sim.request_log if entry.path.endswith("/assignments")]


def test_throttling_is_retried_by_the_middleware_honouring_retry_after(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    sample_sim.add_fault(
        Fault(path=r"^deviceAppManagement/mobileApps$", kind="throttle", times=2, retry_after=1)
    )
    sample_sim.add_fault(
        Fault(path=r"^deviceManagement/deviceConfigurations$", kind="unavailable", times=1)
    )
    snapshot, stats = read(sample_sim, sample_tenant["tenantId"])
    apps = [e for e in sample_sim.request_log if e.path == tc.MOBILE_APPS and not e.in_batch]
    configs = [e for e in sample_sim.request_log if e.path == tc.DEVICE_CONFIGURATIONS]
    assert [e.status for e in apps] == [429, 429, 200]
    assert [e.status for e in configs] == [503, 200]
    assert stats.throttled == 2
    assert snapshot["errors"] == {}
    assert snapshot["collections"] == projected(sample_tenant)


def test_throttled_items_inside_a_batch_are_resubmitted(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    sample_sim.add_fault(Fault(path=r"/settings$", kind="throttle", times=2, retry_after=1))
    snapshot, _ = read(sample_sim, sample_tenant["tenantId"])
    throttled = [e for e in sample_sim.request_log if e.in_batch and e.status == 429]
    assert len(throttled) == 2
    assert snapshot["errors"] == {}
    assert snapshot["collections"] == projected(sample_tenant)


def test_forbidden_collection_is_recorded_and_the_rest_is_read(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    sample_sim.add_fault(
        Fault(path=r"^deviceManagement/deviceManagementScripts$", kind="forbidden", times=None)
    )
    snapshot, _ = read(sample_sim, sample_tenant["tenantId"])
    assert tc.PLATFORM_SCRIPTS not in snapshot["collections"]
    assert snapshot["errors"][tc.PLATFORM_SCRIPTS]["status"] == 403
    expected = projected(sample_tenant)
    del expected[tc.PLATFORM_SCRIPTS]
    # Groups referenced only by scripts are no longer known to be referenced.
    assert {k: v for k, v in snapshot["collections"].items() if k != tc.GROUPS} == {
        k: v for k, v in expected.items() if k != tc.GROUPS
    }
    assert first_problem(snapshot) is None


def test_throttling_past_the_retry_budget_makes_the_collection_unreadable(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    sample_sim.add_fault(
        Fault(
            path=r"^deviceManagement/assignmentFilters$", kind="throttle", times=None, retry_after=1
        )
    )
    retry = RetryPolicy(max_retries=1, base_delay_s=0.05, transport_retries=0, timeout_s=2.0)
    snapshot, _ = read(sample_sim, sample_tenant["tenantId"], retry)
    assert snapshot["errors"][tc.ASSIGNMENT_FILTERS]["status"] == 429
    assert tc.ASSIGNMENT_FILTERS not in snapshot["collections"]


def test_delegated_only_mdm_policy_error_says_how_to_read_it(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    sample_sim.add_fault(
        Fault(path=r"^policies/mobileDeviceManagementPolicies$", kind="forbidden", times=None)
    )
    snapshot, _ = read(sample_sim, sample_tenant["tenantId"])
    error = snapshot["errors"][tc.MDM_POLICIES]
    assert error["status"] == 403
    assert "delegated permissions only" in error["message"]


def test_timeouts_are_retried_within_a_bounded_budget(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    sample_sim.add_fault(
        Fault(path=r"^deviceManagement/domainJoinConnectors$", kind="timeout", times=1, delay_s=3.0)
    )
    retry = RetryPolicy(max_retries=1, base_delay_s=0.05, transport_retries=1, timeout_s=1.0)
    snapshot, stats = read(sample_sim, sample_tenant["tenantId"], retry)
    assert stats.retried_transport_errors == 1
    assert snapshot["errors"] == {}


def test_malformed_json_makes_only_that_collection_unreadable(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    sample_sim.add_fault(
        Fault(path=r"^deviceManagement/deviceCompliancePolicies$", kind="malformed", times=None)
    )
    snapshot, _ = read(sample_sim, sample_tenant["tenantId"])
    assert snapshot["errors"][tc.COMPLIANCE_POLICIES]["message"].startswith("malformed JSON")
    assert tc.AUTOPILOT_PROFILES in snapshot["collections"]


def test_no_token_means_every_collection_is_unreadable_not_empty(
    sample_sim: GraphSimulator,
) -> None:
    class BrokenCredential:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            raise ClientAuthenticationError("AADSTS700016: application not found\nmore text")

    async def run() -> dict[str, Any]:
        async with GraphClient(
            BrokenCredential(), base_url=sample_sim.url, retry=FAST_RETRIES
        ) as client:
            return await TenantReader(client, tenant_id="t").read()

    snapshot = asyncio.run(run())
    assert snapshot["collections"].keys() <= {tc.GROUPS}
    assert snapshot["errors"][tc.MOBILE_APPS] == {
        "status": 401,
        "message": "could not get a Graph token: AADSTS700016: application not found",
    }
    assert not sample_sim.request_log, "no request may leave without a token"


def test_export_command_writes_a_valid_snapshot(
    sample_sim: GraphSimulator,
    sample_tenant: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "export.json"
    status = greenscreen(
        [
            "export",
            "--graph-url",
            sample_sim.url,
            "--auth",
            "local",
            "--tenant",
            sample_tenant["tenantId"],
            "--out",
            str(out),
        ]
    )
    assert status == 0
    exported = load_snapshot(out)
    assert exported["tenantId"] == sample_tenant["tenantId"]
    assert exported["collections"] == projected(sample_tenant)
    err = capsys.readouterr().err
    assert f"read {tc.AUTOPILOT_PROFILES}:" in err
    assert "HTTP requests" in err


def test_export_refuses_local_auth_against_a_remote_graph(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = greenscreen(
        [
            "export",
            "--graph-url",
            "https://graph.microsoft.com",
            "--auth",
            "local",
            "--out",
            str(tmp_path / "x.json"),
        ]
    )
    assert status == 2
    assert capsys.readouterr().err.strip() == (
        "greenscreen: --auth local only works with a Graph simulator on loopback"
    )
    assert not (tmp_path / "x.json").exists()


def test_export_refuses_plain_http_to_a_remote_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = greenscreen(
        ["export", "--graph-url", "http://graph.example.net", "--out", str(tmp_path / "x.json")]
    )
    assert status == 2
    assert "plain http is only allowed" in capsys.readouterr().err


def test_collection_specs_cover_every_snapshot_collection_but_groups() -> None:
    assert {spec.path for spec in COLLECTION_SPECS} == set(tc.ALL_COLLECTIONS) - {tc.GROUPS}
    assert spec_for(tc.DEVICES).advanced_query


def test_refused_expand_falls_back_to_per_object_reads_in_batches(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    sample_sim.add_fault(
        Fault(
            path=r"^deviceManagement/deviceManagementScripts$",
            kind="bad_request",
            query=r"\$expand=assignments",
            times=None,
        )
    )
    snapshot, _ = read(sample_sim, sample_tenant["tenantId"])
    assert snapshot["errors"] == {}
    assert snapshot["collections"] == projected(sample_tenant)
    per_object = [
        e
        for e in sample_sim.request_log
        if e.in_batch and e.path.startswith(tc.PLATFORM_SCRIPTS) and e.path.endswith("/assignments")
    ]
    assert len(per_object) == len(sample_tenant["collections"][tc.PLATFORM_SCRIPTS])


def test_next_link_that_loops_is_stopped_and_recorded() -> None:
    from monitors.graph.client import GraphError
    from monitors.graph.reader import TenantReader as Reader

    class LoopingClient:
        async def request_json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
            return {"value": [{"id": "x"}], "@odata.nextLink": "https://graph/next"}

    reader = Reader(LoopingClient(), tenant_id="t")  # type: ignore[arg-type]
    first = {"value": [{"id": "a"}], "@odata.nextLink": "https://graph/next"}
    with pytest.raises(GraphError, match="nextLink that loops"):
        asyncio.run(reader._follow_pages(first, None))


def test_export_on_a_terminal_draws_a_progress_bar(
    sample_sim: GraphSimulator,
    sample_tenant: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    status = greenscreen(
        [
            "export",
            "--graph-url",
            sample_sim.url,
            "--auth",
            "local",
            "--tenant",
            sample_tenant["tenantId"],
            "--out",
            str(tmp_path / "t.json"),
        ]
    )
    assert status == 0
    drawn = terminal.getvalue()
    assert "reading tenant" in drawn
    assert f"{len(COLLECTION_SPECS) + 1}/{len(COLLECTION_SPECS) + 1}" in drawn
    assert "read deviceAppManagement/mobileApps" not in drawn  # plain lines are for pipes


def test_check_reads_a_live_tenant_through_graph(
    sample_sim: GraphSimulator,
    sample_tenant: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "findings.json"
    status = greenscreen(
        [
            "check",
            "--graph-url",
            sample_sim.url,
            "--auth",
            "local",
            "--tenant",
            sample_tenant["tenantId"],
            "--format",
            "json",
            "--all",
            "--out",
            str(out),
        ]
    )
    assert status == 1  # the sample's deliberate problems
    findings = read_findings(out)
    failing = {
        (f["ruleId"], f["subject"]["displayName"]) for f in findings if f["status"] == "fail"
    }
    assert ("GRP-002", "Autopilot - Sales devices") in failing
    assert ("ESP-003", "Zoom Workplace") in failing
    assert any(not entry.in_batch for entry in sample_sim.request_log)


def test_check_of_a_live_tenant_with_an_unreadable_collection_is_not_green(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any], tmp_path: Path
) -> None:
    sample_sim.add_fault(
        Fault(
            path=r"^deviceManagement/deviceEnrollmentConfigurations$", kind="forbidden", times=None
        )
    )
    out = tmp_path / "findings.json"
    greenscreen(
        [
            "check",
            "--graph-url",
            sample_sim.url,
            "--auth",
            "local",
            "--tenant",
            sample_tenant["tenantId"],
            "--format",
            "json",
            "--all",
            "--out",
            str(out),
        ]
    )
    findings = read_findings(out)
    esp = [f for f in findings if f["ruleId"].startswith("ESP-00")]
    assert esp
    assert all(f["status"] != "pass" for f in esp), [(f["ruleId"], f["status"]) for f in esp]
    assert {f["status"] for f in esp} >= {"unknown"}


# --- Graph as it behaves in the field (docs/graph-simulator.md, "How real Graph behaves") ------


def read_findings(path: Path) -> list[dict[str, Any]]:
    """The findings of a `greenscreen.findings/2` document, reasons as text."""
    document = json.loads(path.read_text(encoding="utf-8"))
    texts = document["texts"]
    findings: list[dict[str, Any]] = document["findings"]
    for finding in findings:
        finding["reasons"] = [texts[index] for index in finding["reasons"]]
    return findings


def _check_findings(tmp_path: Path, name: str, *source: str) -> dict[tuple[str, str], str]:
    out = tmp_path / f"{name}.json"
    greenscreen(["check", *source, "--format", "json", "--all", "--out", str(out)])
    findings = read_findings(out)
    return {(f["ruleId"], f["subject"]["id"]): f["status"] for f in findings}


def test_live_check_judges_autopilot_devices_as_the_snapshot_file_does(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any], tmp_path: Path
) -> None:
    # The device list refuses $select (500) and $expand=deploymentProfile (400): read plain,
    # profiles from assignedDevices, intended profile from status and targeting.
    live = _check_findings(
        tmp_path,
        "live",
        "--graph-url",
        sample_sim.url,
        "--auth",
        "local",
        "--tenant",
        sample_tenant["tenantId"],
    )
    from_file = _check_findings(tmp_path, "file", "--snapshot", str(SAMPLE))
    device_rules = {key: status for key, status in from_file.items() if key[0].startswith("DEV-")}
    assert device_rules
    assert "pass" in device_rules.values()
    assert {key: live.get(key) for key in device_rules} == device_rules
    devices = [e for e in sample_sim.request_log if e.path == tc.AUTOPILOT_DEVICES]
    assert [(e.query, e.status) for e in devices] == [("$top=1000", 200)]
    assigned = [e for e in sample_sim.request_log if e.path.endswith("/assignedDevices")]
    assert len(assigned) == len(sample_tenant["collections"][tc.AUTOPILOT_PROFILES])
    assert all(e.in_batch for e in assigned)


def test_device_profiles_come_from_the_profiles_assigned_devices(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    snapshot, _ = read(sample_sim, sample_tenant["tenantId"])
    expected = {
        d["id"]: (d["deploymentProfile"] or {}).get("id")
        for d in sample_tenant["collections"][tc.AUTOPILOT_DEVICES]
    }
    read_back = {
        d["id"]: (d["deploymentProfile"] or {}).get("id")
        for d in snapshot["collections"][tc.AUTOPILOT_DEVICES]
    }
    assert read_back == expected
    assert None in read_back.values()  # the unassigned device reads as unassigned
    assert all(
        "intendedDeploymentProfile" not in d for d in snapshot["collections"][tc.AUTOPILOT_DEVICES]
    )


def test_unreadable_assigned_devices_make_only_assigned_devices_profiles_unknown(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    sample_sim.add_fault(Fault(path=r"/assignedDevices$", kind="forbidden", times=None))
    snapshot, _ = read(sample_sim, sample_tenant["tenantId"])
    devices = snapshot["collections"][tc.AUTOPILOT_DEVICES]
    unknown = [d for d in devices if "deploymentProfile" not in d]
    unassigned = [d for d in devices if d["deploymentProfileAssignmentStatus"] == "notAssigned"]
    assert unassigned
    assert all(d["deploymentProfile"] is None for d in unassigned)
    assert len(unknown) == len(devices) - len(unassigned)
    assert {f"{tc.AUTOPILOT_DEVICES}/{d['id']}/deploymentProfile" for d in unknown} == set(
        snapshot["errors"]
    )
    assert first_problem(snapshot) is None


def test_settings_catalog_is_read_in_pages_of_25_following_next_links() -> None:
    tenant = generate_tenant(
        apps=20,
        device_configurations=10,
        settings_policies=60,
        scripts=5,
        enrollment_configurations=5,
        profiles=3,
        groups=30,
        devices=30,
        seed=3,
    )
    with GraphSimulator(tenant) as sim:
        snapshot, _ = read(sim, tenant["tenantId"])
        pages = [e for e in sim.request_log if e.path == tc.SETTINGS_CATALOG_POLICIES]
    assert len(pages) == math.ceil(60 / 25)
    assert [p["id"] for p in snapshot["collections"][tc.SETTINGS_CATALOG_POLICIES]] == [
        p["id"] for p in tenant["collections"][tc.SETTINGS_CATALOG_POLICIES]
    ]


@pytest.mark.parametrize(
    "value",
    [
        "3a76f5df-c71f-5e69-acd4-cca139633a72",
        "3A76F5DF-C71F-5E69-ACD4-CCA139633A72",
        # Intune's composed ids (samples and Microsoft's examples in tests/graph_examples):
        "b9309bc0-3f43-529f-a270-6a05c991960a_Windows10EnrollmentCompletion",
        "2ac43dfe-b52d-5454-a43a-41903be9693e_DefaultWindows10EnrollmentCompletionPageConfiguration",
        "2ac43dfe-b52d-5454-a43a-41903be9693e_DefaultPlatformRestrictions",
        "2ac43dfe-b52d-5454-a43a-41903be9693e_DefaultLimit_acacacac-9df4-4c7d-9d50-4ef0226f57a9",
        "5bc400e9-3b8b-5704-94a4-8e972f573b26_3a76f5df-c71f-5e69-acd4-cca139633a72",
        "3a76f5df-c71f-5e69-acd4-cca139633a72_1_0",
    ],
)
def test_graph_id_shapes_are_safe(value: str) -> None:
    assert is_safe_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "app-1",
        "0123456789abcdef0123456789abcdef",  # a digest, not a Graph id
        "3a76f5df-c71f-5e69-acd4-cca139633a7",  # one digit short
        "3a76f5df-c71f-5e69-acd4-cca139633a72_",
        "3a76f5df-c71f-5e69-acd4-cca139633a72__x",
        "3a76f5df-c71f-5e69-acd4-cca139633a72_a b",
        "3a76f5df-c71f-5e69-acd4-cca139633a72_x'",
        "3a76f5df-c71f-5e69-acd4-cca139633a72/assignments",
        "3a76f5df-c71f-5e69-acd4-cca139633a72_Défaut",  # non-ASCII letter
        "٣a76f5df-c71f-5e69-acd4-cca139633a72",  # Arabic-Indic digit
        "３a76f5df-c71f-5e69-acd4-cca139633a72",  # fullwidth digit
        "3a76f5df-c71f-5e69-acd4-cca139633a72\n",
        "3a76f5df-c71f-5e69-acd4-cca139633a72_" + "x" * 200,  # beyond any real id
    ],
)
def test_other_values_are_not_ids(value: str) -> None:
    assert not is_safe_id(value)


def test_device_whose_group_targeting_moved_fails_dev_001_without_an_intended_profile(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any], tmp_path: Path
) -> None:
    # Graph gives no bulk read of `intendedDeploymentProfile`: a certain group targeting stands in.
    device = "deb43cf6-57de-5ed1-8c1e-23cbbeff8149"
    sample_sim.apply_changes(
        {
            "format": "greenscreen.tenant-changes/1",
            "changes": [
                {
                    "op": "set",
                    "collection": tc.AUTOPILOT_DEVICES,
                    "id": device,
                    "path": "groupTag",
                    "value": "Sales",
                }
            ],
        }
    )
    out = tmp_path / "findings.json"
    greenscreen(
        [
            "check",
            "--graph-url",
            sample_sim.url,
            "--auth",
            "local",
            "--tenant",
            sample_tenant["tenantId"],
            "--format",
            "json",
            "--all",
            "--out",
            str(out),
        ]
    )
    findings = read_findings(out)
    (verdict,) = [f for f in findings if f["ruleId"] == "DEV-001" and f["subject"]["id"] == device]
    assert verdict["status"] == "fail"
    assert any("group targeting gives profile" in reason for reason in verdict["reasons"])


def test_refused_queries_and_fallbacks_are_counted(
    sample_sim: GraphSimulator,
    sample_tenant: dict[str, Any],
    telemetry: Captured,  # noqa: F811 - fixture
) -> None:
    sample_sim.add_fault(
        Fault(
            path=r"^deviceManagement/deviceManagementScripts$",
            kind="bad_request",
            query=r"\$expand=assignments",
            times=None,
        )
    )
    read(sample_sim, sample_tenant["tenantId"])
    assert (
        telemetry.total(
            names.METRIC_GRAPH_REFUSED,
            **{
                names.URL_TEMPLATE: tc.PLATFORM_SCRIPTS,
                names.GRAPH_QUERY_OPTIONS: "$expand,$top",
                names.HTTP_STATUS: 400,
            },
        )
        == 1
    )
    assert (
        telemetry.total(
            names.METRIC_GRAPH_FALLBACKS,
            **{
                names.GRAPH_FALLBACK: "per_object_navigation",
                names.URL_TEMPLATE: tc.PLATFORM_SCRIPTS,
            },
        )
        == 1
    )
    assert telemetry.total(names.METRIC_GRAPH_REFUSED) == 1  # nothing else was refused


def test_next_link_that_loops_inside_a_batch_stops_that_read_only(
    sample_sim: GraphSimulator, sample_tenant: dict[str, Any]
) -> None:
    sample_sim.add_fault(Fault(path=r"/assignedDevices$", kind="loop", times=None))

    async def bounded() -> Any:
        # A reader that follows the loop never returns: bound it so the test fails, not hangs.
        return await asyncio.wait_for(
            asyncio.to_thread(read, sample_sim, sample_tenant["tenantId"]), 120
        )

    snapshot, _ = asyncio.run(bounded())
    devices = snapshot["collections"][tc.AUTOPILOT_DEVICES]
    assert {key.rsplit("/", 1)[-1] for key in snapshot["errors"]} == {"deploymentProfile"}
    assert len(snapshot["errors"]) == sum(
        1 for d in devices if d["deploymentProfileAssignmentStatus"] != "notAssigned"
    )
    loops = [e for e in sample_sim.request_log if e.path.endswith("/assignedDevices")]
    profiles = len(sample_tenant["collections"][tc.AUTOPILOT_PROFILES])
    assert len(loops) == 2 * profiles  # the first page, then its link once: seen, stopped
