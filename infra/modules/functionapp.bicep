// The Function app on Flex Consumption: Python 3.11, system-assigned managed identity, HTTPS
// only, TLS 1.2, no basic-auth publishing. The deployment package lives in a blob container that
// the app reads with its own identity. main.bicep deploys this module twice: first to create the
// app (and so its identity), then, once the identity holds its roles, again with the full app
// settings, so that Key Vault references and identity-based storage resolve at the first start.

@description('Function app name, globally unique (it becomes <name>.azurewebsites.net).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region (one where Flex Consumption is available).')
param location string

@description('Tags for every resource.')
param tags object

@description('azd service name from azure.yaml: azd deploys the code to the app with this tag.')
param serviceName string = 'api'

@description('Application Insights component whose connection string the app uses.')
param applicationInsightsName string

@description('Blob endpoint of the storage account that holds the deployment container.')
param deploymentStorageBlobEndpoint string

@description('Blob container for the deployment package.')
param deploymentContainerName string

@description('Most instances Flex Consumption may scale out to (40-1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('App settings as [{name, value}]: plain values, endpoints and Key Vault references only.')
param appSettings array = []

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// The connection string identifies the component; with local auth disabled on the component,
// ingestion additionally needs the identity's Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
var monitoringSettings = [
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: applicationInsights.properties.ConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'Authorization=AAD'
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: client certificates cannot be presented by Microsoft Graph when it posts change notifications.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(monitoringSettings, appSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${deploymentStorageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Publishing uses Entra ID (azd); basic-auth credentials for SCM and FTP stay off.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output id string = functionApp.id
output principalId string = functionApp.identity.principalId
output defaultHostName string = functionApp.properties.defaultHostName
