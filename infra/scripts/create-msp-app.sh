#!/usr/bin/env bash
# Multi-tenant variant for MSPs: one deployment guarding customer tenants.
#
# A managed identity gets tokens only for its own tenant. To read customer tenants, this script
# creates (or updates) a multi-tenant app registration in the MSP's tenant whose only credential
# is a federated identity credential trusting the Function app's managed identity: no client
# secret, no certificate. Each customer's admin then consents to the app once (the script prints
# one admin-consent URL per customer tenant), which creates the app's service principal in the
# customer tenant with the same read-only Graph application permissions as
# grant-graph-permissions.sh.
#
# Who can run it: an Application Administrator (or Cloud Application Administrator) of the MSP
# tenant, signed in with `az login`.
#
# Usage:
#   infra/scripts/create-msp-app.sh [--principal-id OBJECT_ID] [--display-name NAME]
#                                   [--customer-tenant TENANT_ID]... [--dry-run]
#   Without --principal-id the id comes from `azd env get-value AZURE_FUNCTION_PRINCIPAL_ID`.
#
# Status: the app registration, credential and consent are the deployment design. The app's
# Graph sign-in through this credential (a client assertion from the managed identity) is not
# in the code yet: docs/permissions.md, "Several tenants (MSP)".
set -euo pipefail

GRAPH_APP_ID="00000003-0000-0000-c000-000000000000"
GRAPH="https://graph.microsoft.com/v1.0"
# Keep in step with grant-graph-permissions.sh (tests/test_infra.py compares the two lists).
PERMISSIONS=(
  DeviceManagementServiceConfig.Read.All
  DeviceManagementConfiguration.Read.All
  DeviceManagementApps.Read.All
  DeviceManagementManagedDevices.Read.All
  GroupMember.Read.All
  Device.Read.All
  Policy.Read.All
  Policy.Read.DeviceConfiguration
  Group.Read.All
  AuditLog.Read.All
)

principal_id=""
display_name="Greenscreen (multi-tenant reader)"
customers=()
dry_run=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --principal-id) principal_id="${2:?--principal-id needs a value}"; shift 2 ;;
    --display-name) display_name="${2:?--display-name needs a value}"; shift 2 ;;
    --customer-tenant) customers+=("${2:?--customer-tenant needs a value}"); shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
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
if [[ "$display_name" == *"'"* ]]; then
  echo "--display-name must not contain a single quote" >&2
  exit 2
fi

run() {
  if $dry_run; then
    echo "would run: $*"
  else
    "$@"
  fi
}

home_tenant="$(az account show --query tenantId -o tsv)"
graph_sp_id="$(az rest --method get \
  --url "$GRAPH/servicePrincipals(appId='$GRAPH_APP_ID')?\$select=id" --query id -o tsv)"

resource_access=""
for permission in "${PERMISSIONS[@]}"; do
  role_id="$(az rest --method get \
    --url "$GRAPH/servicePrincipals/$graph_sp_id?\$select=appRoles" \
    --query "appRoles[?value=='$permission' && contains(allowedMemberTypes, 'Application')].id | [0]" \
    -o tsv)"
  [[ -z "$role_id" ]] && { echo "Graph has no application permission $permission" >&2; exit 1; }
  resource_access+="${resource_access:+,}{\"id\":\"$role_id\",\"type\":\"Role\"}"
done
required="[{\"resourceAppId\":\"$GRAPH_APP_ID\",\"resourceAccess\":[$resource_access]}]"

filter="displayName eq '$display_name'"
object_id="$(az rest --method get --url "$GRAPH/applications" \
  --url-parameters "\$filter=$filter" "\$select=id" --query "value[0].id" -o tsv)"
if [[ -z "$object_id" ]]; then
  echo "creating app registration: $display_name"
  if $dry_run; then
    object_id="<new application object id>"
    app_id="<new application (client) id>"
  else
    object_id="$(az rest --method post --url "$GRAPH/applications" \
      --headers "Content-Type=application/json" \
      --body "{\"displayName\":\"$display_name\",\"signInAudience\":\"AzureADMultipleOrgs\",\"requiredResourceAccess\":$required}" \
      --query id -o tsv)"
  fi
else
  echo "updating app registration: $display_name"
  run az rest --method patch --url "$GRAPH/applications/$object_id" \
    --headers "Content-Type=application/json" \
    --body "{\"signInAudience\":\"AzureADMultipleOrgs\",\"requiredResourceAccess\":$required}" \
    --output none
fi
if ! $dry_run; then
  app_id="$(az rest --method get --url "$GRAPH/applications/$object_id?\$select=appId" \
    --query appId -o tsv)"
  # The service principal in the MSP's own tenant (consent there works like a customer's).
  if [[ -z "$(az rest --method get --url "$GRAPH/servicePrincipals(appId='$app_id')?\$select=id" \
      --query id -o tsv 2>/dev/null || true)" ]]; then
    az rest --method post --url "$GRAPH/servicePrincipals" \
      --headers "Content-Type=application/json" --body "{\"appId\":\"$app_id\"}" --output none
  fi
fi

# The only credential: tokens of the Function app's managed identity, exchanged for this app.
credential="{\"name\":\"greenscreen-function-identity\",\"issuer\":\"https://login.microsoftonline.com/$home_tenant/v2.0\",\"subject\":\"$principal_id\",\"audiences\":[\"api://AzureADTokenExchange\"],\"description\":\"Greenscreen Function app managed identity\"}"
existing="$(az rest --method get --url "$GRAPH/applications/$object_id/federatedIdentityCredentials" \
  --query "value[?name=='greenscreen-function-identity'].id | [0]" -o tsv 2>/dev/null || true)"
if [[ -z "$existing" ]]; then
  echo "adding federated identity credential (subject: managed identity $principal_id)"
  run az rest --method post --url "$GRAPH/applications/$object_id/federatedIdentityCredentials" \
    --headers "Content-Type=application/json" --body "$credential" --output none
else
  echo "federated identity credential already present"
fi

echo
echo "application (client) id: $app_id"
echo "Each customer's Global Administrator or Privileged Role Administrator opens, once:"
if [[ ${#customers[@]} -eq 0 ]]; then
  customers=("<customer tenant id>")
fi
for customer in "${customers[@]}"; do
  echo "  https://login.microsoftonline.com/$customer/adminconsent?client_id=$app_id"
done
