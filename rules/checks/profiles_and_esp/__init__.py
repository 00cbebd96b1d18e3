"""Autopilot deployment profiles and the Enrollment Status Page."""

from types import ModuleType

RULES: tuple[ModuleType, ...] = ()
