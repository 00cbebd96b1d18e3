"""Hostile values for every HTTP query parameter and every CLI input, and hostile configuration.

- The query APIs through the real Functions handlers, over a store in Azurite that holds two
  tenants: bad values get 400 with a one-line JSON error; filter syntax used as a value is
  matched literally and never returns the other tenant's rows.
- `greenscreen check --snapshot`, `--what-if`, `history` and argument parsing: hostile files and
  values exit 2 with exactly one line on stderr and no traceback, in-process and as a process.
- The change-file parser and applier, snapshot loading and the history filters under
  hypothesis.
- Configured URLs (alert webhooks, Graph) cannot aim the app at metadata endpoints or plain
  http elsewhere than loopback; the deployment grants read-only Graph permissions and
  resource-scoped data roles only.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import azure.functions as func
import pytest
from azure.data.tables import TableServiceClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitors import snapshot_file
from monitors.alerts.routing import AlertSettingsError, WebhookUrl, routing_from_settings
from monitors.cli import main
from monitors.graph.client import GraphClient, GraphError
from monitors.graph.reader import is_safe_id
from monitors.guardrail.settings import SettingsError, read_settings
from monitors.snapshot_file import SnapshotFileError, load_snapshot
from monitors.store import query_params
from monitors.store.records import ChangeEvent
from monitors.store.verdict_store import VerdictStore
from monitors.tenant_changes import (
    CHANGE_FORMAT,
    CHANGE_OPS,
    ChangeError,
    apply_changes,
    load_change_document,
    validate_change_document,
)
from rules.findings import Status
from rules.tenant_collections import ALL_COLLECTIONS
from tests.azurite import Azurite
from tests.conftest import evaluation, finding, run_info
from tests.tenant_builder import healthy_tenant
from tests.test_http_api import user_function

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"
ATTACKER = str(uuid.uuid4())  # the tenant a caller names
VICTIM = str(uuid.uuid4())  # another tenant in the same tables
VICTIM_MARKS = (VICTIM, "victimapp", "Victim Admin", "victim-event")
FUZZ = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]

INJECTIONS = [
    "' or 1 eq 1",
    "' or ''='",
    "x' or PartitionKey ne '",
    "PartitionKey ne ''",
    "%27%20or%20%271%27%20eq%20%271",
    "x%27",
    "\u2019 or \u2018a\u2019 eq \u2018a",
    "\uff07 or 1 eq 1",
    'x" or "1" eq "1',
    "x) or (RowKey ne ''",
    "x' and substringof('a', ActorName) or '",
]


# -- two tenants in one store, served by the real Functions handlers ---------------------------


def _event(tenant: str, number: int, actor: str, event_id: str) -> ChangeEvent:
    return ChangeEvent(
        event_id=event_id,
        at=datetime(2026, 11, 21, 9, 50 + number, tzinfo=UTC),
        actor_type="user",
        actor_id=f"0000000{number}-1111-1111-1111-111111111111",
        actor_name=actor,
        activity="Patch MobileApp",
        resource_type="mobileApp",
        resource_id=f"{tenant}-app",
        source="intune-audit",
    )


@pytest.fixture(scope="module")
def two_tenants(table_service: TableServiceClient) -> VerdictStore:
    store = VerdictStore(table_service)
    for tenant, prefix, actor, event_id in (
        (ATTACKER, "app", "Attacker Admin", "attacker-event"),
        (VICTIM, "victimapp", "Victim Admin", "victim-event"),
    ):
        store.record_change_events(tenant, [_event(tenant, 1, actor, event_id)])
        for at, status in (
            ("2026-11-20T10:00:00Z", Status.PASS),
            ("2026-11-21T10:00:00Z", Status.FAIL),
        ):
            findings = [finding(f"{prefix}-{i}", status) for i in range(3)]
            store.record_evaluation(
                tenant,
                evaluation(tenant, at, findings),
                run_info(),
                cause_event_ids=(event_id,) if status is Status.FAIL else (),
            )
    return store


@pytest.fixture(scope="module")
def functions(azurite: Azurite, two_tenants: VerdictStore) -> Iterator[None]:
    import function_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
        function_app._store.cache_clear()
        yield
    function_app._store.cache_clear()


def call(route: str, params: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    request = func.HttpRequest(method="GET", url=f"/api/{route}", params=params, body=b"")
    response = user_function(route)(request)
    assert response.mimetype == "application/json"
    text = response.get_body().decode()
    return response.status_code, json.loads(text), text


def assert_refused(status: int, document: dict[str, Any], text: str) -> None:
    assert status == 400, text[:300]
    assert list(document) == ["error"]
    error = document["error"]
    assert error
    assert "\n" not in error
    assert "\r" not in error
    assert len(error) <= 200
    assert all(char.isprintable() for char in error)
    assert not any(mark in text for mark in VICTIM_MARKS)


def assert_no_victim_rows(text: str) -> None:
    assert not any(mark in text for mark in VICTIM_MARKS), text[:300]


LONG = "a" * 20_000
HOSTILE_QUERIES: list[tuple[str, dict[str, str]]] = [
    *[
        (route, {"tenant": value})
        for route in ("readiness", "history", "changes")
        for value in INJECTIONS
    ],
    *[
        (route, {"tenant": value})
        for route in ("readiness", "history", "changes")
        for value in [
            "",
            LONG,
            f"{ATTACKER}\x00",
            f"{ATTACKER}\r\nX-Injected: 1",
            f"{ATTACKER}\u2028",
            f"{ATTACKER},{VICTIM}",  # a repeated parameter, as the host joins it
            f"{ATTACKER} {VICTIM}",
            f" {ATTACKER}",
            "*",
            "contoso.com/../x",
            "\u0441ontoso.com",  # Cyrillic c
        ]
    ],
    *[
        ("history", {"tenant": ATTACKER, "rule": value})
        for value in [*INJECTIONS, "PRF-001 ", "prf-001", LONG]
    ],
    *[
        ("history", {"tenant": ATTACKER, "subject": value})
        for value in [*INJECTIONS, "a\x00", "a\nb", LONG]
    ],
    *[
        ("history", {"tenant": ATTACKER, "status": value})
        for value in ["fail' or '1", "Fail", "fail,pass", "*"]
    ],
    *[
        (route, {"tenant": ATTACKER, name: value})
        for route in ("history", "changes")
        for name in ("since", "until")
        for value in [
            "2026-02-30T00:00:00Z",
            "2026-11-20T25:00:00Z",
            "2026-11-20T10:00:00+99:00",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1999-12-31T23:59:59Z",
            "yesterday",
            "1e10",
            "-1",
            "2026-11-20T10:00:00Z' or '1",
            "２０２６-11-20T10:00:00Z",
            "2026-11-20T10:00:00Z\x00",
            LONG,
        ]
    ],
    *[
        (
            route,
            {"tenant": ATTACKER, "since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"},
        )
        for route in ("history", "changes")
    ],
    *[
        (route, {"tenant": ATTACKER, "pageSize": value})
        for route in ("history", "changes")
        for value in [
            "0",
            "-1",
            "1001",
            "99999999999999999999",
            "１０",
            " 10",
            "10 ",
            "0x10",
            "1e2",
            "",
        ]
    ],
    *[
        ("changes", {"tenant": ATTACKER, "actor": value})
        for value in ["", "a\x00", "a\r\nb", "\x1b[2J", LONG]
    ],
    *[
        (route, {"tenant": ATTACKER, name: "1"})
        for route in ("readiness", "history", "changes")
        for name in ("$filter", "$top", "PartitionKey", "Tenant", "tenant ", "tenant[]", "select")
    ],
    ("readiness", {"tenant": ATTACKER, "since": "2026-11-20T00:00:00Z"}),
    ("history", {"tenant": ATTACKER, "actor": "Attacker Admin"}),
    ("changes", {"tenant": ATTACKER, "rule": "PRF-001"}),
]


@pytest.mark.parametrize(("route", "params"), HOSTILE_QUERIES)
def test_hostile_query_values_get_400_with_one_line_of_json(
    functions: None, route: str, params: dict[str, str]
) -> None:
    assert_refused(*call(route, params))


def _token(document: Any) -> str:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def first_page_token(tenant: str) -> str:
    status, document, _ = call("history", {"tenant": tenant, "pageSize": "1"})
    assert status == 200
    assert document["continuation"]
    return str(document["continuation"])


def test_tampered_and_forged_continuation_tokens_get_400(functions: None) -> None:
    genuine = first_page_token(ATTACKER)
    padded = genuine + "=" * (-len(genuine) % 4)
    decoded = json.loads(base64.urlsafe_b64decode(padded))
    forged = [
        _token({**decoded, "r": "' or ''='"}),
        _token({**decoded, "r": "x' or PartitionKey ne '"}),
        _token({**decoded, "m": "190001"}),
        _token({**decoded, "m": "202611' or '1"}),
        _token({**decoded, "extra": 1}),
        _token([decoded["m"], decoded["r"]]),
        _token(b"\xff\xfe\x00junk"),
        _token(b"not json"),
        genuine[: len(genuine) // 2],
        genuine + "!!",
        genuine + "\n",
        "%3D%3D",
        "====",
        "A" * 513,
        " ",
    ]
    for token in forged:
        for route in ("history", "changes"):
            assert_refused(*call(route, {"tenant": ATTACKER, "continuation": token}))


def test_another_tenants_continuation_token_never_reads_that_tenant(functions: None) -> None:
    # A token is a position, not an authority: used with another tenant it pages that tenant.
    status, _, text = call(
        "history", {"tenant": ATTACKER, "continuation": first_page_token(VICTIM), "pageSize": "50"}
    )
    assert status in (200, 400)
    assert_no_victim_rows(text)


def test_filter_syntax_in_accepted_values_is_matched_literally(functions: None) -> None:
    # The actor filter accepts quotes and spaces: they must stay data.
    for actor in [
        *INJECTIONS,
        "Victim Admin",
        "Victim Admin' or ''='",
        "Attacker Admin' or '1' eq '1",
    ]:
        status, document, text = call("changes", {"tenant": ATTACKER, "actor": actor})
        assert (status, document["items"]) == (200, []), actor
        assert_no_victim_rows(text)
    # The victim's own subject and rule, asked for under the attacker's tenant: nothing.
    for params in ({"subject": "victimapp-0"}, {"rule": "PRF-001", "status": "fail"}):
        status, document, text = call("history", {"tenant": ATTACKER, **params})
        assert status == 200
        assert_no_victim_rows(text)
        assert all(item["subject"]["id"].startswith("app-") for item in document["items"])
    # And the attacker's own data is there, so the checks above can fail.
    status, document, _ = call("changes", {"tenant": ATTACKER, "actor": "Attacker Admin"})
    assert [item["id"] for item in document["items"]] == ["attacker-event"]
    assert len(call("readiness", {"tenant": ATTACKER.upper()})[1]["verdicts"]) == 3


hostile_values = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="ascii"), max_size=300),
    st.sampled_from([*INJECTIONS, "2026-11-20T10:00:00Z", "10", "fail", "PRF-001", "app-1", ""]),
)
query_names = st.sampled_from(
    [
        "rule",
        "subject",
        "status",
        "since",
        "until",
        "actor",
        "continuation",
        "pageSize",
        "code",
        "$filter",
    ]
)


@settings(max_examples=250, deadline=None, suppress_health_check=FUZZ)
@given(
    tenant=st.one_of(st.just(ATTACKER), st.just(ATTACKER.upper()), hostile_values),
    params=st.dictionaries(query_names, hostile_values, max_size=4),
    route=st.sampled_from(["readiness", "history", "changes"]),
)
def test_fuzzed_queries_get_200_or_400_and_never_another_tenants_rows(
    functions: None, tenant: str, params: dict[str, str], route: str
) -> None:
    status, document, text = call(route, {"tenant": tenant, **params})
    assert status in (200, 400)
    if status == 400:
        assert_refused(status, document, text)
    assert_no_victim_rows(text)


# -- the CLI: one line on stderr, exit 2, never a traceback -----------------------------------


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own usage errors
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(err: str) -> None:
    assert err.startswith("greenscreen: "), err[:300]
    assert err.count("\n") == 1, err[:300]
    assert err.endswith("\n")
    assert "Traceback" not in err
    assert all(char.isprintable() for char in err[:-1]), repr(err[:300])


def assert_bad_input(result: tuple[int, str, str], expected: str | None = None) -> None:
    code, out, err = result
    assert code == 2, (code, err[:300])
    assert out == ""
    assert_one_line(err)
    if expected is not None:
        assert expected in err, err


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


VALID_SNAPSHOT = json.dumps(healthy_tenant().document())
HOSTILE_SNAPSHOTS: dict[str, tuple[bytes, str]] = {
    "binary": (bytes(range(256)) * 8, "not UTF-8 text"),
    "empty": (b"", "not JSON"),
    "nul-bytes-4MiB": (b"\x00" * (4 << 20), "not JSON"),
    "latin-1": ('{"displayName": "é"}'.encode("latin-1"), "not UTF-8 text"),
    "utf-16": (VALID_SNAPSHOT.encode("utf-16"), "not UTF-8 text"),
    "long-number": (b'{"format": ' + b"7" * 10_000 + b"}", "too many digits"),
    "deep-nesting": (b"[" * 200_000 + b"]" * 200_000, "nested deeper than"),
    "deep-but-parseable": (b"[" * 500 + b"]" * 500, "nested deeper than"),
    "nan": (VALID_SNAPSHOT.replace('"capturedAt"', '"x": NaN, "capturedAt"').encode(), "NaN"),
    "infinity": (b'{"format": Infinity}', "Infinity"),
    "minus-infinity": (b'{"format": -Infinity}', "-Infinity"),
    "duplicate-key": (
        VALID_SNAPSHOT.replace('"tenantId"', f'"tenantId": "{ATTACKER}", "tenantId"', 1).encode(),
        "duplicate key 'tenantId'",
    ),
    "top-level-array": (b"[]", "a snapshot is a JSON object"),
    "wrong-format": (b'{"format": "<script>alert(1)</script>"}', "$.format"),
    "trailing-garbage": (VALID_SNAPSHOT.encode() + b"\x00", "not JSON"),
    "escape-in-value": (b'{"format": "\\u001b[2J\\u001b]0;owned\\u0007"}', "$.format"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_SNAPSHOTS))
def test_hostile_snapshot_files_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    content, expected = HOSTILE_SNAPSHOTS[name]
    path = write(tmp_path / "snapshot.json", content)
    assert_bad_input(run_cli(["check", "--snapshot", str(path)], capsys), expected)
    assert_bad_input(run_cli(["summary", str(path)], capsys), expected)


def test_snapshot_paths_that_are_not_files_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "link.json").symlink_to(tmp_path / "dir", target_is_directory=True)
    (tmp_path / "dangling.json").symlink_to(tmp_path / "absent")
    for path, expected in [
        (tmp_path / "link.json", "is a directory"),
        (tmp_path / "dangling.json", "no such file"),
        (Path("/dev/zero"), "not a regular file"),  # endless input is never read
        (tmp_path / "name\x1b[2J.json", "no such file"),
    ]:
        assert_bad_input(run_cli(["check", "--snapshot", str(path)], capsys), expected)


def test_snapshot_above_the_size_limit_is_refused_without_reading_it_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot_file, "MAX_SNAPSHOT_BYTES", 1 << 20)
    path = write(tmp_path / "big.json", b" " * (3 << 20) + VALID_SNAPSHOT.encode())
    assert_bad_input(run_cli(["check", "--snapshot", str(path)], capsys), "larger than 1 MiB")


def test_a_byte_order_mark_is_not_a_reason_to_refuse_a_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Windows PowerShell 5.1 writes UTF-8 with a BOM; the same tenant gives the same verdict.
    plain = write(tmp_path / "plain.json", VALID_SNAPSHOT)
    with_bom = write(tmp_path / "bom.json", b"\xef\xbb\xbf" + VALID_SNAPSHOT.encode())
    plain_result = run_cli(["check", "--snapshot", str(plain), "--format", "json"], capsys)
    bom_result = run_cli(["check", "--snapshot", str(with_bom), "--format", "json"], capsys)
    assert plain_result[0] in (0, 1)
    assert (bom_result[0], bom_result[1]) == (plain_result[0], plain_result[1])


def change_document(*changes: Any, **top: Any) -> dict[str, Any]:
    return {"format": CHANGE_FORMAT, "changes": list(changes), **top}


GROUP = "grp-autopilot-all-devices"
PROFILES = "deviceManagement/windowsAutopilotDeploymentProfiles"
HOSTILE_CHANGES: dict[str, tuple[Any, str]] = {
    "unknown-op": (
        change_document({"op": "delete", "collection": "groups", "id": GROUP}),
        "unknown op",
    ),
    "op-not-a-string": (change_document({"op": ["set"], "collection": "groups"}), "unknown op"),
    "missing-op": (change_document({"collection": "groups", "id": GROUP}), ".op: missing"),
    "changes-object": ({"format": CHANGE_FORMAT, "changes": {}}, "must be an array"),
    "top-level-proto": (
        {"format": CHANGE_FORMAT, "changes": [], "__proto__": {"polluted": True}},
        "__proto__: unknown field",
    ),
    "path-proto": (
        change_document(
            {"op": "set", "collection": "groups", "id": GROUP, "path": "__proto__.x", "value": 1}
        ),
        "__proto__",
    ),
    "path-constructor": (
        change_document(
            {
                "op": "set",
                "collection": "groups",
                "id": GROUP,
                "path": ["constructor", "prototype", "x"],
                "value": 1,
            }
        ),
        "__proto__, constructor or prototype",
    ),
    "path-dot-dot": (
        change_document(
            {
                "op": "set",
                "collection": "groups",
                "id": GROUP,
                "path": "../../etc/passwd",
                "value": 1,
            }
        ),
        "empty segments",
    ),
    "path-negative-index": (
        change_document(
            {
                "op": "set",
                "collection": PROFILES,
                "id": "prf-contoso-preprov",
                "path": ["assignments", -100],
                "value": 1,
            }
        ),
        "outside a list",
    ),
    "path-negative-inner-index": (
        change_document(
            {
                "op": "set",
                "collection": PROFILES,
                "id": "prf-contoso-preprov",
                "path": ["assignments", -5, "x"],
                "value": 1,
            }
        ),
        "not an index",
    ),
    "path-huge-index": (
        change_document(
            {
                "op": "set",
                "collection": PROFILES,
                "id": "prf-contoso-preprov",
                "path": ["assignments", 10**30],
                "value": 1,
            }
        ),
        "outside a list",
    ),
    "path-change-id": (
        change_document(
            {"op": "set", "collection": "groups", "id": GROUP, "path": "id", "value": "x"}
        ),
        "id cannot be changed",
    ),
    "collection-escape": (
        change_document({"op": "remove", "collection": "../groups", "id": GROUP}),
        "unknown collection",
    ),
    "collection-traversal": (
        change_document({"op": "remove", "collection": "groups/../devices", "id": GROUP}),
        "unknown collection",
    ),
    "collection-case": (
        change_document({"op": "remove", "collection": "GROUPS", "id": GROUP}),
        "unknown collection",
    ),
    "collection-proto": (
        change_document({"op": "remove", "collection": "__proto__", "id": GROUP}),
        "unknown collection",
    ),
    "object-id-with-newline": (
        change_document({"op": "add", "collection": "groups", "object": {"id": "abc\n"}}),
        "object.id",
    ),
    "object-id-with-slash": (
        change_document({"op": "add", "collection": "groups", "object": {"id": "../x"}}),
        "object.id",
    ),
    "unknown-id": (
        change_document({"op": "remove", "collection": "groups", "id": "' or 1 eq 1"}),
        "no object with id",
    ),
    "format-markup": ({"format": "<script>", "changes": []}, "format"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_CHANGES))
def test_hostile_change_files_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    document, expected = HOSTILE_CHANGES[name]
    snapshot = write(tmp_path / "snapshot.json", VALID_SNAPSHOT)
    change = write(tmp_path / "change.json", json.dumps(document))
    argv = ["check", "--snapshot", str(snapshot), "--what-if", str(change)]
    assert_bad_input(run_cli(argv, capsys), expected)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b'{"format": "greenscreen.tenant-changes/1", "changes": [' + b"9" * 6000 + b"]}",
            "too many digits",
        ),
        (
            b'{"format": "greenscreen.tenant-changes/1", "changes": '
            + b"[" * 5000
            + b"]" * 5000
            + b"}",
            "nested",
        ),
        (b'{"format": "greenscreen.tenant-changes/1", "changes": [NaN]}', "NaN"),
        (
            b'{"format": "x", "format": "greenscreen.tenant-changes/1", "changes": []}',
            "duplicate key",
        ),
        (b"\xff\xfe\x00\x01", "not UTF-8"),
        (b"", "is not JSON"),
    ],
    ids=["long-number", "deep", "nan", "duplicate-key", "binary", "empty"],
)
def test_change_files_that_are_not_plain_json_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    snapshot = write(tmp_path / "snapshot.json", VALID_SNAPSHOT)
    change = write(tmp_path / "change.json", content)
    argv = ["check", "--snapshot", str(snapshot), "--what-if", str(change)]
    assert_bad_input(run_cli(argv, capsys), expected)
    assert_bad_input(
        run_cli([*argv[:2], str(snapshot), "--what-if", "/dev/zero"], capsys), "regular file"
    )


@pytest.fixture
def history_storage(
    azurite: Azurite, two_tenants: VerdictStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)


HOSTILE_HISTORY: list[list[str]] = [
    *[
        ["--tenant", value]
        for value in [*INJECTIONS, "", LONG, f"{ATTACKER}\x1b[2J", f"{ATTACKER},{VICTIM}"]
    ],
    *[["--tenant", ATTACKER, "--rule", value] for value in ["' or 1 eq 1", "PRF-1", "PRF-001\n"]],
    *[["--tenant", ATTACKER, "--subject", value] for value in ["' or ''='", "a b", "\x00"]],
    *[["--tenant", ATTACKER, "--status", value] for value in ["FAIL", "fail' or '1"]],
    *[
        ["--tenant", ATTACKER, "--since", value]
        for value in ["2026-02-30", "9999-01-01T00:00:00Z", "now"]
    ],
    ["--tenant", ATTACKER, "--since", "2026-11-21T00:00:00Z", "--until", "2026-11-20T00:00:00Z"],
    *[
        ["--tenant", ATTACKER, "--page-size", value]
        for value in ["0", "-1", "100000", "1e2", "１０"]
    ],
    *[["--tenant", ATTACKER, "--continuation", value] for value in ["' or ''='", "A" * 600, "%3D"]],
    ["--tenant", ATTACKER, "--changes", "--actor", "a\x00b"],
    ["--tenant", ATTACKER, "--changes", "--rule", "PRF-001"],
    ["--tenant", ATTACKER, "--actor", "someone"],
]


@pytest.mark.parametrize("arguments", HOSTILE_HISTORY, ids=lambda a: repr(a)[:60])
def test_hostile_history_filters_exit_2_with_one_line(
    history_storage: None, capsys: pytest.CaptureFixture[str], arguments: list[str]
) -> None:
    assert_bad_input(run_cli(["history", *arguments], capsys))


def test_history_filter_syntax_as_an_actor_never_lists_another_tenant(
    history_storage: None, capsys: pytest.CaptureFixture[str]
) -> None:
    for actor in [*INJECTIONS, "Victim Admin"]:
        code, out, err = run_cli(
            ["history", "--tenant", ATTACKER, "--changes", "--actor", actor, "--format", "json"],
            capsys,
        )
        assert (code, json.loads(out)["items"]) == (0, []), err
    code, out, _ = run_cli(["history", "--tenant", ATTACKER, "--format", "json", "--all"], capsys)
    assert code == 0
    assert json.loads(out)["items"]
    assert_no_victim_rows(out)


UNKNOWN_OPTIONS = [
    ["--nope"],
    ["frobnicate"],
    [],
    ["check", "--bogus"],
    ["check", "--snapshot"],
    ["check", "--format", "x\ny"],
    ["check", "--format", "\x1b]0;owned\x07"],
    ["check", "--snapshot", "a.json", "--fail-on", "' or 1 eq 1"],
    ["check", "--snapshot", "a.json", "--concurrency", "many"],
    ["check", "--snapshot", "a.json", "--tenant", "x"],
    ["check", "--snapshot", "a.json", "--what-if", "c.json", "--format", "sarif"],
    ["history"],
    ["history", "--tenant", ATTACKER, "--page-size"],
    ["history", "--tenant", ATTACKER, "--format", "xml"],
    ["summary"],
    ["alerts", "replay", "--bogus"],
    ["export", "--out", "x.json", "--graph-url", "http://169.254.169.254/metadata"],
    ["export", "--out", "x.json", "--graph-url", "file:///etc/passwd"],
]


@pytest.mark.parametrize("argv", UNKNOWN_OPTIONS, ids=lambda a: repr(a)[:60])
def test_unknown_and_malformed_options_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert_bad_input(run_cli(argv, capsys))


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--snapshot", "DEEP"],
        ["check", "--snapshot", "VALID", "--what-if", "BIGNUMBER"],
        ["history", "--tenant", "' or 1 eq 1"],
        ["check", "--format", "x\ny"],
    ],
    ids=["deep-snapshot", "long-number-change", "history-injection", "newline-option"],
)
def test_as_a_process_bad_input_is_one_line_without_a_traceback(
    tmp_path: Path, azurite: Azurite, argv: list[str]
) -> None:
    files = {
        "DEEP": write(tmp_path / "deep.json", b"[" * 300_000),
        "VALID": write(tmp_path / "valid.json", VALID_SNAPSHOT),
        "BIGNUMBER": write(tmp_path / "change.json", b'{"format": 1' + b"0" * 9000 + b"}"),
    }
    argv = [str(files[a]) if a in files else a for a in argv]
    env = {**os.environ, "GREENSCREEN_STORAGE_CONNECTION": azurite.table_connection}
    result = subprocess.run(  # noqa: S603 - this interpreter, the project's own module
        [sys.executable, "-m", "monitors.cli", *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-500:]
    assert result.stdout == ""
    assert_one_line(result.stderr)


# -- hypothesis: the change-file parser and applier, snapshot loading, history filters ------------

HEALTHY = healthy_tenant().document()
T = TypeVar("T")


def outcome(work: Callable[[], T], expected: type[Exception]) -> tuple[T | None, str]:
    """The result, or None and the message of the one exception type allowed to escape."""
    try:
        return work(), ""
    except expected as error:
        return None, str(error)


def one_printable_line(text: str) -> bool:
    return all(char.isprintable() for char in text)


HEALTHY_IDS = sorted(
    {str(o["id"]) for objects in HEALTHY["collections"].values() for o in objects if "id" in o}
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
segments = st.one_of(
    st.sampled_from(
        ["assignments", "target", "displayName", "..", "__proto__", "0", "", "groupTypes"]
    ),
    st.integers(-3, 5),
    st.text(max_size=6),
)
changes = st.fixed_dictionaries(
    {"op": st.one_of(st.sampled_from(CHANGE_OPS), st.text(max_size=8), json_values)},
    optional={
        "collection": st.one_of(
            st.sampled_from(ALL_COLLECTIONS), st.sampled_from(["../groups", ""]), json_values
        ),
        "id": st.one_of(st.sampled_from(HEALTHY_IDS), st.text(max_size=10), json_values),
        "path": st.one_of(
            st.lists(segments, min_size=1, max_size=4), st.text(max_size=20), json_values
        ),
        "value": json_values,
        "assignment": st.one_of(
            st.fixed_dictionaries(
                {"target": st.dictionaries(st.text(max_size=8), json_values, max_size=2)}
            ),
            json_values,
        ),
        "assignmentId": st.one_of(st.text(max_size=10), json_values),
        "target": json_values,
        "object": st.dictionaries(
            st.sampled_from(["id", "displayName", "groupTypes", "x"]), json_values, max_size=3
        ),
        "membershipRule": st.one_of(st.text(max_size=20), json_values),
        "membershipRuleProcessingState": st.one_of(st.sampled_from(["On", "Paused"]), json_values),
        "memberId": st.one_of(st.text(max_size=10), json_values),
        "memberType": st.one_of(st.text(max_size=10), json_values),
    },
)
change_documents = st.one_of(
    st.fixed_dictionaries(
        {"format": st.just(CHANGE_FORMAT), "changes": st.lists(changes, max_size=3)},
        optional={"actor": json_values, "description": json_values, "extra": json_values},
    ),
    json_values,
)


@settings(max_examples=600, deadline=None, suppress_health_check=FUZZ)
@given(document=change_documents)
def test_fuzzed_change_documents_apply_cleanly_or_raise_one_change_error(document: Any) -> None:
    if not isinstance(document, dict):
        assert outcome(lambda: validate_change_document(document), ChangeError)[1]
        return
    before = copy.deepcopy(HEALTHY)
    result, error = outcome(
        lambda: apply_changes(HEALTHY, document, source="fuzz.json"), ChangeError
    )
    assert before == HEALTHY  # the input snapshot is never modified
    if result is None:
        # Keys from the file may hold line breaks; the CLI flattens its line (see below).
        assert error.startswith("fuzz.json: ")
        return
    touched = {c.get("collection") for c in document["changes"]} | {"groups"}
    for name, objects in HEALTHY["collections"].items():
        if name not in touched:  # a change reaches only the collection it names
            assert result.snapshot["collections"][name] == objects
    assert {k: v for k, v in result.snapshot.items() if k != "collections"} == {
        k: v for k, v in HEALTHY.items() if k != "collections"
    }


@settings(max_examples=300, deadline=None, suppress_health_check=FUZZ)
@given(
    content=st.one_of(
        st.binary(max_size=300),
        change_documents.map(lambda d: json.dumps(d).encode()),
        change_documents.map(lambda d: json.dumps(d).encode()[:-1]),
        st.text(max_size=200).map(str.encode),
    )
)
def test_fuzzed_change_files_load_or_raise_one_change_error(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzzed-change.json"
    path.write_bytes(content)
    _, error = outcome(lambda: load_change_document(path), ChangeError)
    assert error.startswith(f"{path}: ") or not error


@settings(max_examples=120, deadline=None, suppress_health_check=FUZZ)
@given(document=change_documents)
def test_fuzzed_what_if_exits_0_1_or_2_with_one_line(
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    document: Any,
) -> None:
    directory = tmp_path_factory.getbasetemp()
    snapshot = directory / "what-if-snapshot.json"
    if not snapshot.exists():
        write(snapshot, VALID_SNAPSHOT)
    change = write(directory / "what-if-change.json", json.dumps(document))
    code, _, err = run_cli(["check", "--snapshot", str(snapshot), "--what-if", str(change)], capsys)
    assert code in (0, 1, 2), err
    if code == 2:
        assert_one_line(err)


@settings(max_examples=300, deadline=None, suppress_health_check=FUZZ)
@given(
    content=st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda d: json.dumps(d).encode()),
        st.just(VALID_SNAPSHOT).map(str.encode),
        st.integers(0, len(VALID_SNAPSHOT) - 1).map(lambda cut: VALID_SNAPSHOT[:cut].encode()),
        st.tuples(st.integers(0, len(VALID_SNAPSHOT) - 1), st.binary(min_size=1, max_size=3)).map(
            lambda at: (
                VALID_SNAPSHOT.encode()[: at[0]] + at[1] + VALID_SNAPSHOT.encode()[at[0] + 1 :]
            )
        ),
    )
)
def test_fuzzed_snapshot_files_load_or_raise_one_snapshot_error(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzzed-snapshot.json"
    path.write_bytes(content)
    document, error = outcome(lambda: load_snapshot(path), SnapshotFileError)
    assert "\n" not in error
    assert document is None or isinstance(document, dict)


history_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [*INJECTIONS, ATTACKER, "PRF-001", "fail", "2026-11-20T10:00:00Z", "5", "app-1"]
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=FUZZ)
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "tenant",
                "rule",
                "subject",
                "status",
                "since",
                "until",
                "actor",
                "continuation",
                "pageSize",
            ]
        ),
        history_values,
        max_size=6,
    )
)
def test_fuzzed_history_filters_validate_or_raise_one_line(params: dict[str, str]) -> None:
    for validate in (query_params.history_query, query_params.changes_query):
        try:
            query = validate(params)
        except query_params.QueryError as error:
            message = str(error)
            assert message
            assert one_printable_line(message)
            continue
        assert query.tenant == params["tenant"].lower()


@settings(max_examples=150, deadline=None, suppress_health_check=FUZZ)
@given(
    options=st.dictionaries(
        st.sampled_from(
            [
                "--rule",
                "--subject",
                "--status",
                "--since",
                "--until",
                "--page-size",
                "--continuation",
            ]
        ),
        history_values,
        max_size=3,
    ),
    tenant=st.one_of(st.just(ATTACKER), history_values),
)
def test_fuzzed_history_command_exits_0_or_2_and_never_lists_another_tenant(
    history_storage: None, capsys: pytest.CaptureFixture[str], options: dict[str, str], tenant: str
) -> None:
    argv = ["history", f"--tenant={tenant}", "--format", "json"]
    argv += [f"{name}={value}" for name, value in options.items()]
    code, out, err = run_cli(argv, capsys)
    if code == 2:
        assert out == ""
        assert_one_line(err)
    else:
        assert code == 0, err
        assert_no_victim_rows(out)


# -- configured URLs: no SSRF through alert webhooks or the Graph endpoint -------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/metadata/identity/oauth2/token",
        "https://169.254.169.254/metadata/instance",
        "https://[fe80::1]/hook",
        "https://[::ffff:169.254.169.254]/hook",
        "https://2852039166/hook",  # 169.254.169.254 as one number
        "https://0xa9.0xfe.0xa9.0xfe/hook",
        "https://168.63.129.16/machine",  # the Azure wire server
        "https://0.0.0.0/hook",
        "http://hooks.example.org/webhook",  # plain http off loopback
        "http://10.0.0.5/hook",
        "ftp://hooks.example.org/x",
        "file:///etc/passwd",
        "https://hooks.example.org:notaport/x",
        "//hooks.example.org/x",
    ],
)
def test_alert_webhook_urls_that_could_reach_internal_endpoints_are_refused(url: str) -> None:
    secret = "sig=Zm9yZ2VkLXNpZ25hdHVyZQ"
    settings_map = {
        "GREENSCREEN_ALERT_ROUTES": json.dumps([{"name": "ops", "webhookSetting": "OPS_HOOK"}]),
        "OPS_HOOK": f"{url}?{secret}",
    }
    with pytest.raises(AlertSettingsError) as refused:
        routing_from_settings(settings_map)
    assert "OPS_HOOK" in str(refused.value)  # names the setting...
    assert secret not in str(refused.value)  # ...not the value
    assert url not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://prod-01.westeurope.logic.azure.com/workflows/x/triggers/manual/paths/invoke",
        "https://contoso.webhook.office.com/webhookb2/x",
        "http://127.0.0.1:8080/hook",
        "http://localhost:8080/hook",
        "http://[::1]:8080/hook",
    ],
)
def test_https_webhooks_and_loopback_receivers_stay_allowed(url: str) -> None:
    assert WebhookUrl(url).reveal() == url


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254",
        "http://graph.example.org",
        "ftp://graph.microsoft.com",
        "graph.microsoft.com",
    ],
)
def test_graph_url_must_be_https_or_a_loopback_simulator(url: str) -> None:
    with pytest.raises(SettingsError, match="GREENSCREEN_GRAPH_URL"):
        read_settings({"GREENSCREEN_GRAPH_URL": url})


# -- least privilege: what the deployment grants ---------------------------------------------------

INFRA = REPO / "infra"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
DATA_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "76199698-9eea-4c19-bc75-cec21354c6b6": "Storage Table Data Reader",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def test_deployment_grants_only_resource_scoped_data_roles() -> None:
    bicep = {path: path.read_text() for path in INFRA.rglob("*.bicep")}
    referenced = {guid.lower() for text in bicep.values() for guid in GUID.findall(text)}
    assert referenced - {GRAPH_APP_ID} <= set(DATA_ROLES), "a role beyond the data-plane roles"
    for path, text in bicep.items():
        blocks = re.findall(
            r"'Microsoft\.Authorization/roleAssignments@[^']+'\s*=\s*(?:if\s*\(.*?\)\s*)?\{(.*?)\n\}",
            text,
            re.DOTALL,
        )
        assert len(blocks) == text.count("'Microsoft.Authorization/roleAssignments@"), path.name
        for block in blocks:
            scope = re.search(r"^\s*scope:\s*(\w+)", block, re.MULTILINE)
            assert scope is not None, f"{path.name}: a role assignment without an explicit scope"
            assert scope.group(1) not in ("resourceGroup", "subscription", "tenant"), path.name


def test_graph_permissions_are_read_only_and_directory_read_is_opt_in() -> None:
    script = (INFRA / "scripts" / "grant-graph-permissions.sh").read_text()
    block = re.search(r"^PERMISSIONS=\((.*?)^\)", script, re.DOTALL | re.MULTILINE)
    assert block is not None
    granted = [line.split()[0] for line in block.group(1).splitlines() if line.strip()]
    assert granted
    # Read permissions only: `X.Read.All`, or a read scope such as Policy.Read.DeviceConfiguration.
    assert all(".Read." in p and "Write" not in p for p in granted), granted
    assert "Directory.Read.All" not in granted
    assert not re.search(r"ReadWrite|\.Write\b|FullControl", script)


class RecordingCredential:
    """Counts token requests: a token must never be fetched for a host other than Graph's."""

    def __init__(self) -> None:
        self.requests = 0

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        self.requests += 1
        raise AssertionError("no token should be requested")

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/metadata/identity/oauth2/token",
        "https://graph.microsoft.com.attacker.example/v1.0/groups",
        "https://graph.microsoft.com@attacker.example/v1.0/groups",
        "http://127.0.0.1:1/v1.0/groups",
    ],
)
def test_graph_client_never_calls_or_sends_a_token_to_another_host(url: str) -> None:
    credential = RecordingCredential()

    async def attempt() -> None:
        async with GraphClient(credential, base_url="https://graph.microsoft.com") as client:
            with pytest.raises(GraphError, match="refusing"):
                await client.request_json("GET", url)
            with pytest.raises(GraphError, match="refusing"):
                client.relative_to_version(url, "v1.0")  # a nextLink elsewhere is not followed

    asyncio.run(attempt())
    assert credential.requests == 0


@settings(max_examples=500, deadline=None)
@given(
    value=st.one_of(
        st.text(max_size=70),
        st.sampled_from([*INJECTIONS, "3a76f5df-c71f-5e69-acd4-cca139633a72", "abc)", "a b", "ａ"]),
    )
)
def test_ids_spliced_into_graph_filters_can_carry_no_filter_syntax(value: str) -> None:
    # Every id that reaches a Graph `$filter` or a URL path passes `is_safe_id` first
    # (change processing, directory polling, subscriptions, the webhook).
    if is_safe_id(value):
        assert 0 < len(value) <= 200
        assert not set(value) & set("'\"()/\\?#&%=,;:+ \t\r\n\x00{}[]$@.")
        assert all(char.isprintable() for char in value)


def test_every_test_the_threat_model_names_exists() -> None:
    text = (REPO / "docs" / "security.md").read_text()
    named = set(re.findall(r"`(test_[a-z_]+\.py)::(test_[a-z0-9_]+)`", text))
    assert len(named) > 30
    missing = [
        f"{file}::{test}"
        for file, test in sorted(named)
        if not re.search(rf"^def {test}\(", (REPO / "tests" / file).read_text(), re.MULTILINE)
    ]
    assert missing == []
