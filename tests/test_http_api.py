"""The query endpoints: validation, injection attempts, paging, OpenAPI conformance, Functions."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azure.functions as func
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitors import http_api
from monitors.store.records import ChangeEvent, ModifiedProperty
from monitors.store.verdict_store import VerdictStore
from rules.findings import Status
from tests.conftest import Azurite, evaluation, finding, run_info

OPENAPI = json.loads((Path(__file__).resolve().parent.parent / "docs" / "openapi.json").read_text())
T1, T2 = "2026-11-20T10:00:00Z", "2026-11-21T10:00:00Z"
ADMIN = "admin@contoso.onmicrosoft.com"


@pytest.fixture
def recorded(store: VerdictStore, tenant_id: str) -> str:
    """A tenant with a baseline, one change by an admin, and the failures it caused."""
    store.record_change_events(
        tenant_id,
        [
            ChangeEvent(
                event_id="audit-1",
                at=datetime(2026, 11, 21, 9, 55, tzinfo=UTC),
                actor_type="user",
                actor_id="11111111-1111-1111-1111-111111111111",
                actor_name=ADMIN,
                activity="Patch MobileApp",
                resource_type="mobileApp",
                resource_id="app-1",
                source="intune-audit",
                correlation_id="corr-1",
                modified_properties=(ModifiedProperty("installExperience", "system", "user"),),
            ),
            ChangeEvent(
                event_id="audit-2",
                at=datetime(2026, 11, 21, 9, 50, tzinfo=UTC),
                actor_type="app",
                actor_id="22222222-2222-2222-2222-222222222222",
                actor_name="Provisioning robot",
                activity="Patch Group",
                resource_type="group",
                resource_id="group-1",
                source="entra-directory-audit",
            ),
        ],
    )
    store.record_evaluation(
        tenant_id,
        evaluation(
            tenant_id,
            T1,
            [finding(f"app-{i}", Status.PASS) for i in range(5)]
            + [finding(tenant_id, Status.PASS, profile=None)],
        ),
        run_info(),
    )
    store.record_evaluation(
        tenant_id,
        evaluation(
            tenant_id,
            T2,
            [finding(f"app-{i}", Status.FAIL if i < 3 else Status.PASS) for i in range(5)]
            + [finding(tenant_id, Status.PASS, profile=None)],
        ),
        run_info(),
        cause_event_ids=("audit-1",),
    )
    return tenant_id


def conforms(body: dict[str, Any], schema_name: str) -> None:
    schema = {"components": OPENAPI["components"], "$ref": f"#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema).validate(body)


def test_readiness_reports_current_verdicts_and_a_summary_per_profile(
    store: VerdictStore, recorded: str
) -> None:
    response = http_api.readiness({"tenant": recorded}, store)
    assert response.status == 200
    conforms(response.body, "Readiness")
    [profile] = response.body["profiles"]
    assert profile["profileId"] == "profile-1"
    assert (profile["ready"], profile["blocking"]) == (False, 3)
    assert profile["counts"]["fail"] == 3
    assert response.body["tenantWide"]["ready"] is True
    # Failures are verdicts; what passes is counted per profile, not listed.
    assert len(response.body["verdicts"]) == 3
    assert profile["counts"]["pass"] == 3


def test_readiness_of_a_tenant_never_evaluated_is_empty_not_an_error(store: VerdictStore) -> None:
    response = http_api.readiness({"tenant": "fabrikam.onmicrosoft.com"}, store)
    assert response.status == 200
    assert (response.body["verdicts"], response.body["lastRunId"]) == ([], None)
    # Nothing recorded is not a green light.
    assert response.body["summary"]["ready"] is None
    assert response.body["tenantWide"]["ready"] is None


def test_history_pages_through_every_transition_once(store: VerdictStore, recorded: str) -> None:
    seen: list[str] = []
    params = {"tenant": recorded, "pageSize": "2"}
    for _ in range(5):
        response = http_api.history(params, store)
        assert response.status == 200
        conforms(response.body, "HistoryPage")
        seen += [item["subject"]["id"] for item in response.body["items"]]
        if response.body["continuation"] is None:
            break
        params = {**params, "continuation": response.body["continuation"]}
    assert sorted(seen) == ["app-0", "app-1", "app-2"]


def test_changes_list_events_with_the_transitions_they_caused(
    store: VerdictStore, recorded: str
) -> None:
    response = http_api.changes({"tenant": recorded}, store)
    assert response.status == 200
    conforms(response.body, "ChangesPage")
    by_id = {item["id"]: item for item in response.body["items"]}
    assert [item["id"] for item in response.body["items"]] == ["audit-1", "audit-2"]
    assert sorted(t["subject"]["id"] for t in by_id["audit-1"]["transitions"]) == [
        "app-0",
        "app-1",
        "app-2",
    ]
    assert by_id["audit-2"]["transitions"] == []
    only_admin = http_api.changes({"tenant": recorded, "actor": ADMIN}, store)
    assert [item["id"] for item in only_admin.body["items"]] == ["audit-1"]


def test_recording_a_change_event_twice_keeps_one(store: VerdictStore, recorded: str) -> None:
    event = http_api.changes({"tenant": recorded}, store).body["items"][1]
    store.record_change_events(
        recorded,
        [
            ChangeEvent(
                event["id"],
                datetime(2026, 11, 21, 9, 50, tzinfo=UTC),
                "app",
                event["actor"]["id"],
                event["actor"]["name"],
                event["activity"],
                event["resource"]["type"],
                event["resource"]["id"],
                event["source"],
            )
        ],
    )
    assert len(http_api.changes({"tenant": recorded}, store).body["items"]) == 2


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"tenant": ""},
        {"tenant": "x' or ''='"},
        {"tenant": "contoso.onmicrosoft.com' or PartitionKey ne '"},
        {"tenant": "a" * 10_000 + ".com"},
        {"tenant": "contoso.onmicrosoft.com\x00"},
        {"tenant": "cöntoso.com"},
        {"tenant": "contoso.com", "rule": "PRF-001' or RowKey ne '"},
        {"tenant": "contoso.com", "rule": "prf-001"},
        {"tenant": "contoso.com", "subject": "x' or 'a' eq 'a"},
        {"tenant": "contoso.com", "subject": "x" * 257},
        {"tenant": "contoso.com", "subject": "app\n1"},
        {"tenant": "contoso.com", "status": "fail or true"},
        {"tenant": "contoso.com", "status": "FAIL"},
        {"tenant": "contoso.com", "since": "2026-13-01T00:00:00Z"},
        {"tenant": "contoso.com", "since": "yesterday"},
        {"tenant": "contoso.com", "since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"},
        {"tenant": "contoso.com", "until": "1" * 5_000},
        {"tenant": "contoso.com", "until": "２０２６-11-20"},
        {"tenant": "contoso.com", "continuation": "' or ''='"},
        {"tenant": "contoso.com", "continuation": "eyJtIjoiMjAyNjExIiwiciI6IicgbHQgJyJ9"},
        {"tenant": "contoso.com", "continuation": "A" * 600},
        {"tenant": "contoso.com", "pageSize": "0"},
        {"tenant": "contoso.com", "pageSize": "1e3"},
        {"tenant": "contoso.com", "$filter": "PartitionKey ne ''"},
    ],
)
def test_invalid_history_queries_are_refused_with_400_and_one_line(
    store: VerdictStore, params: dict[str, str]
) -> None:
    response = http_api.history(params, store)
    assert response.status == 400
    conforms(response.body, "Error")
    assert "\n" not in response.body["error"]


@pytest.mark.parametrize("actor", ["x\x00y", "x\ny", "a" * 257, "", "\u2028"])
def test_invalid_actors_are_refused_with_400(store: VerdictStore, actor: str) -> None:
    assert http_api.changes({"tenant": "contoso.com", "actor": actor}, store).status == 400


def test_actor_with_filter_syntax_is_matched_literally_never_widened(
    store: VerdictStore, recorded: str
) -> None:
    for actor in ("x' or ActorName ne '", "' or '1' eq '1", "Provisioning robot' or ''='"):
        response = http_api.changes({"tenant": recorded, "actor": actor}, store)
        assert (response.status, response.body["items"]) == (200, [])


def test_every_documented_parameter_is_accepted_and_undocumented_ones_are_not(
    store: VerdictStore,
) -> None:
    handlers = {
        "/readiness": http_api.readiness,
        "/history": http_api.history,
        "/changes": http_api.changes,
    }
    samples = {
        "tenant": "contoso.com",
        "rule": "PRF-001",
        "subject": "app-1",
        "status": "fail",
        "since": "2026-01-01T00:00:00Z",
        "until": "2026-02-01T00:00:00Z",
        "actor": ADMIN,
        "pageSize": "10",
    }
    for path, handler in handlers.items():
        documented = [p["name"] for p in OPENAPI["paths"][path]["get"]["parameters"]]
        params = {name: samples[name] for name in documented if name in samples}
        assert handler(params, store).status == 200, path
        assert handler({**params, "undocumented": "1"}, store).status == 400, path


# -- property-based: any query string gets 200 or 400, never 5xx -------------------------------

PARAMETER_NAMES = [
    "tenant",
    "rule",
    "subject",
    "status",
    "since",
    "until",
    "actor",
    "continuation",
    "pageSize",
    "code",
    "other",
]
hostile_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=string.printable, max_size=300),
    st.sampled_from(
        [
            "' or ''='",
            "PartitionKey ne ''",
            "pass",
            "PRF-001",
            "contoso.com",
            "2026-11-20T10:00:00Z",
            "100",
            "-1",
            "\x00",
            "é",
            "eyJtIjoiMjAyNjExIiwiciI6IiJ9",
        ]
    ),
)
valid_history = st.fixed_dictionaries(
    {"tenant": st.sampled_from(["contoso.com", "2ac43dfe-b52d-5454-a43a-41903be9693e"])},
    optional={
        "rule": st.from_regex(r"\A[A-Z]{2,5}-\d{3}\Z"),
        "subject": st.from_regex(r"\A[A-Za-z0-9._@:-]{1,256}\Z"),
        "status": st.sampled_from(["pass", "fail", "unknown", "not_applicable", "resolved"]),
        "since": st.datetimes(
            min_value=datetime(2026, 1, 1), max_value=datetime(2026, 11, 1), timezones=st.just(UTC)
        ).map(lambda moment: moment.isoformat()),
        "pageSize": st.integers(1, 1000).map(str),
    },
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(params=st.dictionaries(st.sampled_from(PARAMETER_NAMES), hostile_text, max_size=6))
def test_any_query_is_answered_200_or_400_never_5xx(
    store: VerdictStore, params: dict[str, str]
) -> None:
    for handler in (http_api.readiness, http_api.history, http_api.changes):
        response = handler(params, store)
        assert response.status in (200, 400)
        if response.status == 400:
            assert response.body["error"]
            assert "\n" not in response.body["error"]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(params=valid_history)
def test_every_valid_history_query_is_answered_200(
    store: VerdictStore, params: dict[str, str]
) -> None:
    response = http_api.history(params, store)
    assert response.status == 200, response.body
    conforms(response.body, "HistoryPage")


# -- through the Functions programming model ---------------------------------------------------

_FUNCTIONS: dict[str, Any] = {}


def user_function(name: str) -> Any:
    """`app.get_functions()` indexes once per app in azure-functions 1.26: cache it."""
    if not _FUNCTIONS:
        from function_app import app

        _FUNCTIONS.update(
            {fn.get_function_name(): fn.get_user_function() for fn in app.get_functions()}
        )
    return _FUNCTIONS[name]


@pytest.fixture
def functions_storage(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import function_app

    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    function_app._store.cache_clear()
    yield
    function_app._store.cache_clear()


def get(route: str, params: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest(method="GET", url=f"/api/{route}", params=params, body=b"")


def test_http_functions_answer_json_from_the_store(functions_storage: None, recorded: str) -> None:
    response = user_function("history")(get("history", {"tenant": recorded, "code": "key"}))
    assert (response.status_code, response.mimetype) == (200, "application/json")
    assert len(json.loads(response.get_body())["items"]) == 3
    readiness = user_function("readiness")(get("readiness", {"tenant": recorded}))
    assert json.loads(readiness.get_body())["summary"]["ready"] is False


def test_http_function_refuses_bad_input_with_400(functions_storage: None) -> None:
    response = user_function("changes")(get("changes", {"tenant": "' or ''='"}))
    assert response.status_code == 400
    assert "tenant" in json.loads(response.get_body())["error"]
