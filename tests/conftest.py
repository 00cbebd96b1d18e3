"""Shared fixtures: a real Azurite storage emulator for the whole test session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from azure.data.tables import TableServiceClient

from monitors.store.records import RunInfo
from monitors.store.verdict_store import VerdictStore
from rules.engine import Evaluation
from rules.findings import Finding, RuleMetadata, Scope, Severity, Status, Subject
from tests.azurite import Azurite, running_azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with running_azurite(tmp_path_factory.mktemp("azurite")) as ports:
        yield ports


# -- verdict store helpers ---------------------------------------------------------------------

TENANT_WIDE = "tenant"


@pytest.fixture(scope="session")
def table_service(azurite: Azurite) -> TableServiceClient:
    service = TableServiceClient.from_connection_string(azurite.table_connection)
    VerdictStore(service).ensure_tables()
    return service


@pytest.fixture
def tenant_id() -> str:
    """A fresh tenant per test: every key carries the tenant, so tests never see each other."""
    return str(uuid.uuid4())


@pytest.fixture
def store(table_service: TableServiceClient) -> VerdictStore:
    return VerdictStore(table_service)


def rule_metadata(
    rule_id: str = "PRF-001", version: int = 1, reads: tuple[str, ...] = ("groups",)
) -> RuleMetadata:
    return RuleMetadata(
        id=rule_id,
        title=f"{rule_id} holds",
        severity=Severity.ERROR,
        rationale="test rule",
        remediation="fix it",
        references=(),
        graph_reads=reads,
        permissions=(),
        version=version,
    )


def finding(
    subject_id: str,
    status: Status,
    rule_id: str = "PRF-001",
    *,
    reasons: tuple[str, ...] = ("a reason",),
    profile: str | None = "profile-1",
    message: str | None = None,
) -> Finding:
    return Finding(
        rule_id=rule_id,
        status=status,
        severity=Severity.ERROR,
        subject=Subject("mobileApp", subject_id, f"App {subject_id[:40]}"),
        message=message if message is not None else f"{subject_id[:40]} is {status.value}",
        reasons=reasons,
        scope=Scope(profile, f"Profile {profile}") if profile else None,
    )


def evaluation(
    tenant: str,
    captured_at: str,
    findings: list[Finding],
    rules: tuple[RuleMetadata, ...] | None = None,
    unreadable: tuple[str, ...] = (),
) -> Evaluation:
    return Evaluation(
        tenant_id=tenant,
        captured_at=captured_at,
        findings=tuple(findings),
        rules=rules if rules is not None else (rule_metadata(),),
        unreadable=unreadable,
    )


def run_info(run_id: str | None = None) -> RunInfo:
    return RunInfo(
        run_id=run_id or str(uuid.uuid4()),
        trigger="test",
        started_at=datetime.now(UTC),
        duration_ms=5,
        graph_requests=3,
    )
