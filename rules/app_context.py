"""Whether an app installs in device (system) context or for a user, read from its Graph shape.

Pre-provisioning installs Win32 and LOB apps in the technician phase only when they are
"configured to install in the device context" (pre-provision.md); the device-setup phase of the
ESP tracks only device-context apps (windows-enrollment-status.md). Where Graph records the
context differs per app type:
- Win32 (`win32LobApp`, `win32CatalogApp`) and WinGet (`winGetApp`):
  `installExperience.runAsAccount` (`system` | `user`); a Win32 app wrapping a per-user MSI
  (`msiInformation.packageType`) is per-user whatever the account.
- LOB MSI (`windowsMobileMSI`): `useDeviceContext`; a dual-mode MSI without it installs per-user,
  so a missing value cannot be read as device context.
- AppX/MSIX and Store for Business apps: the assignment's settings (`useDeviceContext`).
- Microsoft 365 Apps (`officeSuiteApp`) and Microsoft Edge install machine-wide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from rules.assignments import Assignment
from rules.graph_json import optional_bool, optional_mapping, optional_str
from rules.tenant_objects import MobileApp

REQUIRED_INTENT: Final = "required"

_RUN_AS_TYPES: Final = frozenset(
    {
        "#microsoft.graph.win32lobapp",
        "#microsoft.graph.win32catalogapp",
        "#microsoft.graph.wingetapp",
    }
)
_MSI_TYPES: Final = frozenset({"#microsoft.graph.windowsmobilemsi"})
_ASSIGNMENT_CONTEXT_TYPES: Final = frozenset(
    {
        "#microsoft.graph.windowsuniversalappx",
        "#microsoft.graph.windowsappx",
        "#microsoft.graph.microsoftstoreforbusinessapp",
    }
)
_MACHINE_WIDE_TYPES: Final = frozenset(
    {"#microsoft.graph.officesuiteapp", "#microsoft.graph.windowsmicrosoftedgeapp"}
)


class InstallContext(Enum):
    DEVICE = "device"
    USER = "user"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class InstallContextVerdict:
    context: InstallContext
    reason: str


def install_context(app: MobileApp) -> InstallContextVerdict:
    """The context the app installs in when it is required (see the module docstring)."""
    app_type = (app.odata_type or "").casefold()
    name = f"'{app.display_name}'"
    if app_type in _RUN_AS_TYPES:
        return _run_as_context(app, name)
    if app_type in _MSI_TYPES:
        use_device_context = optional_bool(app.raw, "useDeviceContext")
        if use_device_context is True:
            return _verdict(InstallContext.DEVICE, f"{name} is an MSI installed per device")
        if use_device_context is False:
            return _verdict(InstallContext.USER, f"{name} is an MSI installed per user")
        return _verdict(
            InstallContext.UNKNOWN,
            f"{name} does not say whether it installs per device (a dual-mode MSI defaults to "
            "per user)",
        )
    if app_type in _ASSIGNMENT_CONTEXT_TYPES:
        return _assignment_context(app, name)
    if app_type in _MACHINE_WIDE_TYPES:
        return _verdict(InstallContext.DEVICE, f"{name} ({app.odata_type}) installs machine-wide")
    return _verdict(
        InstallContext.UNKNOWN,
        f"the install context of {name} ({app.odata_type}) is not known for its app type",
    )


def _run_as_context(app: MobileApp, name: str) -> InstallContextVerdict:
    msi = optional_mapping(app.raw, "msiInformation")
    package_type = (optional_str(msi, "packageType") or "") if msi else ""
    if package_type.casefold() == "peruser":
        return _verdict(InstallContext.USER, f"{name} wraps a per-user MSI package")
    account = (app.run_as_account or "").casefold()
    if account == "system":
        return _verdict(InstallContext.DEVICE, f"{name} installs as System")
    if account == "user":
        return _verdict(InstallContext.USER, f"{name} installs as the signed-in user")
    return _verdict(InstallContext.UNKNOWN, f"{name} does not report its install behavior")


def _assignment_context(app: MobileApp, name: str) -> InstallContextVerdict:
    if app.assignments is None:
        return _verdict(InstallContext.UNKNOWN, f"assignments of {name} could not be read")
    flags = [
        optional_bool(settings, "useDeviceContext")
        for settings in _required_settings(app.assignments)
    ]
    if any(flag is True for flag in flags):
        return _verdict(InstallContext.DEVICE, f"{name} is assigned with device context")
    if flags and all(flag is False for flag in flags):
        return _verdict(InstallContext.USER, f"{name} is assigned with user context")
    return _verdict(
        InstallContext.UNKNOWN, f"the required assignments of {name} do not state a context"
    )


def _required_settings(assignments: Iterable[Assignment]) -> list[Mapping[str, Any]]:
    return [
        assignment.settings if assignment.settings is not None else {}
        for assignment in assignments
        if assignment.intent == REQUIRED_INTENT
    ]


def _verdict(context: InstallContext, reason: str) -> InstallContextVerdict:
    return InstallContextVerdict(context, reason)


def is_required_anywhere(app: MobileApp) -> bool | None:
    """Whether any assignment of the app is `required`; None when assignments were not read."""
    if app.assignments is None:
        return None
    return any(assignment.intent == REQUIRED_INTENT for assignment in app.assignments)
