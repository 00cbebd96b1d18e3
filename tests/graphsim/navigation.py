"""Navigation properties: hidden unless asked for, expandable only where Graph expands them.

The snapshot inlines navigations (`assignments`, `settings`, `members`...) on each object. Graph
never returns them on a plain GET: a client gets them with `$expand` (where the service supports
it) or from the navigation path (`/{id}/assignments`). The simulator strips them the same way,
so a reader that forgets to expand sees what it would see against Graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    COMPLIANCE_POLICIES,
    CONDITIONAL_ACCESS_POLICIES,
    DEVICE_CONFIGURATIONS,
    DEVICE_REGISTRATION_POLICY,
    DEVICES,
    DOMAIN_JOIN_CONNECTORS,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    INLINED_NAVIGATIONS,
    MDM_POLICIES,
    MOBILE_APPS,
    PLATFORM_SCRIPTS,
    SETTINGS_CATALOG_POLICIES,
)
from tests.graphsim.exchange import GraphError, bad_request, error_code_for_status
from tests.graphsim.odata_query import ExpandItem
from tests.graphsim.tenant_view import TenantView

# Graph expands at most 20 objects of a directory navigation (`$expand=members`); the full list
# is only at `/groups/{id}/members`.
DIRECTORY_EXPAND_LIMIT: Final = 20
# Single-valued navigations; every other inlined navigation is a collection.
SINGLE_VALUED: Final = frozenset({"deploymentProfile", "intendedDeploymentProfile"})


@dataclass(frozen=True)
class Expansion:
    on_list: bool = True  # False: only on a single-object GET (`/{collection}/{id}?$expand=`)
    limit: int | None = None
    nested_expand: frozenset[str] = frozenset()


_ANYWHERE: Final = Expansion()

# What `$expand` accepts per collection. Inlined navigations missing here are reachable only by
# their path: `relationships` on mobileApps (Intune rejects expanding it), and `settings` on
# configurationPolicies expands on a single policy but not on the list.
EXPANDABLE: Final[dict[str, dict[str, Expansion]]] = {
    AUTOPILOT_PROFILES: {"assignments": _ANYWHERE},
    # On a single device only: the list refuses them (see NOT_ON_LISTS).
    AUTOPILOT_DEVICES: {
        "deploymentProfile": Expansion(on_list=False),
        "intendedDeploymentProfile": Expansion(on_list=False),
    },
    ENROLLMENT_CONFIGURATIONS: {"assignments": _ANYWHERE},
    DEVICE_CONFIGURATIONS: {"assignments": _ANYWHERE},
    SETTINGS_CATALOG_POLICIES: {"assignments": _ANYWHERE, "settings": Expansion(on_list=False)},
    PLATFORM_SCRIPTS: {"assignments": _ANYWHERE},
    COMPLIANCE_POLICIES: {
        "assignments": _ANYWHERE,
        "scheduledActionsForRule": Expansion(
            nested_expand=frozenset({"scheduledActionConfigurations"})
        ),
    },
    MOBILE_APPS: {"assignments": _ANYWHERE},
    GROUPS: {"members": Expansion(limit=DIRECTORY_EXPAND_LIMIT)},
    MDM_POLICIES: {"includedGroups": _ANYWHERE},
}

# Navigations the published model declares that the service behind the path does not serve on
# its lists: an `$expand` of them there answers "Could not find a property named ..."
# (msgraph-beta-sdk-dotnet#971), and their path has no route (microsoft-graph-docs-contrib#2569).
# A single device's GET expands them (public tooling does so every day).
NOT_ON_LISTS: Final[dict[str, frozenset[str]]] = {
    AUTOPILOT_DEVICES: frozenset({"deploymentProfile", "intendedDeploymentProfile"}),
}
# Endpoint-security policies (`templateReference.templateFamily` "endpointSecurity..."): a single
# policy's `$expand=assignments` answers an empty list (msgraph-sdk-powershell#3337); the list's
# expand and `/{id}/assignments` answer the real assignments.
EMPTY_SINGLE_EXPAND: Final[dict[str, str]] = {SETTINGS_CATALOG_POLICIES: "assignments"}


def expand_answers_empty(collection: str, obj: Mapping[str, Any], navigation: str) -> bool:
    if EMPTY_SINGLE_EXPAND.get(collection) != navigation:
        return False
    reference = obj.get("templateReference")
    family = reference.get("templateFamily") if isinstance(reference, Mapping) else None
    return isinstance(family, str) and family.startswith("endpointSecurity")


# Entity type names, for error messages in Graph's words.
ENTITY_TYPES: Final[dict[str, str]] = {
    AUTOPILOT_PROFILES: "microsoft.graph.windowsAutopilotDeploymentProfile",
    AUTOPILOT_DEVICES: "microsoft.graph.windowsAutopilotDeviceIdentity",
    ENROLLMENT_CONFIGURATIONS: "microsoft.graph.deviceEnrollmentConfiguration",
    DEVICE_CONFIGURATIONS: "microsoft.graph.deviceConfiguration",
    SETTINGS_CATALOG_POLICIES: "microsoft.graph.deviceManagementConfigurationPolicy",
    PLATFORM_SCRIPTS: "microsoft.graph.deviceManagementScript",
    COMPLIANCE_POLICIES: "microsoft.graph.deviceCompliancePolicy",
    ASSIGNMENT_FILTERS: "microsoft.graph.deviceAndAppManagementAssignmentFilter",
    DOMAIN_JOIN_CONNECTORS: "microsoft.graph.deviceManagementDomainJoinConnector",
    MOBILE_APPS: "microsoft.graph.mobileApp",
    GROUPS: "microsoft.graph.group",
    DEVICES: "microsoft.graph.device",
    MDM_POLICIES: "microsoft.graph.mobilityManagementPolicy",
    DEVICE_REGISTRATION_POLICY: "microsoft.graph.deviceRegistrationPolicy",
    CONDITIONAL_ACCESS_POLICIES: "microsoft.graph.conditionalAccessPolicy",
}


def entity_type(collection: str) -> str:
    return ENTITY_TYPES.get(collection, "microsoft.graph.entity")


def navigations_of(collection: str) -> tuple[str, ...]:
    return INLINED_NAVIGATIONS.get(collection, ())


def without_navigations(obj: Mapping[str, Any], collection: str) -> dict[str, Any]:
    hidden = navigations_of(collection)
    return {k: v for k, v in obj.items() if k not in hidden}


def project(obj: Mapping[str, Any], select: Iterable[str] | None) -> dict[str, Any]:
    """Apply `$select`; `id` and `@odata.type` always stay, as they do in Graph's answers."""
    if select is None:
        return dict(obj)
    wanted = {"id", "@odata.type", *select}
    return {k: v for k, v in obj.items() if k in wanted}


def check_expand(collection: str, expand: Iterable[ExpandItem], *, on_list: bool) -> None:
    allowed = EXPANDABLE.get(collection, {})
    for item in expand:
        expansion = allowed.get(item.name)
        if on_list and item.name in NOT_ON_LISTS.get(collection, ()):
            raise bad_request(
                "Parsing OData Select and Expand failed: Could not find a property named "
                f"'{item.name}' on type '{entity_type(collection)}'."
            )
        if expansion is None:
            if item.name in navigations_of(collection):
                raise bad_request(
                    f"Expanding navigation property '{item.name}' is not supported on "
                    f"'{entity_type(collection)}'."
                )
            raise bad_request(
                f"Could not find a property named '{item.name}' on type "
                f"'{entity_type(collection)}'."
            )
        if on_list and not expansion.on_list:
            raise bad_request(
                f"Expanding navigation property '{item.name}' is not supported on a collection "
                f"of '{entity_type(collection)}'; expand it on a single object or read "
                f"/{{id}}/{item.name}."
            )
        for nested in item.expand:
            if nested.name not in expansion.nested_expand:
                raise bad_request(
                    f"Could not find a property named '{nested.name}' to expand inside "
                    f"'{item.name}'."
                )


def resolve_member(member: Mapping[str, Any], tenant: TenantView) -> dict[str, Any]:
    """A group member as Graph returns it: the full directory object, not the snapshot stub."""
    member_id = str(member.get("id", ""))
    odata_type = str(member.get("@odata.type", "#microsoft.graph.device"))
    if odata_type.endswith(".device"):
        device = tenant.find(DEVICES, member_id)
        if device is not None:
            return {"@odata.type": "#microsoft.graph.device", **device}
    if odata_type.endswith(".group"):
        group = tenant.find(GROUPS, member_id)
        if group is not None:
            return {"@odata.type": "#microsoft.graph.group", **without_navigations(group, GROUPS)}
    return dict(member)


def navigation_value(
    obj: Mapping[str, Any], collection: str, navigation: str, tenant: TenantView
) -> Any:
    """The navigation's value as Graph serves it (list, object or None)."""
    raw = obj.get(navigation)
    if navigation in SINGLE_VALUED:
        if not isinstance(raw, Mapping):
            return None
        # The snapshot keeps a stub ({@odata.type, id, displayName}); Graph expands to the
        # whole profile.
        profile = tenant.find(AUTOPILOT_PROFILES, str(raw.get("id", "")))
        return without_navigations(profile, AUTOPILOT_PROFILES) if profile else dict(raw)
    items = raw if isinstance(raw, list) else []
    if navigation == "members":
        return [resolve_member(m, tenant) for m in items]
    if navigation == "includedGroups":
        resolved = []
        for group in items:
            full = tenant.find(GROUPS, str(group.get("id", "")))
            resolved.append(without_navigations(full, GROUPS) if full else dict(group))
        return resolved
    return [dict(item) for item in items]


def expanded_value(
    obj: Mapping[str, Any], collection: str, item: ExpandItem, tenant: TenantView
) -> Any:
    value = navigation_value(obj, collection, item.name, tenant)
    expansion = EXPANDABLE.get(collection, {}).get(item.name, _ANYWHERE)
    if isinstance(value, list):
        if item.name == "scheduledActionsForRule" and not any(
            n.name == "scheduledActionConfigurations" for n in item.expand
        ):
            # Without the nested $expand the rules come back without their configurations.
            value = [
                {k: v for k, v in rule.items() if k != "scheduledActionConfigurations"}
                for rule in value
            ]
        if expansion.limit is not None:
            value = value[: expansion.limit]
        return [project(v, item.select) for v in value]
    if isinstance(value, Mapping):
        return project(value, item.select)
    return value


def render(
    obj: Mapping[str, Any],
    collection: str,
    *,
    select: tuple[str, ...] | None,
    expand: Iterable[ExpandItem],
    tenant: TenantView,
    single: bool,
) -> dict[str, Any]:
    """An object as Graph answers it: navigations hidden, `$select` applied, `$expand` added."""
    rendered = project(without_navigations(obj, collection), select)
    for item in expand:
        recorded = tenant.errors.get(f"{collection}/{obj.get('id')}/{item.name}")
        if recorded is not None:
            if single:
                raise snapshot_error(recorded, f"{collection}/{obj.get('id')}/{item.name}")
            continue  # the snapshot could not read it; the object comes without it
        # Graph always answers an expanded navigation (empty when there is nothing).
        if single and expand_answers_empty(collection, obj, item.name):
            rendered[item.name] = []
            continue
        rendered[item.name] = expanded_value(obj, collection, item, tenant)
    return rendered


def snapshot_error(recorded: Mapping[str, Any], path: str) -> GraphError:
    """The answer for a path the snapshot could not read (its `errors` entry)."""
    status = int(recorded.get("status", 500))
    message = str(recorded.get("message", "The snapshot recorded an error for this path."))
    headers = {"Retry-After": "1"} if status in {429, 503} else {}
    return GraphError(status, error_code_for_status(status, path), message, headers)
