// Key Vault for the secrets the app reads through Key Vault references: the Graph subscription
// clientState (written here) and the Teams Workflows webhook URLs (written by the operator with
// `az keyvault secret set`, docs/deploy.md; a webhook URL exists only once its Workflow does).
// RBAC mode: no access policies; the Function's identity gets Key Vault Secrets User (roles.bicep).

@description('Key Vault name: 3-24 letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Secret name that holds the Graph change-notification clientState.')
param clientStateSecretName string

@secure()
@description('The clientState Graph echoes in every change notification (at most 128 characters).')
@maxLength(128)
param clientState string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: the Function app (Flex Consumption without VNet integration) resolves Key Vault references over the public endpoint; access is Entra ID with RBAC only. Add private endpoints together with VNet integration.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource clientStateSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: no expiry date: an expired clientState would make the webhook drop every Graph notification without anyone noticing; rotation is a runbook step (docs/runbook.md).
  parent: vault
  name: clientStateSecretName
  properties: {
    value: clientState
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

output name string = vault.name
output id string = vault.id
output vaultUri string = vault.properties.vaultUri
