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

@description('Application (client) id of the dashboard\'s Entra app registration (docs/deploy.md). Empty: no App Service Authentication, and the dashboard answers 403 to everyone.')
param dashboardClientId string = ''

@description('Entra tenant whose users sign in to the dashboard (the MSP\'s own tenant).')
param dashboardSignInTenantId string = tenant().tenantId

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

// The dashboard (/api/dashboard) sits behind App Service Authentication with Microsoft Entra ID:
// every request must be signed in, and Easy Auth hands the app the user's app roles in the
// X-MS-CLIENT-PRINCIPAL header, which the app trusts only with WEBSITE_AUTH_ENABLED set (App
// Service sets it when this is on). The routes that callers reach without a browser are
// excluded: Graph's change notifications (checked against clientState) and the function-key
// query API. No client secret: sign-in uses the ID token (implicit grant) of the registration.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(dashboardClientId)) {
  // checkov:skip=CKV_AZURE_13: checkov applies its whole-site policies to this sites/config resource, which holds only the site's authsettingsV2 (it is the App Service Authentication the check asks for).
  // checkov:skip=CKV_AZURE_63: checkov applies its whole-site policies to this sites/config resource, which holds only the site's authsettingsV2.
  // checkov:skip=CKV_AZURE_65: checkov applies its whole-site policies to this sites/config resource, which holds only the site's authsettingsV2.
  // checkov:skip=CKV_AZURE_66: checkov applies its whole-site policies to this sites/config resource, which holds only the site's authsettingsV2.
  // checkov:skip=CKV_AZURE_80: checkov applies its whole-site policies to this sites/config resource, which holds only the site's authsettingsV2.
  // checkov:skip=CKV_AZURE_88: checkov applies its whole-site policies to this sites/config resource, which holds only the site's authsettingsV2.
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: [
        '/api/notifications'
        '/api/readiness'
        '/api/history'
        '/api/changes'
        '/api/evaluate'
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: dashboardClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${dashboardSignInTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${dashboardClientId}'
            dashboardClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
      forwardProxy: {
        convention: 'NoProxy'
      }
    }
  }
}
