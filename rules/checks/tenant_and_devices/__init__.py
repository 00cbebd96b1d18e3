"""Enrollment prerequisites, Autopilot device registrations, groups, hybrid join, co-management."""

from types import ModuleType

from rules.checks.tenant_and_devices import grp_002_dynamic_processing_on

RULES: tuple[ModuleType, ...] = (grp_002_dynamic_processing_on,)
