"""Offline validation of the Bicep templates in `infra/` (Bicep itself cannot be compiled here).

Every `.bicep` file is parsed with pycep-parser (the parser checkov uses, so a file it cannot
read would also escape checkov), checkov's Bicep policies run over `infra/`, and our own checks
walk the parsed templates: the Function app's identity and transport, storage without shared
keys, the data roles of the app's identity, Key Vault references for secrets, app settings that
match what the code reads, and outputs that carry no key, secret or connection string.

Each check returns a list of problems (empty when the templates comply), so the tests that break
one thing in a copy of `infra/` can show that every check does fail.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from lark.exceptions import LarkError
from pycep import BicepParser

from monitors.alerts import routing
from monitors.alerts.ledger import DELIVERIES_TABLE
from monitors.guardrail import settings as guardrail_settings
from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE
from monitors.store import keys
from monitors.store import settings as store_settings
from monitors.store.deployment_store import DEPLOYMENTS_TABLE
from rules.catalog import all_rules
from rules.findings import RuleKind

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"

Template = Mapping[str, Any]
Templates = Mapping[str, Template]  # keyed by path relative to the infra directory

ROLE_IDS = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}
STORAGE_ACCOUNT = "Microsoft.Storage/storageAccounts"
KEY_VAULT = "Microsoft.KeyVault/vaults"
SITE = "Microsoft.Web/sites"
APP_INSIGHTS = "Microsoft.Insights/components"
REQUIRED_APP_ROLES = {
    ("Storage Blob Data Owner", STORAGE_ACCOUNT),
    ("Storage Queue Data Contributor", STORAGE_ACCOUNT),
    ("Storage Table Data Contributor", STORAGE_ACCOUNT),
    ("Key Vault Secrets User", KEY_VAULT),
    # Application Insights has local auth off: the identity sends telemetry with Entra tokens.
    ("Monitoring Metrics Publisher", APP_INSIGHTS),
}
# A whole setting value that is one Key Vault reference by secret URI, nothing before or after.
KEY_VAULT_REFERENCE = re.compile(r"@Microsoft\.KeyVault\(SecretUri=[^()\s]+\)")
# Words that make an output name look like a credential; "key" is fine in "key vault".
SECRET_NAME_WORDS = {"secret", "secrets", "password", "pwd", "token", "sas", "credential"}
SECRET_VALUE = re.compile(
    r"list_?keys|list_?secrets|list_?connection|connectionstring|instrumentationkey|accountkey|"
    r"primarykey|secondarykey|sharedaccess|secret|password",
    re.IGNORECASE,
)
# Connection strings with keys must never appear in a setting: the app reaches storage by identity.
KEYED_CONNECTION = re.compile(r"AccountKey=|SharedAccessSignature=|DefaultEndpointsProtocol=", re.I)
# Flex Consumption sets the runtime in functionAppConfig and refuses these settings.
FLEX_FORBIDDEN_SETTINGS = {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"}
KEYED_SETTINGS = {
    "AzureWebJobsStorage",  # a connection string; the identity form is AzureWebJobsStorage__*
    store_settings.CONNECTION_SETTING,
    guardrail_settings.QUEUES_SETTING,
}


# -- reading the templates ----------------------------------------------------------------------


@functools.cache
def bicep_parser() -> BicepParser:
    return BicepParser()  # building the grammar takes ~0.4 s: once per session


def parse_templates(root: Path) -> dict[str, Template]:
    """Every `.bicep` file under `root`, parsed; a file that does not parse raises."""
    parsed = {}
    for path in sorted(root.rglob("*.bicep")):
        parsed[path.relative_to(root).as_posix()] = bicep_parser().parse(text=path.read_text())
    return parsed


def resources(templates: Templates) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
    """(file, symbolic name, type, body) of every declared resource; conditions unwrapped."""
    for file, template in templates.items():
        for name, resource in (template.get("resources") or {}).items():
            if resource.get("existing"):
                continue
            body = resource.get("config") or {}
            if "condition" in body and "config" in body:  # `= if (...) {...}`
                body = body["config"]
            if "loop_type" in body:  # `= [for ...: {...}]`
                body = body["config"]
            yield file, name, resource["type"], body


def of_type(templates: Templates, resource_type: str) -> list[tuple[str, str, Mapping[str, Any]]]:
    return [(f, n, b) for f, n, t, b in resources(templates) if t.lower() == resource_type.lower()]


def setting_entries(templates: Templates) -> Iterator[tuple[str, Any]]:
    """Every `{name, value}` object in a variable: the app settings the templates build."""

    def walk(node: Any) -> Iterator[tuple[str, Any]]:
        if isinstance(node, dict):
            if set(node) == {"name", "value"} and isinstance(node["name"], str):
                yield node["name"], node["value"]
            for child in node.values():
                yield from walk(child)
        elif isinstance(node, list):
            for child in node:
                yield from walk(child)

    for template in templates.values():
        for variable in (template.get("variables") or {}).values():
            yield from walk(variable.get("value"))
        for _, _, _, body in resources(template_only(template)):
            yield from walk(body.get("properties", {}).get("siteConfig", {}).get("appSettings"))


def template_only(template: Template) -> Templates:
    return {"": template}


def text_of(node: Any) -> str:
    return json.dumps(node, sort_keys=True, default=str)


# -- the checks ----------------------------------------------------------------------------------


def function_app_problems(templates: Templates) -> list[str]:
    problems = []
    sites = of_type(templates, SITE)
    if not sites:
        problems.append("no Function app (Microsoft.Web/sites) is declared")
    for file, name, body in sites:
        where = f"{file}:{name}"
        identity = str((body.get("identity") or {}).get("type", ""))
        if "SystemAssigned" not in identity:
            problems.append(f"{where}: no system-assigned managed identity")
        properties = body.get("properties") or {}
        if properties.get("httpsOnly") is not True:
            problems.append(f"{where}: httpsOnly is not true")
        config = properties.get("functionAppConfig") or {}
        runtime = config.get("runtime") or {}
        if (runtime.get("name"), runtime.get("version")) != ("python", "3.11"):
            problems.append(f"{where}: runtime is not Python 3.11")
        scale = config.get("scaleAndConcurrency") or {}
        if not {"maximumInstanceCount", "instanceMemoryMB"} <= set(scale):
            problems.append(f"{where}: maximum instance count or instance memory not set")
        storage = ((config.get("deployment") or {}).get("storage")) or {}
        if storage.get("type") != "blobContainer":
            problems.append(f"{where}: no deployment storage container")
        if (storage.get("authentication") or {}).get("type") != "SystemAssignedIdentity":
            problems.append(f"{where}: deployment storage is not reached with the identity")
    plans = of_type(templates, "Microsoft.Web/serverfarms")
    if not plans or any((b.get("sku") or {}).get("tier") != "FlexConsumption" for _, _, b in plans):
        problems.append("the plan is not Flex Consumption")
    return problems


def tls_problems(templates: Templates) -> list[str]:
    problems = []
    for file, name, body in of_type(templates, STORAGE_ACCOUNT):
        if (body.get("properties") or {}).get("minimumTlsVersion") != "TLS1_2":
            problems.append(f"{file}:{name}: storage minimumTlsVersion is not TLS1_2")
    for file, name, body in of_type(templates, SITE):
        site_config = (body.get("properties") or {}).get("siteConfig") or {}
        for setting in ("minTlsVersion", "scmMinTlsVersion"):
            if site_config.get(setting) != "1.2":
                problems.append(f"{file}:{name}: {setting} is not 1.2")
    return problems


def storage_problems(templates: Templates) -> list[str]:
    problems = []
    accounts = of_type(templates, STORAGE_ACCOUNT)
    if not accounts:
        problems.append("no storage account is declared")
    for file, name, body in accounts:
        properties = body.get("properties") or {}
        expected = {
            "allowSharedKeyAccess": False,
            "supportsHttpsTrafficOnly": True,
            "allowBlobPublicAccess": False,
        }
        for key, value in expected.items():
            if properties.get(key) is not value:
                problems.append(f"{file}:{name}: {key} is not {str(value).lower()}")
    for file, name, body in of_type(templates, KEY_VAULT):
        properties = body.get("properties") or {}
        for key in ("enableRbacAuthorization", "enableSoftDelete", "enablePurgeProtection"):
            if properties.get(key) is not True:
                problems.append(f"{file}:{name}: {key} is not true")
    return problems


def named_like_a_secret(name: str) -> bool:
    words = [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)]
    pairs = list(zip(words, [*words[1:], ""], strict=True))
    return (
        bool(SECRET_NAME_WORDS & set(words))
        or any(word in ("key", "keys") and following != "vault" for word, following in pairs)
        or ("connection", "string") in pairs
        or "instrumentation" in words
    )


def output_problems(templates: Templates) -> list[str]:
    problems = []
    for file, template in templates.items():
        for name, output in (template.get("outputs") or {}).items():
            if named_like_a_secret(name):
                problems.append(f"{file}: output {name} is named like a secret")
            if SECRET_VALUE.search(text_of(output.get("value"))):
                problems.append(f"{file}: output {name} carries a key, secret or connection string")
            if any(d.get("type") == "secure" for d in output.get("decorators") or ()):
                problems.append(f"{file}: output {name} is a secure output")
    return problems


def role_problems(templates: Templates) -> list[str]:
    """The Function app's identity holds the data roles the app and the host need."""
    problems: list[str] = []
    granted = set()
    for file, template in templates.items():
        role_vars = {}
        for var_name, variable in (template.get("variables") or {}).items():
            value = variable.get("value")
            if isinstance(value, dict):
                role_vars.update({f"{var_name}.{k}": v for k, v in value.items()})
        symbols = {name: r["type"] for name, r in (template.get("resources") or {}).items()}
        for _, _, _, body in resources(template_only(template)):
            properties = body.get("properties") or {}
            if "roleDefinitionId" not in properties:
                continue
            if properties.get("principalId") != "functionPrincipalId":
                continue
            definition = text_of(properties["roleDefinitionId"])
            role_ids = {role_vars[r] for r in role_vars if f'"{r}"' in definition}
            role_ids |= set(
                re.findall(
                    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", definition
                )
            )
            scope_type = symbols.get(str(body.get("scope")), "")
            granted |= {(ROLE_IDS[r], scope_type) for r in role_ids if r in ROLE_IDS}
        for module in (template.get("modules") or {}).values():
            source = ((module.get("config") or {}).get("params") or {}).get("functionPrincipalId")
            if source is not None and not str(source).endswith("outputs.principalId"):
                problems.append(f"{file}: roles go to {source}, not the app's identity")
    missing = sorted(REQUIRED_APP_ROLES - granted)
    return problems + [f"missing role {role} on {scope}" for role, scope in missing]


def app_setting_problems(templates: Templates, required: set[str]) -> list[str]:
    problems = []
    settings: dict[str, list[Any]] = {}
    for name, value in setting_entries(templates):
        settings.setdefault(name, []).append(value)
    for name in sorted(required - set(settings)):
        problems.append(f"app setting {name} is not set")
    for name in sorted((FLEX_FORBIDDEN_SETTINGS | KEYED_SETTINGS) & set(settings)):
        problems.append(f"app setting {name} must not be set (keys or not allowed on Flex)")
    for name, values in settings.items():
        for value in values:
            if KEYED_CONNECTION.search(text_of(value)):
                problems.append(f"app setting {name} holds a connection string with a key")
    client_state = settings.get(guardrail_settings.CLIENT_STATE_SETTING, [])
    if not client_state or not all(KEY_VAULT_REFERENCE.fullmatch(str(v)) for v in client_state):
        problems.append(f"{guardrail_settings.CLIENT_STATE_SETTING} is not a Key Vault reference")
    webhooks = {n: v for n, v in settings.items() if "webhook" in n.lower()}
    if not webhooks:
        problems.append("no webhook URL setting is declared")
    for name, values in webhooks.items():
        if not all(KEY_VAULT_REFERENCE.fullmatch(str(v)) for v in values):
            problems.append(f"webhook setting {name} is not a Key Vault reference")
    return problems


def required_settings() -> set[str]:
    """What the code reads: the timers' schedules and the identity-based storage settings."""
    schedules = set(re.findall(r'schedule="%(\w+)%"', (ROOT / "function_app.py").read_text()))
    return schedules | {
        guardrail_settings.TENANTS_SETTING,
        guardrail_settings.QUEUES_URL_SETTING,
        guardrail_settings.NOTIFICATION_URL_SETTING,
        guardrail_settings.GRAPH_AUTH_SETTING,
        store_settings.TABLE_URL_SETTING,
        routing.ROUTES_SETTING,
        routing.HISTORY_BASE_URL_SETTING,
        "AzureWebJobsStorage__blobServiceUri",
        "AzureWebJobsStorage__queueServiceUri",
        "AzureWebJobsStorage__tableServiceUri",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "PYTHON_ENABLE_OPENTELEMETRY",
    }


def telemetry_problems(templates: Templates) -> list[str]:
    """Application Insights takes Entra-authenticated telemetry only, and the app sends it so:
    the identity's token (`Authorization=AAD`) in OpenTelemetry mode (docs/telemetry.md)."""
    problems = []
    components = of_type(templates, APP_INSIGHTS)
    if not components:
        problems.append("no Application Insights component is declared")
    for file, name, body in components:
        if (body.get("properties") or {}).get("DisableLocalAuth") is not True:
            problems.append(f"{file}:{name}: Application Insights local auth is not disabled")
    settings: dict[str, list[str]] = {}
    for setting, value in setting_entries(templates):
        settings.setdefault(setting, []).append(text_of(value))
    authentication = settings.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", [])
    if not authentication or set(authentication) != {'"Authorization=AAD"'}:
        problems.append(
            "app setting APPLICATIONINSIGHTS_AUTHENTICATION_STRING is not Authorization=AAD"
        )
    for setting in ("PYTHON_ENABLE_OPENTELEMETRY", "AzureFunctionsJobHost__telemetryMode"):
        if setting not in settings:
            problems.append(f"app setting {setting} is not set")
    mode = ((templates.get("main.bicep") or {}).get("parameters") or {}).get("telemetryMode")
    if mode is not None and mode.get("default") != "OpenTelemetry":
        problems.append("the telemetryMode parameter does not default to OpenTelemetry")
    return problems


def loop_variable_problems(templates: Templates) -> list[str]:
    """A variable's `[for ...]` body is evaluated before any deployment runs (Bicep's BCP182):
    it cannot use module outputs or resource properties, which only exist afterwards."""
    problems = []
    for file, template in templates.items():
        for name, variable in (template.get("variables") or {}).items():
            value = variable.get("value")
            is_loop = isinstance(value, dict) and "loop_type" in value
            body = text_of(value.get("config")) if is_loop else ""
            if re.search(r"\.outputs\.|\.properties\.", body):
                problems.append(f"{file}: loop variable {name} uses a runtime value")
    return problems


AUTH_SETTINGS = "Microsoft.Web/sites/config"


def http_routes() -> tuple[set[str], set[str]]:
    """(dashboard routes, every other HTTP route) the Function app declares, as /api/ paths."""
    text = (ROOT / "function_app.py").read_text()
    routes = {"/api/" + route.split("/{", 1)[0] for route in re.findall(r'route="([^"]+)"', text)}
    dashboard = {route for route in routes if route.startswith("/api/dashboard")}
    return dashboard, routes - dashboard


def auth_problems(templates: Templates) -> list[str]:
    """The dashboard behind App Service Authentication (Entra ID), docs/dashboard.md."""
    configs = [
        (f, n, b)
        for f, n, b in of_type(templates, AUTH_SETTINGS)
        if b.get("name") == "authsettingsV2"
    ]
    if not configs:
        return ["no App Service Authentication (authsettingsV2) for the dashboard"]
    problems = []
    dashboard, others = http_routes()
    for file, name, body in configs:
        where = f"{file}:{name}"
        properties = body.get("properties") or {}
        if (properties.get("platform") or {}).get("enabled") is not True:
            problems.append(f"{where}: App Service Authentication is not enabled")
        validation = properties.get("globalValidation") or {}
        if validation.get("requireAuthentication") is not True:
            problems.append(f"{where}: requireAuthentication is not true")
        if validation.get("unauthenticatedClientAction") != "RedirectToLoginPage":
            problems.append(f"{where}: unauthenticated users are not sent to sign in")
        excluded = set(validation.get("excludedPaths") or [])
        if excluded != others:
            problems.append(
                f"{where}: excludedPaths must be exactly the non-dashboard routes {sorted(others)}"
            )
        if any(path.startswith(tuple(dashboard)) or path in ("/", "/api") for path in excluded):
            problems.append(f"{where}: excludedPaths lets anonymous users reach the dashboard")
        entra = (properties.get("identityProviders") or {}).get("azureActiveDirectory") or {}
        registration = entra.get("registration") or {}
        if entra.get("enabled") is not True or not registration.get("clientId"):
            problems.append(f"{where}: the Entra ID provider is not enabled with a client id")
        issuer = str(registration.get("openIdIssuer", ""))
        if "loginEndpoint" not in issuer or not issuer.endswith("/v2.0"):
            problems.append(f"{where}: openIdIssuer is not the Entra v2.0 issuer of one tenant")
        if "clientSecret" in text_of(registration):
            problems.append(f"{where}: a client secret setting (sign-in needs none)")
        if (properties.get("httpSettings") or {}).get("requireHttps") is not True:
            problems.append(f"{where}: sign-in does not require HTTPS")
        parent = str(body.get("parent", ""))
        if parent not in {n for _, n, _ in of_type(templates, SITE)}:
            problems.append(f"{where}: not attached to the Function app")
    return problems


def all_problems(templates: Templates) -> list[str]:
    return [
        *auth_problems(templates),
        *function_app_problems(templates),
        *tls_problems(templates),
        *storage_problems(templates),
        *output_problems(templates),
        *role_problems(templates),
        *app_setting_problems(templates, required_settings()),
        *telemetry_problems(templates),
        *loop_variable_problems(templates),
    ]


# -- the tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    return parse_templates(INFRA)


def test_every_bicep_file_parses(templates: Templates) -> None:
    expected = {p.relative_to(INFRA).as_posix() for p in INFRA.rglob("*.bicep")}
    assert set(templates) == expected
    assert "main.bicep" in templates


def test_main_template_deploys_every_module(templates: Templates) -> None:
    used = set()
    for template in templates.values():
        for module in (template.get("modules") or {}).values():
            used.add(module["detail"]["path"])
    assert {f for f in templates if f != "main.bicep"} == used


def test_function_app_runs_on_flex_consumption_with_its_own_identity(templates: Templates) -> None:
    assert function_app_problems(templates) == []


def test_everything_requires_tls_1_2(templates: Templates) -> None:
    assert tls_problems(templates) == []


def test_storage_refuses_shared_keys_and_key_vault_keeps_deleted_secrets(
    templates: Templates,
) -> None:
    assert storage_problems(templates) == []


def test_no_output_exposes_a_key_secret_or_connection_string(templates: Templates) -> None:
    assert output_problems(templates) == []


def test_loop_variables_use_only_values_known_before_deployment(templates: Templates) -> None:
    assert loop_variable_problems(templates) == []


def test_app_identity_holds_blob_queue_table_and_secret_roles(templates: Templates) -> None:
    assert role_problems(templates) == []


def test_app_sends_telemetry_with_its_identity_in_opentelemetry_mode(templates: Templates) -> None:
    assert telemetry_problems(templates) == []
    assert ("Monitoring Metrics Publisher", APP_INSIGHTS) in REQUIRED_APP_ROLES


def test_app_settings_match_the_code_and_reference_secrets_from_key_vault(
    templates: Templates,
) -> None:
    assert app_setting_problems(templates, required_settings()) == []


def test_templates_create_the_tables_and_queues_the_code_uses(templates: Templates) -> None:
    main = templates["main.bicep"]["variables"]
    assert set(main["tableNames"]["value"]) == {
        *keys.ALL_TABLES,
        DELIVERIES_TABLE,
        DEPLOYMENTS_TABLE,
    }
    queues = {CHANGES_QUEUE, ALERTS_QUEUE}
    assert set(main["queueNames"]["value"]) == queues | {f"{q}-poison" for q in queues}


def test_dashboard_sits_behind_app_service_authentication_with_entra_id(
    templates: Templates,
) -> None:
    assert auth_problems(templates) == []
    dashboard, others = http_routes()
    assert dashboard == {"/api/dashboard"}
    assert "/api/notifications" in others
    # The main template passes the dashboard's app registration through to the module.
    module = templates["main.bicep"]["modules"]["functionApp"]
    assert "dashboardClientId" in text_of(module)


def test_azd_parameters_match_the_main_template(templates: Templates) -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = templates["main.bicep"]["parameters"]
    assert set(parameters) <= set(declared)
    without_default = {n for n, p in declared.items() if p.get("default") is None}
    assert without_default <= set(parameters)


BROKEN = [
    (
        "modules/functionapp.bicep",
        "requireAuthentication: true",
        "requireAuthentication: false",
        "requireAuthentication",
    ),
    (
        "modules/functionapp.bicep",
        "unauthenticatedClientAction: 'RedirectToLoginPage'",
        "unauthenticatedClientAction: 'AllowAnonymous'",
        "sent to sign in",
    ),
    (
        "modules/functionapp.bicep",
        "'/api/evaluate'\n",
        "'/api/evaluate'\n        '/api/dashboard'\n",
        "anonymous users reach the dashboard",
    ),
    (
        "modules/functionapp.bicep",
        "        '/api/notifications'\n",
        "",
        "excludedPaths must be exactly",
    ),
    (
        "modules/functionapp.bicep",
        "name: 'authsettingsV2'",
        "name: 'authsettings'",
        "no App Service Authentication",
    ),
    ("modules/functionapp.bicep", "httpsOnly: true", "httpsOnly: false", "httpsOnly"),
    ("modules/functionapp.bicep", "type: 'SystemAssigned'\n", "type: 'None'\n", "identity"),
    ("modules/functionapp.bicep", "minTlsVersion: '1.2'", "minTlsVersion: '1.0'", "minTlsVersion"),
    ("modules/functionapp.bicep", "version: '3.11'", "version: '3.12'", "Python 3.11"),
    (
        "modules/storage.bicep",
        "allowSharedKeyAccess: false",
        "allowSharedKeyAccess: true",
        "Shared",
    ),
    ("modules/storage.bicep", "'TLS1_2'", "'TLS1_0'", "TLS1_2"),
    (
        "modules/keyvault.bicep",
        "enablePurgeProtection: true",
        "enablePurgeProtection: false",
        "Purge",
    ),
    (
        "modules/roles.bicep",
        "roleDefinitions', roleIds.storageTableDataContributor)",
        "roleDefinitions', roleIds.storageTableDataReader)",
        "Table Data Contributor",
    ),
    (
        "main.bicep",
        "'@Microsoft.KeyVault(SecretUri=${vaultUri}secrets/${clientStateSecretName})'",
        "graphClientState",
        "CLIENT_STATE",
    ),
    (
        "main.bicep",
        "secrets/teams-webhook-${route.name})'",
        "secrets/teams-webhook-${route.name}) '",
        "webhook setting",
    ),
    (
        "main.bicep",
        "secrets/teams-webhook-${route.name}",
        "${keyVault.outputs.vaultUri}teams-webhook-${route.name}",
        "runtime value",
    ),
    ("main.bicep", "'SUBSCRIPTION_SCHEDULE'", "'SUBSCRIPTIONS_SCHEDULE'", "SUBSCRIPTION_SCHEDULE"),
    ("main.bicep", "output AZURE_KEY_VAULT_NAME", "output AZURE_KEY_NAME", "named like a secret"),
    (
        "modules/roles.bicep",
        "monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'",
        "monitoringMetricsPublisher: '43d0d8ad-25c7-4714-9337-8ba259a9fe05'",
        "missing role Monitoring Metrics Publisher",
    ),
    (
        "modules/functionapp.bicep",
        "value: 'Authorization=AAD'",
        "value: 'Authorization=none'",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING is not",
    ),
    (
        "main.bicep",
        "param telemetryMode string = 'OpenTelemetry'",
        "param telemetryMode string = 'ApplicationInsights'",
        "telemetryMode parameter",
    ),
    (
        "modules/monitoring.bicep",
        "    DisableLocalAuth: true",
        "    DisableLocalAuth: false",
        "Application Insights local auth",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), BROKEN, ids=[b[3] for b in BROKEN])
def test_checks_reject_a_template_with_one_thing_broken(
    tmp_path: Path, file: str, old: str, new: str, expected: str
) -> None:
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    target = copy / file
    text = target.read_text()
    assert text.count(old) == 1, f"{old!r} must appear once in {file}"
    target.write_text(text.replace(old, new))
    problems = all_problems(parse_templates(copy))
    assert any(expected.lower() in p.lower() for p in problems), problems


def test_checks_reject_a_template_that_leaks_keys(tmp_path: Path) -> None:
    (tmp_path / "leaky.bicep").write_text(
        """
param location string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'leaky'
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_0'
    allowSharedKeyAccess: true
  }
}

var settings = [
  {
    name: 'AzureWebJobsStorage'
    value: 'DefaultEndpointsProtocol=https;AccountKey=${storage.listKeys().keys[0].value}'
  }
]

output storageKey string = storage.listKeys().keys[0].value
output AZURE_KEY_VAULT_NAME string = 'fine'
output APPLICATIONINSIGHTS_CONNECTION_STRING string = 'InstrumentationKey=00000000'
"""
    )
    templates = parse_templates(tmp_path)
    assert output_problems(templates) == [
        "leaky.bicep: output storageKey is named like a secret",
        "leaky.bicep: output storageKey carries a key, secret or connection string",
        "leaky.bicep: output APPLICATIONINSIGHTS_CONNECTION_STRING is named like a secret",
        "leaky.bicep: output APPLICATIONINSIGHTS_CONNECTION_STRING carries a key, secret or "
        "connection string",
    ]
    assert "no Function app (Microsoft.Web/sites) is declared" in function_app_problems(templates)
    assert storage_problems(templates) == [
        "leaky.bicep:storage: allowSharedKeyAccess is not false",
        "leaky.bicep:storage: supportsHttpsTrafficOnly is not true",
        "leaky.bicep:storage: allowBlobPublicAccess is not false",
    ]
    assert tls_problems(templates) == [
        "leaky.bicep:storage: storage minimumTlsVersion is not TLS1_2"
    ]
    setting_problems = app_setting_problems(templates, set())
    assert (
        "app setting AzureWebJobsStorage holds a connection string with a key" in setting_problems
    )
    assert len(role_problems(templates)) == len(REQUIRED_APP_ROLES)


def test_a_file_that_does_not_parse_fails(tmp_path: Path) -> None:
    (tmp_path / "broken.bicep").write_text(
        "resource x 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n"
    )
    with pytest.raises(LarkError):
        parse_templates(tmp_path)


def run_checkov(directory: Path) -> dict[str, Any]:
    checkov = Path(sys.executable).with_name("checkov")
    assert checkov.exists(), "checkov is a development requirement (requirements-dev.txt)"
    completed = subprocess.run(  # noqa: S603 - our own tool on our own files
        [
            str(checkov),
            "--framework",
            "bicep",
            "--skip-download",
            "-d",
            str(directory),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # No mapping download from the vendor's service: offline, and 2 s faster.
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(completed.stdout)
    return report[0] if isinstance(report, list) else report


def test_checkov_bicep_policies_pass_and_every_skip_is_justified() -> None:
    report = run_checkov(INFRA)
    summary, results = report["summary"], report["results"]
    assert summary["parsing_errors"] == 0, results["parsing_errors"]
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in results["failed_checks"]]
    assert failed == []
    assert summary["passed"] > 0
    for skipped in results["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment", "")
        assert len(reason.split()) >= 8, f"{skipped['check_id']} is skipped without a reason"


def script_permissions(script: str) -> list[str]:
    text = (INFRA / "scripts" / script).read_text()
    block = re.search(r"^PERMISSIONS=\(\n(.*?)^\)", text, re.MULTILINE | re.DOTALL)
    assert block is not None, f"{script} has no PERMISSIONS list"
    return [line.split()[0] for line in block.group(1).splitlines() if line.strip()]


def test_grant_script_covers_every_application_permission_the_rules_declare() -> None:
    granted = set(script_permissions("grant-graph-permissions.sh"))
    # Manual items name what a person needs to check by hand; the app reads nothing for them.
    declared = {
        p
        for rule in all_rules()
        if rule.metadata.kind is not RuleKind.MANUAL
        for p in rule.metadata.permissions
    }
    application = {p for p in declared if "(delegated)" not in p}
    assert application <= granted


def test_msp_app_requests_exactly_what_the_managed_identity_is_granted() -> None:
    assert script_permissions("create-msp-app.sh") == script_permissions(
        "grant-graph-permissions.sh"
    )


def test_permissions_doc_explains_every_permission_the_rules_and_scripts_use() -> None:
    text = (ROOT / "docs" / "permissions.md").read_text()
    declared = {
        p.split()[0].rstrip(",") for rule in all_rules() for p in rule.metadata.permissions
    } - {"none"}
    used = declared | set(script_permissions("grant-graph-permissions.sh"))
    assert {p for p in used if p not in text} == set()


def test_deploy_doc_lists_every_app_setting(templates: Templates) -> None:
    documented = (ROOT / "docs" / "deploy.md").read_text()
    local = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    names = {n for n, _ in setting_entries(templates) if re.fullmatch(r"[A-Za-z_]\w*", n)}

    def is_documented(name: str) -> bool:
        # One row covers a family: `AzureWebJobsStorage__blobServiceUri`, `__queueServiceUri`.
        family_member = "__" in name and f"`__{name.split('__', 1)[1]}`" in documented
        return f"`{name}`" in documented or family_member

    assert {n for n in names | set(local) if not is_documented(n)} == set()


def test_local_settings_example_is_valid_for_the_app() -> None:
    values = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    settings = guardrail_settings.read_settings(values)
    assert settings.tenants
    assert settings.queue_connection == store_settings.DEVELOPMENT_STORAGE
    assert values[store_settings.CONNECTION_SETTING] == store_settings.DEVELOPMENT_STORAGE
    assert routing.routing_from_settings(values).routes == ()
    schedules = set(re.findall(r'schedule="%(\w+)%"', (ROOT / "function_app.py").read_text()))
    assert schedules <= set(values)
