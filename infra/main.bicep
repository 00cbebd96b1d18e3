// Greenscreen on Azure: `azd up` deploys this template (subscription scope: it creates the
// resource group), then the code. Graph application permissions are granted afterwards by
// infra/scripts/grant-graph-permissions.sh (docs/deploy.md): ARM cannot grant Graph app roles.
targetScope = 'subscription'

@minLength(1)
@maxLength(48)
@description('azd environment name: names the resource group and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region for every resource; it must offer Flex Consumption.')
param location string

@description('Object id of the operator running azd (azd sets AZURE_PRINCIPAL_ID); empty grants no operator roles.')
param operatorPrincipalId string = ''

@description('Principal type of operatorPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

@description('Tenants to guard: tenant ids (GUIDs) or domains, separated by commas. Becomes the TENANTS app setting.')
param tenantIds string = ''

@description('Teams destinations, comma-separated, each name:tenant:minSeverity (name: lower-case letters, digits, hyphens; tenant: a tenant id or *; minSeverity: blocker, error, warning or info). Each needs the Key Vault secret teams-webhook-<name> holding its Workflows webhook URL (docs/deploy.md).')
param alertDestinations string = ''

@secure()
@maxLength(128)
@description('Graph change-notification clientState, kept in Key Vault. azd keeps the stored one (or generates one) with secretOrRandomPassword.')
param graphClientState string

@description('NCRONTAB schedule of the Intune audit poll (POLL_SCHEDULE).')
param pollSchedule string = '0 */5 * * * *'

@description('NCRONTAB schedule of the Entra delta and directory audit poll (DIRECTORY_POLL_SCHEDULE).')
param directoryPollSchedule string = '30 */5 * * * *'

@description('NCRONTAB schedule of the Autopilot deployment poll (DEPLOYMENT_POLL_SCHEDULE).')
param deploymentPollSchedule string = '0 10-59/15 * * * *'

@description('NCRONTAB schedule of the full reconcile (RECONCILE_SCHEDULE).')
param reconcileSchedule string = '0 0 */6 * * *'

@description('NCRONTAB schedule of Graph subscription upkeep (SUBSCRIPTION_SCHEDULE).')
param subscriptionSchedule string = '0 15 */12 * * *'

@description('NCRONTAB schedule of the history retention purge (RETENTION_SCHEDULE).')
param retentionSchedule string = '0 45 3 * * *'

@description('Days of history kept in Table Storage (GREENSCREEN_RETENTION_DAYS).')
@minValue(1)
@maxValue(36500)
param retentionDays int = 400

@description('Telemetry pipeline of the Functions host and the Python worker.')
@allowed([
  'OpenTelemetry'
  'ApplicationInsights'
])
param telemetryMode string = 'OpenTelemetry'

@description('Microsoft Graph endpoint (national clouds differ).')
param graphUrl string = 'https://graph.microsoft.com'

@description('Most instances Flex Consumption may scale out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Application (client) id of the dashboard\'s Entra app registration; empty: the dashboard stays closed (403) until one is set (docs/deploy.md).')
param dashboardClientId string = ''

@description('Memory per Flex Consumption instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

var tags = {
  'azd-env-name': environmentName
  application: 'greenscreen'
}
var token = toLower(uniqueString(subscription().id, environmentName, location))
var names = {
  resourceGroup: 'rg-${environmentName}'
  storage: 'stgs${token}'
  keyVault: 'kv-gs-${token}'
  logAnalytics: 'log-gs-${token}'
  applicationInsights: 'appi-gs-${token}'
  plan: 'plan-gs-${token}'
  functionApp: 'func-gs-${token}'
}
var deploymentContainerName = 'app-package-${token}'
var clientStateSecretName = 'graph-client-state'
// Computed from the name, not read from the vault: the webhook settings are built in a variable
// loop, whose body ARM evaluates before any resource exists (a module output is not allowed).
var vaultUri = 'https://${names.keyVault}${environment().suffixes.keyvaultDns}/'
// The names the code uses: docs/storage.md, monitors/alerts/ledger.py, monitors/guardrail/queues.py.
var tableNames = [
  'GreenscreenState'
  'GreenscreenTransitions'
  'GreenscreenChanges'
  'GreenscreenCauses'
  'GreenscreenRuns'
  'GreenscreenOperations'
  'GreenscreenTenantMirror'
  'GreenscreenReadinessSummary'
  'GreenscreenDeployments'
  'GreenscreenAlertDeliveries'
]
var queueNames = [
  'changes'
  'changes-poison'
  'alerts'
  'alerts-poison'
]

var tenantList = [for tenantEntry in (empty(tenantIds) ? [] : split(tenantIds, ',')): {
  tenantId: toLower(trim(tenantEntry))
}]
var destinationSpecs = empty(alertDestinations) ? [] : split(alertDestinations, ',')
var alertRoutes = [for spec in destinationSpecs: {
  name: trim(split(spec, ':')[0])
  tenant: trim(split(spec, ':')[1])
  webhookSetting: 'GREENSCREEN_WEBHOOK_${toUpper(replace(trim(split(spec, ':')[0]), '-', '_'))}'
  minSeverity: trim(split(spec, ':')[2])
  format: 'teams'
}]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.resourceGroup
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: names.storage
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    tableNames: tableNames
    queueNames: queueNames
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: names.keyVault
    location: location
    tags: tags
    clientStateSecretName: clientStateSecretName
    clientState: graphClientState
  }
}

// Settings that need neither the app's host name nor its roles. Storage is reached with the
// app's identity: the Functions host through AzureWebJobsStorage__*ServiceUri, the queue
// triggers and sender through GREENSCREEN_QUEUES__queueServiceUri, the verdict store through
// GREENSCREEN_STORAGE_TABLE_URL. No connection string with a key exists anywhere.
var baseSettings = [
  {
    name: 'AzureWebJobsStorage__blobServiceUri'
    value: storage.outputs.blobEndpoint
  }
  {
    name: 'AzureWebJobsStorage__queueServiceUri'
    value: storage.outputs.queueEndpoint
  }
  {
    name: 'AzureWebJobsStorage__tableServiceUri'
    value: storage.outputs.tableEndpoint
  }
  {
    name: 'GREENSCREEN_QUEUES__queueServiceUri'
    value: storage.outputs.queueEndpoint
  }
  {
    name: 'GREENSCREEN_STORAGE_TABLE_URL'
    value: storage.outputs.tableEndpoint
  }
  {
    name: 'GREENSCREEN_RETENTION_DAYS'
    value: string(retentionDays)
  }
  {
    name: 'TENANTS'
    value: string(tenantList)
  }
  {
    name: 'GREENSCREEN_GRAPH_AUTH'
    value: 'managed-identity'
  }
  {
    name: 'GREENSCREEN_GRAPH_URL'
    value: graphUrl
  }
  {
    name: 'POLL_SCHEDULE'
    value: pollSchedule
  }
  {
    name: 'DIRECTORY_POLL_SCHEDULE'
    value: directoryPollSchedule
  }
  {
    name: 'DEPLOYMENT_POLL_SCHEDULE'
    value: deploymentPollSchedule
  }
  {
    name: 'RECONCILE_SCHEDULE'
    value: reconcileSchedule
  }
  {
    name: 'SUBSCRIPTION_SCHEDULE'
    value: subscriptionSchedule
  }
  {
    name: 'RETENTION_SCHEDULE'
    value: retentionSchedule
  }
  {
    name: 'AzureFunctionsJobHost__telemetryMode'
    value: telemetryMode
  }
  {
    name: 'PYTHON_ENABLE_OPENTELEMETRY'
    value: telemetryMode == 'OpenTelemetry' ? 'true' : 'false'
  }
  {
    name: 'OTEL_SERVICE_NAME'
    value: 'greenscreen'
  }
]

// First pass: the app and its identity, with the settings that need no role yet.
module functionAppIdentity 'modules/functionapp.bicep' = {
  name: 'functionapp-identity'
  scope: rg
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    deploymentStorageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: baseSettings
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  scope: rg
  params: {
    functionPrincipalId: functionAppIdentity.outputs.principalId
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

var appUrl = 'https://${functionAppIdentity.outputs.defaultHostName}'
// Secrets reach the app only as Key Vault references (versionless: the latest version is used).
var secretSettings = [
  {
    name: 'GREENSCREEN_CLIENT_STATE'
    value: '@Microsoft.KeyVault(SecretUri=${vaultUri}secrets/${clientStateSecretName})'
  }
  {
    name: 'GREENSCREEN_NOTIFICATION_URL'
    value: '${appUrl}/api/notifications'
  }
  {
    name: 'GREENSCREEN_HISTORY_BASE_URL'
    value: appUrl
  }
  {
    name: 'GREENSCREEN_ALERT_ROUTES'
    value: string(alertRoutes)
  }
]
var webhookSettings = [for route in alertRoutes: {
  name: route.webhookSetting
  value: '@Microsoft.KeyVault(SecretUri=${vaultUri}secrets/teams-webhook-${route.name})'
}]

// Second pass, after the roles: every setting, so Key Vault references resolve at first start.
module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  dependsOn: [
    roles
  ]
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    deploymentStorageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: concat(baseSettings, secretSettings, webhookSettings)
    dashboardClientId: dashboardClientId
  }
}

// Names and endpoints only: no key, connection string or secret leaves the deployment.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_PRINCIPAL_ID string = functionApp.outputs.principalId
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.vaultUri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output GREENSCREEN_STORAGE_TABLE_URL string = storage.outputs.tableEndpoint
output GREENSCREEN_API_URL string = appUrl
