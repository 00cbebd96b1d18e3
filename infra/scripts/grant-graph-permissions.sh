#!/usr/bin/env bash
# Grant Greenscreen's Microsoft Graph application permissions to the Function app's managed
# identity: app role assignments on the Microsoft Graph service principal, through `az rest`.
# ARM (Bicep) cannot grant Graph app roles, hence this script (docs/deploy.md, step 2).
#
# Least privilege, read-only (docs/permissions.md explains each one and what degrades without
# it). Idempotent: roles already granted are left alone; with --prune, Graph roles the identity
# holds that are not in the list are removed.
#
# Who can run it: an Entra ID Privileged Role Administrator or Global Administrator of the
# tenant the identity lives in, signed in with `az login` (Azure CLI 2.60 or later).
#
# Usage:
#   infra/scripts/grant-graph-permissions.sh [--principal-id OBJECT_ID] [--with-directory-read]
#                                            [--prune] [--dry-run]
#   Without --principal-id the id comes from `azd env get-value AZURE_FUNCTION_PRINCIPAL_ID`.
set -euo pipefail

GRAPH_APP_ID="00000003-0000-0000-c000-000000000000"
GRAPH="https://graph.microsoft.com/v1.0"

# What the readiness rules read (rule metadata `permissions`, rules/checks/**) and what the
# event-driven monitor needs on top (Intune audit events are covered by DeviceManagementApps).
PERMISSIONS=(
  DeviceManagementServiceConfig.Read.All  # Autopilot profiles and devices, ESP, enrollment configurations, connectors
  DeviceManagementConfiguration.Read.All  # configuration profiles, settings catalog, compliance, filters
  DeviceManagementApps.Read.All           # apps with assignments and relationships; Intune audit events
  DeviceManagementManagedDevices.Read.All # platform scripts
  GroupMember.Read.All                    # groups, dynamic rules, members, groups/delta
  Device.Read.All                         # Entra devices (physical ids, trust type), devices/delta
  Policy.Read.All                         # Conditional Access policies
  Policy.Read.DeviceConfiguration         # device registration policy: who may join devices, quota
  Group.Read.All                          # change-notification subscriptions on groups
  AuditLog.Read.All                       # Entra directory audits: who changed a group
)
# Microsoft's directoryAudit list page lists Directory.Read.All beside AuditLog.Read.All. It is
# broad (the whole directory), so it is opt-in: add it only if directory audits answer 403.
OPTIONAL_DIRECTORY_READ=Directory.Read.All

principal_id=""
dry_run=false
prune=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --principal-id) principal_id="${2:?--principal-id needs a value}"; shift 2 ;;
    --with-directory-read) PERMISSIONS+=("$OPTIONAL_DIRECTORY_READ"); shift ;;
    --prune) prune=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [[ -z "$principal_id" ]]; then
  principal_id="$(azd env get-value AZURE_FUNCTION_PRINCIPAL_ID 2>/dev/null || true)"
fi
if [[ ! "$principal_id" =~ ^[0-9a-fA-F-]{36}$ ]]; then
  echo "give the managed identity's object id: --principal-id, or run after 'azd up'" >&2
  exit 2
fi

run() {
  if $dry_run; then
    echo "would run: $*"
  else
    "$@"
  fi
}

graph_sp_id="$(az rest --method get \
  --url "$GRAPH/servicePrincipals(appId='$GRAPH_APP_ID')?\$select=id" --query id -o tsv)"
echo "Microsoft Graph service principal: $graph_sp_id"
echo "managed identity (principal):      $principal_id"

# Current Graph app role assignments of the identity: appRoleId per line.
granted="$(az rest --method get \
  --url "$GRAPH/servicePrincipals/$principal_id/appRoleAssignments?\$top=999" \
  --query "value[?resourceId=='$graph_sp_id'].appRoleId" -o tsv)"

wanted_ids=()
for permission in "${PERMISSIONS[@]}"; do
  role_id="$(az rest --method get \
    --url "$GRAPH/servicePrincipals/$graph_sp_id?\$select=appRoles" \
    --query "appRoles[?value=='$permission' && contains(allowedMemberTypes, 'Application')].id | [0]" \
    -o tsv)"
  if [[ -z "$role_id" ]]; then
    echo "Graph has no application permission named $permission" >&2
    exit 1
  fi
  wanted_ids+=("$role_id")
  if grep -qx "$role_id" <<<"$granted"; then
    echo "already granted: $permission"
    continue
  fi
  echo "granting:        $permission"
  run az rest --method post \
    --url "$GRAPH/servicePrincipals/$principal_id/appRoleAssignments" \
    --headers "Content-Type=application/json" \
    --body "{\"principalId\":\"$principal_id\",\"resourceId\":\"$graph_sp_id\",\"appRoleId\":\"$role_id\"}" \
    --output none
done

if $prune; then
  assignments="$(az rest --method get \
    --url "$GRAPH/servicePrincipals/$principal_id/appRoleAssignments?\$top=999" \
    --query "value[?resourceId=='$graph_sp_id'].[id, appRoleId]" -o tsv)"
  while read -r assignment_id role_id; do
    [[ -z "$assignment_id" ]] && continue
    if ! printf '%s\n' "${wanted_ids[@]}" | grep -qx "$role_id"; then
      echo "removing Graph app role $role_id (not in the list)"
      run az rest --method delete \
        --url "$GRAPH/servicePrincipals/$principal_id/appRoleAssignments/$assignment_id" \
        --output none
    fi
  done <<<"$assignments"
fi

echo "done. New roles reach the app with its next Graph token: managed identity tokens are cached"
echo "by Azure for up to 24 hours and that cache cannot be cleared (docs/deploy.md)."
