"""Pure pre-provisioning readiness rules over a tenant snapshot. No I/O lives here."""
