"""Reading tenants from Microsoft Graph (msgraph-core client factory, raw JSON, JSON batching)."""
