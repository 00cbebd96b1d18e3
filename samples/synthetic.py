"""Deterministic synthetic tenants of any size, for load tests and benchmarks.

`generate_tenant()` returns a snapshot that follows docs/snapshot-format.md like the Contoso
sample does: every group is referenced by some assignment and every referenced group is present,
assigned groups carry members, every app carries `relationships` consistent with its counts,
every settings catalog policy carries `settings`, and Autopilot devices and Entra devices pair
up one to one. The same arguments always give the same snapshot: all randomness comes from
`random.Random(seed)` and no wall-clock time is read.

    python -m samples.synthetic --out out/synthetic.json --devices 50000 --seed 7
"""

import argparse
import inspect
import random
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from rules import tenant_collections as paths
from samples import graph_shapes as g
from samples.graph_shapes import Hardware, JsonObject, RegisteredDevice

CAPTURED_AT: Final = "2026-11-24T09:00:00Z"
_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://greenscreen.dev/samples/synthetic")

# Objects are created over the two years before the capture.
_EPOCH_START: Final = 1_700_000_000  # 2023-11-14
_EPOCH_SPAN: Final = 1_764_000_000 - _EPOCH_START  # up to 2025-11-24

_HARDWARE: Final = (
    Hardware(
        "Microsoft Corporation", "Surface Laptop 6 for Business", "Surface", "Surface_Laptop_6_2037"
    ),
    Hardware("Microsoft Corporation", "Surface Pro 10 for Business", "Surface", "Surface_Pro_10"),
    Hardware(
        "LENOVO",
        "21MLS0L600",
        "ThinkPad T14 Gen 5",
        "LENOVO_MT_21ML_BU_Think_FM_ThinkPad T14 Gen 5",
    ),
    Hardware("LENOVO", "21LYS03E00", "ThinkPad X1 Carbon Gen 12", "LENOVO_MT_21LY_BU_Think_FM_X1"),
    Hardware("Dell Inc.", "Latitude 7450", "Latitude", "0C7A"),
    Hardware("Dell Inc.", "OptiPlex Micro Plus 7020", "OptiPlex", "0C64"),
    Hardware(
        "HP", "HP EliteBook 840 14 inch G11 Notebook PC", "103C_5336AN HP EliteBook", "A26S0EA#ABD"
    ),
    Hardware("Microsoft Corporation", "Virtual Machine", "Virtual Machine", "None"),
)
# Virtual machines are rare in a real fleet; weight them accordingly.
_HARDWARE_WEIGHTS: Final = (14, 6, 18, 8, 20, 10, 23, 1)

_VENDORS: Final = (
    "Contoso",
    "Fabrikam",
    "Northwind Traders",
    "Adatum",
    "Litware",
    "Tailspin Toys",
    "Wide World Importers",
    "Proseware",
)
_PRODUCTS: Final = (
    "Agent",
    "Client",
    "Connector",
    "Desktop",
    "Toolkit",
    "Viewer",
    "Runtime",
    "Sync",
    "Studio",
    "Launcher",
)
_DEPARTMENTS: Final = ("Sales", "Finance", "Engineering", "Marketing", "Support", "Operations")

_CHOICE_SETTINGS: Final = tuple(
    f"device_vendor_msft_policy_config_{name}"
    for name in (
        "defender_allowrealtimemonitoring",
        "defender_allowcloudprotection",
        "defender_allowbehaviormonitoring",
        "defender_allowioavprotection",
        "defender_allowscriptscanning",
        "defender_allowarchivescanning",
        "defender_allowemailscanning",
        "defender_puaprotection",
        "defender_submitsamplesconsent",
        "experience_allowcortana",
        "experience_allowwindowsconsumerfeatures",
        "privacy_letappsaccesscamera",
        "system_allowtelemetry",
        "update_allowautoupdate",
        "bluetooth_allowdiscoverablemode",
        "deliveryoptimization_dodownloadmode",
        "search_allowcortanainaad",
        "start_hiderecentlyaddedapps",
        "windowslogon_enablefirstlogonanimation",
        "power_allowstandbystateswhensleepingonbattery",
        "smartscreen_enablesmartscreeninshell",
        "smartscreen_preventoverrideforfilesinshell",
        "wifi_allowautoconnecttowifisensehotspots",
        "textinput_allowlinguisticdatacollection",
        "notifications_disallowcloudnotification",
        "storage_allowstoragesenseglobal",
        "microsoft_edge~policy~microsoft_edge_hidefirstrunexperience",
        "microsoft_edge~policy~microsoft_edge_smartscreenenabled",
        "microsoft_edge~policy~microsoft_edge_passwordmanagerenabled",
        "onedrivengscv2~policy~onedrivengsc_silentaccountconfig",
        "onedrivengscv2~policy~onedrivengsc_filesondemandenabled",
        "localpoliciessecurityoptions_interactivelogon_donotdisplaylastsignedin",
    )
)
_INTEGER_SETTINGS: Final = (
    ("device_vendor_msft_policy_config_update_activehoursstart", 0, 12),
    ("device_vendor_msft_policy_config_update_activehoursend", 13, 23),
    ("device_vendor_msft_policy_config_defender_avgcpuloadfactor", 10, 50),
    ("device_vendor_msft_laps_policies_passwordlength", 14, 24),
    ("device_vendor_msft_policy_config_deliveryoptimization_domaxcacheage", 0, 2_592_000),
)
MAX_SETTINGS_PER_POLICY: Final = 30


# --- deterministic randomness --------------------------------------------------------------------


_VERSION_4_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_4_SET: Final = (0x4000 << 64) | (0x8000 << 48)


def _guid(rng: random.Random) -> str:
    """A random-looking version 4 GUID from `rng`; what `uuid.UUID(int=..., version=4)` gives.

    Formatted by hand because building UUID objects is the generator's biggest cost at scale.
    """
    text = f"{(rng.getrandbits(128) & _VERSION_4_CLEAR) | _VERSION_4_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _entra_time(rng: random.Random) -> str:
    moment = time.gmtime(_EPOCH_START + rng.randrange(_EPOCH_SPAN))
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", moment)


def _intune_time(rng: random.Random) -> str:
    # Intune timestamps carry seven fractional digits.
    moment = time.gmtime(_EPOCH_START + rng.randrange(_EPOCH_SPAN))
    return time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{rng.randrange(10_000_000):07d}Z"


def _characters(rng: random.Random, alphabet: str, count: int) -> str:
    return "".join(rng.choices(alphabet, k=count))


_ALNUM: Final = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


# --- groups and who references them --------------------------------------------------------------


@dataclass(frozen=True)
class _GroupPlan:
    group_id: str
    kind: str  # "ztd", "order", "purchase", "dynamic-user", "assigned-device", "assigned-user"
    value: str  # group tag, purchase order or department, "" otherwise


_DEVICE_KINDS: Final = frozenset({"ztd", "order", "purchase", "assigned-device"})


def _plan_groups(rng: random.Random, count: int) -> list[_GroupPlan]:
    plans = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.10:
            kind, value = "assigned-device", ""
        elif roll < 0.20:
            kind, value = "assigned-user", ""
        elif roll < 0.25:
            kind, value = "ztd", ""
        elif roll < 0.60:
            kind, value = "order", f"TAG-{index:05d}"
        elif roll < 0.70:
            kind, value = "purchase", f"45{index:08d}"
        else:
            kind, value = "dynamic-user", rng.choice(_DEPARTMENTS)
        plans.append(_GroupPlan(_guid(rng), kind, value))
    return plans


@dataclass
class _GroupTargets:
    """Hands out assignment targets so that assignments spread over every group."""

    rng: random.Random
    plans: list[_GroupPlan]
    referenced: set[str] = field(default_factory=set)
    _cursor: int = 0
    _order: list[int] = field(default_factory=list)
    _device_cursor: int = 0
    _device_order: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._order = list(range(len(self.plans)))
        self.rng.shuffle(self._order)
        self._device_order = [i for i in self._order if self.plans[i].kind in _DEVICE_KINDS]

    def any_group(self) -> str | None:
        if not self._order:
            return None
        plan = self.plans[self._order[self._cursor % len(self._order)]]
        self._cursor += 1
        self.referenced.add(plan.group_id)
        return plan.group_id

    def device_group(self) -> str | None:
        if not self._device_order:
            return self.any_group()
        plan = self.plans[self._device_order[self._device_cursor % len(self._device_order)]]
        self._device_cursor += 1
        self.referenced.add(plan.group_id)
        return plan.group_id

    def targets(self, count: int, *, filter_ids: Sequence[str]) -> list[JsonObject]:
        """Up to `count` distinct targets: mostly groups, sometimes all devices / all users."""
        targets: list[JsonObject] = []
        seen: set[str] = set()
        for _ in range(count):
            roll = self.rng.random()
            if roll < 0.05:
                key, target = "all-devices", g.all_devices_target()
            elif roll < 0.10:
                key, target = "all-users", g.all_licensed_users_target()
            else:
                group_id = self.any_group()
                if group_id is None:
                    continue
                key = group_id
                if roll < 0.15:
                    target = g.exclusion_group_target(group_id)
                elif filter_ids and roll < 0.25:
                    filter_type = "include" if roll < 0.20 else "exclude"
                    target = g.group_target(
                        group_id, filter_id=self.rng.choice(filter_ids), filter_type=filter_type
                    )
                else:
                    target = g.group_target(group_id)
            if key not in seen:
                seen.add(key)
                targets.append(target)
        return targets

    def unreferenced(self) -> list[str]:
        return [plan.group_id for plan in self.plans if plan.group_id not in self.referenced]


def _build_group(
    plan: _GroupPlan, rng: random.Random, entra_object_ids: Sequence[str]
) -> JsonObject:
    created = _entra_time(rng)
    if plan.kind == "assigned-device":
        picked = rng.sample(entra_object_ids, min(len(entra_object_ids), rng.randrange(1, 21)))
        return g.assigned_group(
            group_id=plan.group_id,
            display_name=f"Devices - Static {plan.group_id[:8]}",
            description="Hand-picked devices",
            created=created,
            members=[g.device_member(object_id) for object_id in picked],
        )
    if plan.kind == "assigned-user":
        return g.assigned_group(
            group_id=plan.group_id,
            display_name=f"Users - Static {plan.group_id[:8]}",
            description="Hand-picked users",
            created=created,
            members=[g.user_member(_guid(rng)) for _ in range(rng.randrange(1, 21))],
        )
    if plan.kind == "dynamic-user":
        return g.dynamic_group(
            group_id=plan.group_id,
            display_name=f"Users - {plan.value} {plan.group_id[:8]}",
            description=f"Everyone in {plan.value}",
            membership_rule=f'(user.department -eq "{plan.value}")',
            created=created,
        )
    rule, display_name = {
        "ztd": (g.ztd_id_rule(), "Autopilot - All devices"),
        "order": (g.order_id_rule(plan.value), f"Autopilot - Tag {plan.value}"),
        "purchase": (g.purchase_order_rule(plan.value), f"Autopilot - PO {plan.value}"),
    }[plan.kind]
    return g.dynamic_group(
        group_id=plan.group_id,
        display_name=f"{display_name} {plan.group_id[:8]}",
        description="Windows Autopilot devices",
        membership_rule=rule,
        created=created,
        # A few groups left paused, as real directories have.
        processing_state="Paused" if rng.random() < 0.02 else "On",
    )


# --- Autopilot profiles and devices --------------------------------------------------------------


def _profiles(rng: random.Random, count: int, targets: _GroupTargets) -> list[JsonObject]:
    profiles = []
    for index in range(count):
        profile_id = _guid(rng)
        hybrid = index > 0 and rng.random() < 0.2
        assignments: list[JsonObject] = []
        for _ in range(rng.randrange(1, 3)):
            group_id = targets.device_group()
            if group_id is not None and all(
                a["target"].get("groupId") != group_id for a in assignments
            ):
                assignments.append(g.profile_assignment(profile_id, g.group_target(group_id)))
        profiles.append(
            g.autopilot_profile(
                odata_type=g.HYBRID_JOIN_PROFILE if hybrid else g.ENTRA_JOIN_PROFILE,
                profile_id=profile_id,
                display_name=f"Autopilot profile {index:03d}{' (hybrid)' if hybrid else ''}",
                description="Synthetic deployment profile",
                created=_intune_time(rng),
                last_modified=_intune_time(rng),
                device_name_template="" if hybrid else f"P{index:03d}-%RAND:6%",
                # The first profile is the tenant's pre-provisioning profile.
                preprovisioning_allowed=index == 0 or rng.random() < 0.7,
                assignments=assignments,
            )
        )
    return profiles


def _serial_number(hardware: Hardware, rng: random.Random) -> str:
    if hardware.model == "Virtual Machine":
        return "-".join(_characters(rng, "0123456789", 4) for _ in range(6)) + "-00"
    if hardware.manufacturer == "Microsoft Corporation":
        return _characters(rng, "0123456789", 12)
    if hardware.manufacturer == "LENOVO":
        return "PF" + _characters(rng, _ALNUM, 6)
    if hardware.manufacturer == "HP":
        return "5CG" + _characters(rng, _ALNUM, 7)
    return _characters(rng, _ALNUM, 7)


def _registrations(
    rng: random.Random, count: int, plans: Sequence[_GroupPlan]
) -> list[RegisteredDevice]:
    tags = [plan.value for plan in plans if plan.kind == "order"]
    purchase_orders = [plan.value for plan in plans if plan.kind == "purchase"]
    hardware_choices = rng.choices(_HARDWARE, weights=_HARDWARE_WEIGHTS, k=count)
    registrations = []
    for hardware in hardware_choices:
        roll = rng.random()
        group_tag = rng.choice(tags) if tags and roll < 0.6 else ""
        purchase_order = rng.choice(purchase_orders) if purchase_orders and roll > 0.9 else ""
        registrations.append(
            RegisteredDevice(
                autopilot_id=_guid(rng),
                serial_number=_serial_number(hardware, rng),
                hardware=hardware,
                group_tag=group_tag,
                purchase_order=purchase_order,
                entra_object_id=_guid(rng),
                entra_device_id=_guid(rng),
                hardware_hash_id=str(rng.randrange(10**15, 10**16)),
                registered=_entra_time(rng),
            )
        )
    return registrations


def _device_pair(
    device: RegisteredDevice, rng: random.Random, profiles: Sequence[JsonObject]
) -> tuple[JsonObject, JsonObject]:
    profile = rng.choice(profiles) if profiles else None
    roll = rng.random()
    if profile is None or roll < 0.01:
        status, profile = "notAssigned", None
    elif roll < 0.02:
        status = "pending"
    else:
        status = "assignedInSync"
    if profile is not None and roll > 0.7:
        computer_name = "D-" + _characters(rng, _ALNUM, 10)
        autopilot = g.autopilot_device(
            device,
            profile=profile,
            assignment_status=status,
            assigned_at=_intune_time(rng),
            enrollment_state="enrolled",
            managed_device_id=_guid(rng),
            display_name=computer_name,
            last_contacted=_intune_time(rng),
            remediation_state="automaticRemediationRequired"
            if roll > 0.995
            else ("noRemediationRequired"),
        )
        entra = g.entra_device(
            device, display_name=computer_name, operating_system_version="10.0.26100.4652"
        )
        return autopilot, entra
    autopilot = g.autopilot_device(
        device,
        profile=profile,
        assignment_status=status,
        assigned_at=None if profile is None else _intune_time(rng),
    )
    entra = g.entra_device(
        device, display_name=device.serial_number, operating_system_version="10.0.26100.1742"
    )
    return autopilot, entra


# --- apps ----------------------------------------------------------------------------------------

_APP_TYPES: Final = (
    "win32",
    "msi",
    "office",
    "winget",
    "appx",
    "storeForBusiness",
    "edge",
    "ios",
    "android",
)
_APP_TYPE_WEIGHTS: Final = (70, 5, 2, 5, 4, 2, 2, 5, 5)
_INTENTS: Final = ("required", "available", "uninstall")
_INTENT_WEIGHTS: Final = (5, 4, 1)


@dataclass(frozen=True)
class _AppPlan:
    kind: str
    facts: g.AppFacts


@dataclass
class _AppRelationships:
    """Relationships per app id, built so that each app plays at most one role.

    Keeping every relationship one level deep makes Graph's "directly or indirectly" counts
    equal to the number of relationships listed on the app.
    """

    listed: dict[str, list[JsonObject]] = field(default_factory=dict)
    dependent_app_count: dict[str, int] = field(default_factory=dict)
    superseding_app_count: dict[str, int] = field(default_factory=dict)
    superseded_app_count: dict[str, int] = field(default_factory=dict)


def _relate_win32_apps(rng: random.Random, win32: Sequence[g.AppFacts]) -> _AppRelationships:
    relationships = _AppRelationships()
    used: set[str] = set()
    for app in win32:
        if app.app_id in used or rng.random() >= 0.05:
            continue
        candidates = [
            other for other in rng.sample(win32, min(len(win32), 6)) if other.app_id not in used
        ]
        candidates = [other for other in candidates if other.app_id != app.app_id][:3]
        if not candidates:
            continue
        used.add(app.app_id)
        used.update(other.app_id for other in candidates)
        if rng.random() < 0.5:
            relationships.listed[app.app_id] = [
                g.dependency(app, child, dependency_type=rng.choice(("autoInstall", "detect")))
                for child in candidates
            ]
            relationships.dependent_app_count[app.app_id] = len(candidates)
            continue
        older = candidates[:2]
        for superseded in older:
            on_newer, on_older = g.supersedence_pair(
                app, superseded, supersedence_type=rng.choice(("update", "replace"))
            )
            relationships.listed.setdefault(app.app_id, []).append(on_newer)
            relationships.listed[superseded.app_id] = [on_older]
            relationships.superseded_app_count[superseded.app_id] = 1
        relationships.superseding_app_count[app.app_id] = len(older)
    return relationships


def _plan_apps(rng: random.Random, count: int) -> list[_AppPlan]:
    kinds = rng.choices(_APP_TYPES, weights=_APP_TYPE_WEIGHTS, k=count)
    plans = []
    for index, kind in enumerate(kinds):
        vendor = rng.choice(_VENDORS)
        version = f"{rng.randrange(1, 30)}.{rng.randrange(0, 10)}.{rng.randrange(0, 1000)}"
        name = f"{vendor} {rng.choice(_PRODUCTS)} {index:05d}"
        plans.append(_AppPlan(kind, g.AppFacts(_guid(rng), name, version, vendor)))
    return plans


def _app_assignments(
    rng: random.Random, kind: str, targets: _GroupTargets, filter_ids: Sequence[str]
) -> list[JsonObject]:
    settings_for: dict[str, Callable[[], JsonObject | None]] = {
        "win32": g.win32_assignment_settings,
        "winget": g.win_get_assignment_settings,
        "appx": lambda: g.appx_assignment_settings(use_device_context=rng.random() < 0.5),
        "storeForBusiness": lambda: g.store_for_business_assignment_settings(
            use_device_context=False
        ),
        "ios": g.ios_store_assignment_settings,
        "android": g.android_managed_store_assignment_settings,
    }
    make_settings = settings_for.get(kind, lambda: None)
    assignments = []
    for target in targets.targets(rng.randrange(0, 4), filter_ids=filter_ids):
        excluded = target["@odata.type"] == g.EXCLUSION_GROUP_TARGET
        intent = "required" if excluded else rng.choices(_INTENTS, weights=_INTENT_WEIGHTS)[0]
        assignments.append(g.app_assignment(target, intent=intent, settings=make_settings()))
    return assignments


def _app(
    plan: _AppPlan,
    rng: random.Random,
    assignments: list[JsonObject],
    relationships: _AppRelationships,
) -> JsonObject:
    facts = plan.facts
    created, modified = _intune_time(rng), _intune_time(rng)
    common: dict[str, Any] = {
        "app_id": facts.app_id,
        "created": created,
        "last_modified": modified,
        "assignments": assignments,
    }
    named: dict[str, Any] = {
        **common,
        "display_name": facts.display_name,
        "description": f"{facts.display_name} {facts.display_version}",
        "publisher": facts.publisher,
    }
    package = facts.display_name.replace(" ", "")
    if plan.kind == "win32":
        detection = (
            g.registry_detection(
                rf"HKEY_LOCAL_MACHINE\SOFTWARE\{facts.publisher}\{package}",
                "Version",
                facts.display_version,
            )
            if rng.random() < 0.7
            else g.file_detection(
                rf"%ProgramFiles%\{facts.publisher}\{package}",
                f"{package}.exe",
                facts.display_version,
            )
        )
        return g.win32_app(
            **named,
            display_version=facts.display_version,
            file_name=f"{package}.intunewin",
            setup_file="Deploy-Application.exe",
            size=rng.randrange(100_000, 900_000_000),
            install_command_line="Deploy-Application.exe -DeploymentType Install "
            "-DeployMode Silent",
            uninstall_command_line="Deploy-Application.exe -DeploymentType Uninstall "
            "-DeployMode Silent",
            run_as_account="system" if rng.random() < 0.9 else "user",
            detections=[detection],
            relationships=relationships.listed.get(facts.app_id),
            dependent_app_count=relationships.dependent_app_count.get(facts.app_id, 0),
            superseding_app_count=relationships.superseding_app_count.get(facts.app_id, 0),
            superseded_app_count=relationships.superseded_app_count.get(facts.app_id, 0),
            max_run_time_minutes=rng.choice((15, 30, 60, 60, 60, 120)),
        )
    if plan.kind == "msi":
        return g.windows_msi_app(
            **named,
            file_name=f"{package}.msi",
            size=rng.randrange(100_000, 300_000_000),
            product_code="{" + _guid(rng).upper() + "}",
            product_version=facts.display_version,
            use_device_context=rng.random() < 0.8,
        )
    if plan.kind == "office":
        return g.office_suite_app(**common)
    if plan.kind == "edge":
        return g.edge_app(**common)
    if plan.kind == "winget":
        return g.win_get_app(
            **named,
            package_identifier="9" + _characters(rng, _ALNUM, 11),
            run_as_account="system" if rng.random() < 0.7 else "user",
        )
    if plan.kind == "appx":
        return g.appx_app(
            **named,
            file_name=f"{package}.msixbundle",
            size=rng.randrange(100_000, 200_000_000),
            identity_name=f"{facts.publisher.replace(' ', '')}.{package}",
            identity_version=f"{facts.display_version}.0",
        )
    if plan.kind == "storeForBusiness":
        return g.store_for_business_app(
            **named,
            product_key="9" + _characters(rng, _ALNUM, 11) + "/0010",
            package_identity_name=f"{facts.publisher.replace(' ', '')}.{package}",
        )
    if plan.kind == "ios":
        return g.ios_store_app(
            **{key: value for key, value in named.items() if key != "description"},
            bundle_id=f"com.{facts.publisher.replace(' ', '').lower()}.{package.lower()}",
            app_store_url=f"https://apps.apple.com/us/app/id{rng.randrange(10**8, 10**10)}",
        )
    return g.android_managed_store_app(
        **{key: value for key, value in named.items() if key != "description"},
        package_id=f"com.{facts.publisher.replace(' ', '').lower()}.{package.lower()}",
    )


def _mobile_apps(
    rng: random.Random, count: int, targets: _GroupTargets, filter_ids: Sequence[str]
) -> list[JsonObject]:
    plans = _plan_apps(rng, count)
    relationships = _relate_win32_apps(rng, [p.facts for p in plans if p.kind == "win32"])
    return [
        _app(plan, rng, _app_assignments(rng, plan.kind, targets, filter_ids), relationships)
        for plan in plans
    ]


# --- policies ------------------------------------------------------------------------------------


def _configuration_settings(rng: random.Random) -> list[JsonObject]:
    library_size = len(_CHOICE_SETTINGS) + len(_INTEGER_SETTINGS)
    count = rng.randrange(0, min(MAX_SETTINGS_PER_POLICY, library_size) + 1)
    instances = []
    for index in sorted(rng.sample(range(library_size), count)):
        if index < len(_CHOICE_SETTINGS):
            definition_id = _CHOICE_SETTINGS[index]
            instances.append(
                g.choice_setting_instance(definition_id, f"{definition_id}_{rng.randrange(2)}")
            )
        else:
            definition_id, low, high = _INTEGER_SETTINGS[index - len(_CHOICE_SETTINGS)]
            instances.append(g.integer_setting_instance(definition_id, rng.randint(low, high)))
    return g.policy_settings(instances)


def _settings_catalog_policies(
    rng: random.Random, count: int, targets: _GroupTargets, filter_ids: Sequence[str]
) -> list[JsonObject]:
    policies = []
    for index in range(count):
        policy_id = _guid(rng)
        policies.append(
            g.configuration_policy(
                policy_id=policy_id,
                name=f"Settings catalog {index:04d}",
                description="Synthetic settings catalog policy",
                created=_intune_time(rng),
                last_modified=_intune_time(rng),
                settings=_configuration_settings(rng),
                assignments=[
                    g.configuration_policy_assignment(policy_id, target)
                    for target in targets.targets(rng.randrange(0, 4), filter_ids=filter_ids)
                ],
            )
        )
    return policies


_SKIP_USER_STATUS_PAGE_URI: Final = (
    "./Vendor/MSFT/DMClient/Provider/MS DM Server/FirstSyncStatus/SkipUserStatusPage"
)


def _configuration_type_and_fields(rng: random.Random, index: int) -> tuple[str, JsonObject]:
    kind = index % 4
    if kind == 0:
        return "#microsoft.graph.windows10GeneralConfiguration", {
            "microsoftAccountSignInAssistantSettings": "notConfigured",
            "cameraBlocked": rng.random() < 0.2,
            "cortanaBlocked": rng.random() < 0.5,
        }
    if kind == 1:
        return "#microsoft.graph.windows10EndpointProtectionConfiguration", {
            "bitLockerEncryptDevice": True,
            "appLockerApplicationControl": "notConfigured",
            "localSecurityOptionsLogOnMessageTitle": None,
            "localSecurityOptionsLogOnMessageText": None,
        }
    if kind == 2:
        return "#microsoft.graph.windowsUpdateForBusinessConfiguration", {
            "qualityUpdatesDeferralPeriodInDays": rng.choice((0, 3, 7, 14)),
            "featureUpdatesDeferralPeriodInDays": 0,
            "automaticUpdateMode": "autoInstallAtMaintenanceTime",
        }
    return "#microsoft.graph.windowsDomainJoinConfiguration", {
        "computerNameStaticPrefix": f"HJ{index % 1000:03d}-",
        "computerNameSuffixRandomCharCount": 8,
        "activeDirectoryDomainName": "corp.contoso.com",
        "organizationalUnit": f"OU=Site{index % 50:02d},OU=Workstations,DC=corp,DC=contoso,DC=com",
    }


def _device_configuration(rng: random.Random, index: int, configuration_id: str) -> JsonObject:
    """A configuration without assignments; the caller adds them."""
    created = _intune_time(rng)
    if index % 5 == 0:
        oma_uri = (
            _SKIP_USER_STATUS_PAGE_URI
            if rng.random() < 0.05
            else f"./Device/Vendor/MSFT/Policy/Config/Synthetic/Setting{index:05d}"
        )
        return g.custom_configuration(
            configuration_id=configuration_id,
            display_name=f"Custom OMA-URI {index:05d}",
            description="Synthetic custom profile",
            created=created,
            last_modified=created,
            oma_settings=[
                g.oma_setting_boolean(f"Setting {index}", "", oma_uri, True),
                # Every other custom profile also carries a string value, which Graph reads
                # back encrypted.
                *(
                    [
                        g.oma_setting_string(
                            f"Text {index}",
                            "",
                            f"./Device/Vendor/MSFT/Policy/Config/Synthetic/Text{index:05d}",
                            f"Synthetic value {index}",
                            configuration_id=configuration_id,
                        )
                    ]
                    if index % 10 == 0
                    else []
                ),
            ],
            assignments=[],
        )
    odata_type, fields = _configuration_type_and_fields(rng, index)
    return {
        **g.device_configuration_base(
            odata_type=odata_type,
            configuration_id=configuration_id,
            display_name=f"Device configuration {index:05d}",
            description="Synthetic device configuration",
            created=created,
            last_modified=created,
            assignments=[],
        ),
        **fields,
    }


def _device_configurations(
    rng: random.Random, count: int, targets: _GroupTargets, filter_ids: Sequence[str]
) -> list[JsonObject]:
    configurations = []
    for index in range(count):
        configuration = _device_configuration(rng, index, _guid(rng))
        configuration["assignments"] = [
            g.device_configuration_assignment(configuration["id"], target)
            for target in targets.targets(rng.randrange(0, 4), filter_ids=filter_ids)
        ]
        configurations.append(configuration)
    return configurations


def _platform_scripts(rng: random.Random, count: int, targets: _GroupTargets) -> list[JsonObject]:
    scripts = []
    for index in range(count):
        script_id = _guid(rng)
        created = _intune_time(rng)
        scripts.append(
            g.platform_script(
                script_id=script_id,
                display_name=f"Platform script {index:04d}",
                description="Synthetic platform script",
                file_name=f"Script-{index:04d}.ps1",
                script_content_base64="V3JpdGUtT3V0cHV0ICJPSyIK",  # Write-Output "OK"
                run_as_account="system" if rng.random() < 0.8 else "user",
                created=created,
                last_modified=created,
                # Filters do not apply to platform scripts.
                assignments=[
                    g.script_assignment(script_id, target)
                    for target in targets.targets(rng.randrange(0, 3), filter_ids=())
                ],
            )
        )
    return scripts


def _compliance_policies(
    rng: random.Random, count: int, targets: _GroupTargets, filter_ids: Sequence[str]
) -> list[JsonObject]:
    policies = []
    for index in range(count):
        policy_id = _guid(rng)
        created = _intune_time(rng)
        policies.append(
            {
                "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
                "id": policy_id,
                "roleScopeTagIds": ["0"],
                "createdDateTime": created,
                "description": "Synthetic compliance policy",
                "lastModifiedDateTime": created,
                "displayName": f"Compliance policy {index:03d}",
                "version": 1,
                "osMinimumVersion": "10.0.19045",
                "bitLockerEnabled": rng.random() < 0.7,
                "secureBootEnabled": rng.random() < 0.7,
                "codeIntegrityEnabled": rng.random() < 0.7,
                "tpmRequired": rng.random() < 0.5,
                "assignments": [
                    g.compliance_policy_assignment(policy_id, target)
                    for target in targets.targets(rng.randrange(0, 3), filter_ids=filter_ids)
                ],
                "scheduledActionsForRule": g.block_after_grace_period(
                    rule_id=_guid(rng),
                    action_id=_guid(rng),
                    grace_period_hours=rng.choice((0, 12, 24, 72)),
                ),
            }
        )
    return policies


def _enrollment_configurations(
    rng: random.Random,
    count: int,
    tenant_id: str,
    targets: _GroupTargets,
    win32_app_ids: Sequence[str],
) -> list[JsonObject]:
    """The tenant's default ESP first (Intune always has one), then custom ESPs."""
    configurations = []
    for index in range(count):
        created = _intune_time(rng)
        if index == 0:
            configuration_id = f"{tenant_id}_DefaultWindows10EnrollmentCompletionPageConfiguration"
            configurations.append(
                g.enrollment_status_page(
                    configuration_id=configuration_id,
                    display_name="All users and all devices",
                    description="Default enrollment status page",
                    priority=0,
                    created=created,
                    last_modified=created,
                    selected_app_ids=[],
                    timeout_minutes=60,
                    assignments=[
                        g.enrollment_configuration_assignment(
                            configuration_id, g.all_devices_target()
                        )
                    ],
                    default=True,
                    show_installation_progress=False,
                )
            )
            continue
        configuration_id = _guid(rng)
        blocking = rng.sample(win32_app_ids, min(len(win32_app_ids), rng.randrange(0, 8)))
        group_id = targets.device_group()
        configurations.append(
            g.enrollment_status_page(
                configuration_id=configuration_id,
                display_name=f"Enrollment status page {index:03d}",
                description="Synthetic ESP",
                priority=index,
                created=created,
                last_modified=created,
                selected_app_ids=blocking,
                timeout_minutes=rng.choice((60, 90, 120, 180)),
                assignments=(
                    []
                    if group_id is None
                    else [
                        g.enrollment_configuration_assignment(
                            configuration_id, g.group_target(group_id)
                        )
                    ]
                ),
            )
        )
    return configurations


def _assignment_filters(rng: random.Random, count: int) -> list[JsonObject]:
    filters = []
    for index in range(count):
        hardware = _HARDWARE[index % len(_HARDWARE)]
        created = _intune_time(rng)
        filters.append(
            g.assignment_filter(
                filter_id=_guid(rng),
                display_name=f"Filter {index:03d} - {hardware.model}",
                description="Synthetic assignment filter",
                rule=f'(device.model -eq "{hardware.model}")',
                created=created,
                last_modified=created,
            )
        )
    return filters


# --- leftover groups ------------------------------------------------------------------------------


def _reference_leftover_groups(
    leftovers: Sequence[str],
    assignable: Sequence[tuple[JsonObject, Callable[[str, JsonObject], JsonObject]]],
) -> None:
    """Give every group nothing referenced yet an assignment, round-robin over the objects."""
    if leftovers and not assignable:
        raise ValueError(
            "groups must be referenced by assignments: generate at least one assignable object"
        )
    for index, group_id in enumerate(leftovers):
        owner, make_assignment = assignable[index % len(assignable)]
        owner["assignments"].append(make_assignment(owner["id"], g.group_target(group_id)))
        if "isAssigned" in owner:
            owner["isAssigned"] = True


def _available_app_assignment(_app_id: str, target: JsonObject) -> JsonObject:
    return g.app_assignment(target, intent="available", settings=None)


# --- the tenant ----------------------------------------------------------------------------------


def _tenant_policies(rng: random.Random) -> dict[str, list[JsonObject]]:
    break_glass = [_guid(rng), _guid(rng)]
    return {
        paths.MDM_POLICIES: [g.intune_mdm_policy(applies_to="all")],
        paths.DEVICE_REGISTRATION_POLICY: [g.device_registration_policy(user_device_quota=50)],
        paths.CONDITIONAL_ACCESS_POLICIES: [
            g.conditional_access_policy(
                policy_id=_guid(rng),
                display_name="Require MFA for all users",
                created=_entra_time(rng),
                include_applications=["All"],
                exclude_applications=[g.INTUNE_ENROLLMENT_APP_ID, g.INTUNE_APP_ID],
                exclude_users=break_glass,
                built_in_controls=["mfa"],
            ),
            g.conditional_access_policy(
                policy_id=_guid(rng),
                display_name="Require compliant device for Office 365",
                created=_entra_time(rng),
                include_applications=["Office365"],
                exclude_applications=[],
                exclude_users=break_glass,
                built_in_controls=["compliantDevice"],
            ),
        ],
    }


# The large synthetic tenant the benchmarks measure (generate_tenant's defaults, by name).
LARGE_TENANT: Final = {
    "apps": 2000,
    "device_configurations": 1000,
    "settings_policies": 300,
    "scripts": 200,
    "enrollment_configurations": 50,
    "profiles": 30,
    "devices": 20000,
    "groups": 5000,
}

# The largest tenant Greenscreen must handle: 100,000 devices, 5,000 apps, 20,000 groups (the
# other collections at the defaults).
#     python -m samples.synthetic --out huge.json --devices 100000 --apps 5000 --groups 20000
ENTERPRISE_TENANT: Final = {**LARGE_TENANT, "apps": 5000, "devices": 100000, "groups": 20000}


def generate_tenant(
    *,
    apps: int = 2000,
    device_configurations: int = 1000,
    settings_policies: int = 300,
    scripts: int = 200,
    enrollment_configurations: int = 50,
    profiles: int = 30,
    groups: int = 5000,
    devices: int = 20000,
    compliance_policies: int = 20,
    filters: int = 20,
    seed: int = 0,
) -> JsonObject:
    """A synthetic tenant snapshot with exactly the requested number of objects per collection.

    Every count may be 0. Groups must be referenced, so `groups > 0` needs at least one
    assignable object (app, configuration, policy, script or enrollment configuration);
    otherwise this raises ValueError.
    """
    counts = {
        "apps": apps,
        "device_configurations": device_configurations,
        "settings_policies": settings_policies,
        "scripts": scripts,
        "enrollment_configurations": enrollment_configurations,
        "profiles": profiles,
        "groups": groups,
        "devices": devices,
        "compliance_policies": compliance_policies,
        "filters": filters,
    }
    negative = sorted(name for name, value in counts.items() if value < 0)
    if negative:
        raise ValueError(f"counts cannot be negative: {', '.join(negative)}")

    rng = random.Random(seed)
    tenant_id = str(uuid.uuid5(_NAMESPACE, f"tenant:{seed}"))
    group_plans = _plan_groups(rng, groups)
    targets = _GroupTargets(random.Random(rng.getrandbits(64)), group_plans)
    registrations = _registrations(rng, devices, group_plans)

    filter_objects = _assignment_filters(rng, filters)
    filter_ids = [f["id"] for f in filter_objects]
    profile_objects = _profiles(rng, profiles, targets)
    device_pairs = [_device_pair(device, rng, profile_objects) for device in registrations]
    app_objects = _mobile_apps(rng, apps, targets, filter_ids)
    win32_ids = [a["id"] for a in app_objects if a["@odata.type"] == "#microsoft.graph.win32LobApp"]
    configuration_objects = _device_configurations(rng, device_configurations, targets, filter_ids)
    policy_objects = _settings_catalog_policies(rng, settings_policies, targets, filter_ids)
    script_objects = _platform_scripts(rng, scripts, targets)
    compliance_objects = _compliance_policies(rng, compliance_policies, targets, filter_ids)
    enrollment_objects = _enrollment_configurations(
        rng, enrollment_configurations, tenant_id, targets, win32_ids
    )

    assignable: list[tuple[JsonObject, Callable[[str, JsonObject], JsonObject]]] = [
        *((app, _available_app_assignment) for app in app_objects),
        *((c, g.device_configuration_assignment) for c in configuration_objects),
        *((p, g.configuration_policy_assignment) for p in policy_objects),
        *((s, g.script_assignment) for s in script_objects),
        *((c, g.compliance_policy_assignment) for c in compliance_objects),
        *((e, g.enrollment_configuration_assignment) for e in enrollment_objects[1:]),
    ]
    _reference_leftover_groups(targets.unreferenced(), assignable)

    entra_object_ids = [device.entra_object_id for device in registrations]
    group_objects = [_build_group(plan, rng, entra_object_ids) for plan in group_plans]

    return g.tenant_snapshot(
        tenant_id=tenant_id,
        captured_at=CAPTURED_AT,
        collections={
            paths.AUTOPILOT_PROFILES: profile_objects,
            paths.AUTOPILOT_DEVICES: [autopilot for autopilot, _ in device_pairs],
            paths.ENROLLMENT_CONFIGURATIONS: enrollment_objects,
            paths.DEVICE_CONFIGURATIONS: configuration_objects,
            paths.SETTINGS_CATALOG_POLICIES: policy_objects,
            paths.PLATFORM_SCRIPTS: script_objects,
            paths.COMPLIANCE_POLICIES: compliance_objects,
            paths.ASSIGNMENT_FILTERS: filter_objects,
            paths.DOMAIN_JOIN_CONNECTORS: [
                g.domain_join_connector(
                    connector_id=str(uuid.uuid5(_NAMESPACE, f"connector:{seed}:{index}")),
                    display_name=f"ODJ{index + 1:02d}",
                    last_connection="2026-11-24T08:50:00.0000000Z",
                    state="active",
                    version="6.2504.2001.8",
                )
                for index in range(2)
            ],
            paths.MOBILE_APPS: app_objects,
            paths.GROUPS: group_objects,
            paths.DEVICES: [entra for _, entra in device_pairs],
            **_tenant_policies(rng),
        },
    )


# --- command line --------------------------------------------------------------------------------

COUNT_PARAMETERS: Final = tuple(
    name for name in inspect.signature(generate_tenant).parameters if name != "seed"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m samples.synthetic",
        description="Write a deterministic synthetic tenant snapshot.",
    )
    parser.add_argument("--out", type=Path, required=True, help="snapshot file to write")
    defaults = inspect.signature(generate_tenant).parameters
    for name in COUNT_PARAMETERS:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=defaults[name].default,
            metavar="N",
            help=f"number of {name.replace('_', ' ')} (default %(default)s)",
        )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    parser.add_argument(
        "--indent",
        type=int,
        default=None,
        metavar="N",
        help="pretty-print with N spaces (default: compact, one line)",
    )
    arguments = parser.parse_args(argv)
    options = {name: getattr(arguments, name) for name in COUNT_PARAMETERS}
    try:
        tenant = generate_tenant(**options, seed=arguments.seed)
    except ValueError as error:
        parser.error(str(error))
    arguments.out.write_text(
        g.render_snapshot_json(tenant, indent=arguments.indent), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
