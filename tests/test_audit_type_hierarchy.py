"""The audit type map is Graph's own type hierarchy, generated from Microsoft's published models.

The committed data file must equal what the generator makes from the installed SDK, byte for
byte: nobody maintains the list by hand, and upgrading the SDK shows up here until the file is
regenerated (`python -m monitors.graph.type_hierarchy --write`).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from monitors.graph import type_hierarchy
from monitors.guardrail.audit_polling import collection_for
from rules import tenant_collections as tc


@pytest.fixture(scope="module")
def generated_document() -> dict[str, Any]:
    return type_hierarchy.generate()  # imports the SDK's ~7,000 model modules: once


def test_committed_file_is_what_the_installed_sdk_generates(
    generated_document: dict[str, Any],
) -> None:
    generated = type_hierarchy.render(generated_document)
    committed = type_hierarchy.DATA_FILE.read_text(encoding="utf-8")
    assert committed == generated, "run: python -m monitors.graph.type_hierarchy --write"


@pytest.mark.parametrize(
    ("audit_type", "collection"),
    [
        # The types real audit records name (derived, capitalised as the audit log writes them).
        ("DeviceEnrollmentLimitConfiguration", tc.ENROLLMENT_CONFIGURATIONS),
        ("Windows10EnrollmentCompletionPageConfiguration", tc.ENROLLMENT_CONFIGURATIONS),
        ("Windows10CustomConfiguration", tc.DEVICE_CONFIGURATIONS),
        ("Windows10GeneralConfiguration", tc.DEVICE_CONFIGURATIONS),
        ("Windows10CompliancePolicy", tc.COMPLIANCE_POLICIES),
        ("Win32LobApp", tc.MOBILE_APPS),
        ("WindowsMobileMSI", tc.MOBILE_APPS),
        ("AzureADWindowsAutopilotDeploymentProfile", tc.AUTOPILOT_PROFILES),
        ("DeviceManagementConfigurationPolicy", tc.SETTINGS_CATALOG_POLICIES),
        ("MobileApp", tc.MOBILE_APPS),
        ("#microsoft.graph.windows10CustomConfiguration", tc.DEVICE_CONFIGURATIONS),
    ],
)
def test_derived_audit_types_map_to_their_collection(audit_type: str, collection: str) -> None:
    assert collection_for(audit_type) == collection


def test_navigation_other_and_unknown_types_are_told_apart() -> None:
    hierarchy = type_hierarchy.load()
    assignment = hierarchy.lookup("DeviceConfigurationAssignment")
    assert (assignment.kind, assignment.collection) == ("navigation", tc.DEVICE_CONFIGURATIONS)
    supersedence = hierarchy.lookup("MobileAppSupersedence")
    assert (supersedence.kind, supersedence.collection) == ("navigation", tc.MOBILE_APPS)
    assert hierarchy.lookup("ManagedDevice").kind == "other"  # a real type, none of ours
    assert hierarchy.lookup("Windows13FutureConfiguration").kind == "unknown"
    assert collection_for("ManagedDevice") is None


def test_runtime_reads_the_data_file_without_importing_the_sdk() -> None:
    code = (
        "import sys, monitors.guardrail.audit_polling as a, monitors.guardrail.directory_polling, "
        "monitors.guardrail.change_processing;"
        "assert a.collection_for('Windows10CustomConfiguration');"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('msgraph_beta', 'msgraph')))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


def test_check_mode_reports_a_stale_file(
    generated_document: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = type_hierarchy.DATA_FILE.with_name("stale-copy.json")
    monkeypatch.setattr(type_hierarchy, "DATA_FILE", stale)
    monkeypatch.setattr(type_hierarchy, "generate", lambda: generated_document)
    try:
        stale.write_text("{}\n", encoding="utf-8")
        assert type_hierarchy.main(["--check"]) == 1
        assert type_hierarchy.main(["--write"]) == 0
        assert type_hierarchy.main(["--check"]) == 0
    finally:
        stale.unlink(missing_ok=True)
