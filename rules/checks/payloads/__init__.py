"""What the technician phase installs and applies: apps, scripts, configurations, compliance."""

from types import ModuleType

RULES: tuple[ModuleType, ...] = ()
