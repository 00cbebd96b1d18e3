"""Build the bundled Contoso sample tenant (`samples/contoso-sample.json`).

A mostly healthy pre-provisioning tenant with a handful of realistic breaks for the demo; the
breaks and the rules they should trigger are listed in samples/README.md. Every id is a uuid5 of
a readable name and every "random" choice comes from a fixed seed, so the file is the same on
every run and a test holds it to this builder.

    python -m samples.build_sample            # rewrite samples/contoso-sample.json
    python -m samples.build_sample --check    # exit 1 when the committed file has drifted
"""

import argparse
import base64
import random
import sys
import uuid
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from rules import tenant_collections as paths
from samples import graph_shapes as g
from samples.graph_shapes import Hardware, JsonObject, RegisteredDevice

SAMPLE_PATH: Final = Path(__file__).with_name("contoso-sample.json")
CAPTURED_AT: Final = "2026-11-24T09:00:00Z"

_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://greenscreen.dev/samples/contoso")


def sample_id(kind: str, name: str) -> str:
    """A stable GUID for a named sample object."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}"))


TENANT_ID: Final = sample_id("tenant", "contoso.onmicrosoft.com")


def intune_time(moment: str) -> str:
    """Intune timestamps carry seven fractional digits; derive them so they stay stable."""
    return f"{moment}.{zlib.crc32(moment.encode()) % 10_000_000:07d}Z"


def entra_time(moment: str) -> str:
    return f"{moment}Z"


def _user_id(user_principal_name: str) -> str:
    return sample_id("user", user_principal_name)


# --- groups --------------------------------------------------------------------------------------

AP_ALL_DEVICES: Final = sample_id("group", "Autopilot - All devices")
AP_SALES_DEVICES: Final = sample_id("group", "Autopilot - Sales devices")
AP_HYBRID_DEVICES: Final = sample_id("group", "Autopilot - Hybrid join devices")
SALES_USERS: Final = sample_id("group", "Sales - All users")
FINANCE_USERS: Final = sample_id("group", "Finance - Accounting users")
UPDATE_PILOT_DEVICES: Final = sample_id("group", "Windows Update - Pilot devices")
COMANAGED_WORKSTATIONS: Final = sample_id("group", "ConfigMgr - Co-managed workstations")
# Deleted from Entra ID; one update ring still targets it (GRP-006).
DELETED_LAB_DEVICES: Final = sample_id("group", "Autopilot - Lab devices")

SALES_GROUP_TAG: Final = "Sales"
HYBRID_PURCHASE_ORDER: Final = "4500012345"

FINANCE_USER_PRINCIPAL_NAMES: Final = (
    "johanna.lorenz@contoso.com",
    "lidia.holloway@contoso.com",
    "nestor.wilke@contoso.com",
    "patti.fernandez@contoso.com",
)
# Workstations imaged by Configuration Manager long before Autopilot; not Autopilot devices.
COMANAGED_WORKSTATION_NAMES: Final = ("CTSO-WS-0112", "CTSO-WS-0147", "CTSO-WS-0203")


def _groups(pilot_device_object_ids: Sequence[str]) -> list[JsonObject]:
    return [
        g.dynamic_group(
            group_id=AP_ALL_DEVICES,
            display_name="Autopilot - All devices",
            description="All Windows Autopilot registered devices",
            membership_rule=g.ztd_id_rule(),
            created=entra_time("2024-03-04T08:12:40"),
        ),
        g.dynamic_group(
            group_id=AP_SALES_DEVICES,
            display_name="Autopilot - Sales devices",
            description=f"Autopilot devices with group tag {SALES_GROUP_TAG}",
            membership_rule=g.order_id_rule(SALES_GROUP_TAG),
            created=entra_time("2025-02-17T13:05:09"),
            # Paused during a directory clean-up and never resumed (GRP-002).
            processing_state="Paused",
        ),
        g.dynamic_group(
            group_id=AP_HYBRID_DEVICES,
            display_name="Autopilot - Hybrid join devices",
            description=f"Autopilot devices from purchase order {HYBRID_PURCHASE_ORDER} "
            "(manufacturing floor, joined to corp.contoso.com)",
            membership_rule=g.purchase_order_rule(HYBRID_PURCHASE_ORDER),
            created=entra_time("2025-06-02T09:48:33"),
        ),
        g.dynamic_group(
            group_id=SALES_USERS,
            display_name="Sales - All users",
            description="Everyone in the Sales department",
            membership_rule='(user.department -eq "Sales")',
            created=entra_time("2023-11-08T15:21:02"),
        ),
        g.assigned_group(
            group_id=FINANCE_USERS,
            display_name="Finance - Accounting users",
            description="Accounting team (drive mappings, Citrix)",
            created=entra_time("2023-11-08T15:24:47"),
            members=[g.user_member(_user_id(upn)) for upn in FINANCE_USER_PRINCIPAL_NAMES],
        ),
        g.assigned_group(
            group_id=UPDATE_PILOT_DEVICES,
            display_name="Windows Update - Pilot devices",
            description="IT devices that take Windows quality updates first",
            created=entra_time("2024-04-15T07:55:16"),
            members=[g.device_member(object_id) for object_id in pilot_device_object_ids],
        ),
        g.assigned_group(
            group_id=COMANAGED_WORKSTATIONS,
            display_name="ConfigMgr - Co-managed workstations",
            description="Existing Configuration Manager clients moving to co-management",
            created=entra_time("2024-01-22T10:03:58"),
            members=[
                g.device_member(sample_id("legacy-device", name))
                for name in COMANAGED_WORKSTATION_NAMES
            ],
        ),
    ]


# --- assignment filters --------------------------------------------------------------------------

SURFACE_FILTER: Final = sample_id("filter", "Windows - Surface devices")
VIRTUAL_MACHINE_FILTER: Final = sample_id("filter", "Windows - Virtual machines")


def _assignment_filters() -> list[JsonObject]:
    return [
        g.assignment_filter(
            filter_id=SURFACE_FILTER,
            display_name="Windows - Surface devices",
            description="Microsoft Surface hardware",
            rule='(device.manufacturer -eq "Microsoft Corporation") and '
            '(device.model -startsWith "Surface")',
            created=intune_time("2024-05-06T11:20:41"),
            last_modified=intune_time("2024-05-06T11:20:41"),
        ),
        g.assignment_filter(
            filter_id=VIRTUAL_MACHINE_FILTER,
            display_name="Windows - Virtual machines",
            description="Hyper-V and other virtual machines",
            rule='(device.model -eq "Virtual Machine")',
            created=intune_time("2024-05-06T11:24:03"),
            last_modified=intune_time("2024-09-30T14:02:19"),
        ),
    ]


# --- Autopilot deployment profiles ---------------------------------------------------------------

MAIN_PROFILE_ID: Final = sample_id("profile", "Contoso - Entra join (pre-provisioning)")
SALES_PROFILE_ID: Final = sample_id("profile", "Contoso Sales - Entra join")
HYBRID_PROFILE_ID: Final = sample_id("profile", "Contoso - Hybrid join (manufacturing)")


def _autopilot_profiles() -> list[JsonObject]:
    return [
        g.autopilot_profile(
            odata_type=g.ENTRA_JOIN_PROFILE,
            profile_id=MAIN_PROFILE_ID,
            display_name="Contoso - Entra join (pre-provisioning)",
            description="User-driven Microsoft Entra join; partners pre-provision before shipping",
            created=intune_time("2024-03-04T08:31:17"),
            last_modified=intune_time("2026-04-27T12:44:05"),
            device_name_template="CTSO-%RAND:8%",
            preprovisioning_allowed=True,
            assignments=[
                g.profile_assignment(MAIN_PROFILE_ID, g.group_target(AP_ALL_DEVICES)),
                # Sales and hybrid devices have their own profiles.
                g.profile_assignment(MAIN_PROFILE_ID, g.exclusion_group_target(AP_SALES_DEVICES)),
                g.profile_assignment(MAIN_PROFILE_ID, g.exclusion_group_target(AP_HYBRID_DEVICES)),
            ],
        ),
        g.autopilot_profile(
            odata_type=g.ENTRA_JOIN_PROFILE,
            profile_id=SALES_PROFILE_ID,
            display_name="Contoso Sales - Entra join",
            description=f"Sales laptops (group tag {SALES_GROUP_TAG}), pre-provisioned by the "
            "reseller",
            created=intune_time("2025-02-17T13:12:50"),
            last_modified=intune_time("2026-03-02T09:18:27"),
            device_name_template="SALES-%RAND:6%",
            preprovisioning_allowed=True,
            assignments=[
                g.profile_assignment(SALES_PROFILE_ID, g.group_target(AP_SALES_DEVICES)),
            ],
        ),
        g.autopilot_profile(
            odata_type=g.HYBRID_JOIN_PROFILE,
            profile_id=HYBRID_PROFILE_ID,
            display_name="Contoso - Hybrid join (manufacturing)",
            description="Manufacturing floor PCs that still need Active Directory",
            created=intune_time("2025-06-02T10:02:14"),
            last_modified=intune_time("2025-06-02T10:02:14"),
            # Hybrid profiles name devices through the domain join profile instead.
            device_name_template="",
            preprovisioning_allowed=True,
            assignments=[
                g.profile_assignment(HYBRID_PROFILE_ID, g.group_target(AP_HYBRID_DEVICES)),
            ],
        ),
    ]


# --- Autopilot devices and their Entra objects ---------------------------------------------------

_SURFACE: Final = Hardware(
    "Microsoft Corporation", "Surface Laptop 6 for Business", "Surface", "Surface_Laptop_6_2037"
)
_THINKPAD: Final = Hardware(
    "LENOVO",
    "21MLS0L600",
    "ThinkPad T14 Gen 5",
    "LENOVO_MT_21ML_BU_Think_FM_ThinkPad T14 Gen 5",
)
_LATITUDE: Final = Hardware("Dell Inc.", "Latitude 7450", "Latitude", "0C7A")
_ELITEBOOK: Final = Hardware(
    "HP", "HP EliteBook 840 14 inch G11 Notebook PC", "103C_5336AN HP EliteBook", "A26S0EA#ABD"
)
_OPTIPLEX: Final = Hardware("Dell Inc.", "OptiPlex Micro Plus 7020", "OptiPlex", "0C64")
_HYPER_V_VM: Final = Hardware("Microsoft Corporation", "Virtual Machine", "Virtual Machine", "None")

_MAIN_HARDWARE: Final = (_SURFACE, _THINKPAD, _LATITUDE, _ELITEBOOK)

ASSIGNED_USERS: Final = (
    "adele.vance@contoso.com",
    "alex.wilber@contoso.com",
    "diego.siciliani@contoso.com",
    "grady.archie@contoso.com",
    "henrietta.mueller@contoso.com",
)

# Indexes into the main batch for the deliberate device problems.
REMEDIATION_DEVICE_INDEX: Final = 3  # motherboard replaced, hash not re-uploaded (DEV-004)
NOT_ASSIGNED_DEVICE_INDEX: Final = 28  # imported yesterday, profile not assigned yet (DEV-001)
VIRTUAL_MACHINE_INDEX: Final = 29  # IT's Hyper-V test VM (DEV-008)
_ENROLLED_COUNT: Final = 10
_MAIN_COUNT: Final = 30
_SALES_COUNT: Final = 6
_HYBRID_COUNT: Final = 4
PILOT_DEVICE_INDEXES: Final = (0, 1, 2, 4)


def _serial_number(hardware: Hardware, rng: random.Random) -> str:
    def characters(alphabet: str, count: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(count))

    digits = "0123456789"
    alnum = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    if hardware is _HYPER_V_VM:
        # Hyper-V serials are seven dash-separated groups of digits.
        return "-".join(characters(digits, 4) for _ in range(6)) + "-" + characters(digits, 2)
    if hardware.manufacturer == "Microsoft Corporation":
        return characters(digits, 12)
    if hardware.manufacturer == "LENOVO":
        return "PF" + characters(alnum, 6)
    if hardware.manufacturer == "HP":
        return "5CG" + characters(digits, 4) + characters(alnum, 3)
    return characters(alnum, 7)


def _computer_name(prefix: str, length: int, rng: random.Random) -> str:
    return prefix + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(length))


def _registered_device(
    name: str,
    hardware: Hardware,
    group_tag: str,
    purchase_order: str,
    registered: str,
    rng: random.Random,
) -> RegisteredDevice:
    return RegisteredDevice(
        autopilot_id=sample_id("autopilot-device", name),
        serial_number=_serial_number(hardware, rng),
        hardware=hardware,
        group_tag=group_tag,
        purchase_order=purchase_order,
        entra_object_id=sample_id("entra-device", name),
        entra_device_id=sample_id("entra-device-id", name),
        hardware_hash_id=str(rng.randrange(10**15, 10**16)),
        registered=entra_time(registered),
    )


def _devices(
    profiles: Sequence[JsonObject],
) -> tuple[list[JsonObject], list[JsonObject], list[str]]:
    """Autopilot devices, their Entra devices, and the Entra object ids of the pilot devices."""
    rng = random.Random(20261124)
    main, sales, hybrid = profiles
    autopilot_devices: list[JsonObject] = []
    entra_devices: list[JsonObject] = []
    pilot_object_ids: list[str] = []

    for index in range(_MAIN_COUNT):
        name = f"main-{index:02d}"
        enrolled = index < _ENROLLED_COUNT
        hardware = _HYPER_V_VM if index == VIRTUAL_MACHINE_INDEX else _MAIN_HARDWARE[index % 4]
        if enrolled:
            registered = f"2026-05-{12 + index // 4:02d}T10:{index * 3:02d}:41"
        elif index == NOT_ASSIGNED_DEVICE_INDEX:
            registered = "2026-11-23T16:40:12"
        elif index == VIRTUAL_MACHINE_INDEX:
            registered = "2026-11-18T13:02:55"
        else:
            registered = f"2026-10-{20 + index % 3:02d}T08:{index:02d}:17"
        device = _registered_device(name, hardware, "", "", registered, rng)
        assigned_at = intune_time(registered[:11] + "11:05:33")

        if enrolled:
            computer_name = _computer_name("CTSO-", 8, rng)
            autopilot_devices.append(
                g.autopilot_device(
                    device,
                    profile=main,
                    assignment_status="assignedInSync",
                    assigned_at=assigned_at,
                    enrollment_state="enrolled",
                    managed_device_id=sample_id("managed-device", name),
                    display_name=computer_name,
                    user_principal_name=ASSIGNED_USERS[index]
                    if index < len(ASSIGNED_USERS)
                    else "",
                    remediation_state=(
                        "manualRemediationRequired"
                        if index == REMEDIATION_DEVICE_INDEX
                        else "noRemediationRequired"
                    ),
                    last_contacted=intune_time(f"2026-11-{17 + index % 7:02d}T07:4{index}:08"),
                )
            )
            entra_devices.append(
                g.entra_device(
                    device, display_name=computer_name, operating_system_version="10.0.26100.4652"
                )
            )
            if index in PILOT_DEVICE_INDEXES:
                pilot_object_ids.append(device.entra_object_id)
            continue

        not_assigned = index == NOT_ASSIGNED_DEVICE_INDEX
        autopilot_devices.append(
            g.autopilot_device(
                device,
                profile=None if not_assigned else main,
                assignment_status="notAssigned" if not_assigned else "assignedInSync",
                assigned_at=None if not_assigned else assigned_at,
            )
        )
        entra_devices.append(
            g.entra_device(
                device,
                display_name=device.serial_number,
                operating_system_version="10.0.26100.1742",
            )
        )

    for index in range(_SALES_COUNT):
        registered = f"2026-09-08T14:{10 + index:02d}:29"
        device = _registered_device(
            f"sales-{index:02d}", _SURFACE, SALES_GROUP_TAG, "", registered, rng
        )
        autopilot_devices.append(
            g.autopilot_device(
                device,
                profile=sales,
                assignment_status="assignedInSync",
                assigned_at=intune_time("2026-09-08T15:02:47"),
            )
        )
        entra_devices.append(
            g.entra_device(
                device,
                display_name=device.serial_number,
                operating_system_version="10.0.26100.1742",
            )
        )

    for index in range(_HYBRID_COUNT):
        registered = f"2026-11-02T09:{30 + index:02d}:05"
        device = _registered_device(
            f"hybrid-{index:02d}", _OPTIPLEX, "", HYBRID_PURCHASE_ORDER, registered, rng
        )
        autopilot_devices.append(
            g.autopilot_device(
                device,
                profile=hybrid,
                assignment_status="assignedInSync",
                assigned_at=intune_time("2026-11-02T10:14:22"),
            )
        )
        entra_devices.append(
            g.entra_device(
                device,
                display_name=device.serial_number,
                operating_system_version="10.0.26100.1742",
            )
        )

    return autopilot_devices, entra_devices, pilot_object_ids


# --- apps ----------------------------------------------------------------------------------------


def app_id(display_name: str) -> str:
    return sample_id("app", display_name)


M365_WIN32: Final = "Microsoft 365 Apps for enterprise (Win32)"
TEAMS: Final = "Microsoft Teams (work or school)"
ROOT_CERTIFICATES: Final = "Contoso Root Certificates"
ZOOM: Final = "Zoom Workplace"
SEVEN_ZIP: Final = "7-Zip 24.08 (x64)"
CHROME: Final = "Google Chrome Enterprise"
READER_NEW: Final = "Adobe Acrobat Reader (64-bit) 2025.001"
READER_OLD: Final = "Adobe Acrobat Reader DC 2023.008"
VC_REDIST: Final = "Microsoft Visual C++ 2015-2022 Redistributable (x64)"
DOTNET_RUNTIME: Final = ".NET Desktop Runtime 8.0.11 (x64)"
FIELD_SERVICES: Final = "Contoso Field Services 5.2"
CRM_CLIENT: Final = "Contoso CRM Client 3.4"
CITRIX: Final = "Citrix Workspace app 2409"
NOTEPAD_PLUS_PLUS: Final = "Notepad++ 8.7.1 (x64)"
VLC: Final = "VLC media player 3.0.21 (x64)"
PRINT_DRIVERS: Final = "Contoso Print Drivers 2026.03"
SURFACE_DOCK: Final = "Surface Dock 2 Firmware Update"
POWER_BI: Final = "Microsoft Power BI Desktop (x64)"
BRANDING: Final = "Contoso Branding and Wallpaper"
GLOBALPROTECT: Final = "GlobalProtect 6.2.4"
TIMESHEET_MSI: Final = "Contoso Timesheet 2.1"
COMPANY_PORTAL: Final = "Company Portal"
POWERTOYS: Final = "Microsoft PowerToys"
EXPENSES: Final = "Contoso Expenses"
TO_DO: Final = "Microsoft To Do: Lists, Tasks & Reminders"

# Blocking apps of the two custom ESPs (`selectedMobileAppIds`).
MAIN_ESP_BLOCKING_APPS: Final = (M365_WIN32, ROOT_CERTIFICATES, COMPANY_PORTAL, TEAMS, ZOOM)
SALES_ESP_BLOCKING_APPS: Final = (M365_WIN32, COMPANY_PORTAL, TEAMS)


def _required_for_autopilot_devices(
    *, filter_id: str | None = None, filter_type: str = "none"
) -> list[JsonObject]:
    return [
        g.app_assignment(
            g.group_target(AP_ALL_DEVICES, filter_id=filter_id, filter_type=filter_type),
            intent="required",
            settings=g.win32_assignment_settings(notifications="hideAll"),
        )
    ]


def _available_for_everyone(settings: JsonObject | None) -> list[JsonObject]:
    return [g.app_assignment(g.all_licensed_users_target(), intent="available", settings=settings)]


def _package_tag(package: str, version: str) -> g.Win32Detection:
    # Contoso's packaging template writes a tag key per package; detection reads it back.
    return g.registry_detection(
        rf"HKEY_LOCAL_MACHINE\SOFTWARE\Contoso\Packages\{package}", "Version", version
    )


def _psadt_win32_app(
    *,
    name: str,
    description: str,
    publisher: str,
    version: str,
    package: str,
    size: int,
    created: str,
    assignments: list[JsonObject],
    run_as_account: str = "system",
    max_run_time_minutes: int = 60,
    relationships: list[JsonObject] | None = None,
    dependent_app_count: int = 0,
    superseding_app_count: int = 0,
    superseded_app_count: int = 0,
) -> JsonObject:
    """A Win32 app wrapped in Contoso's PowerShell App Deployment Toolkit template."""
    return g.win32_app(
        app_id=app_id(name),
        display_name=name,
        description=description,
        publisher=publisher,
        display_version=version,
        file_name=f"{package}_{version}.intunewin",
        setup_file="Deploy-Application.exe",
        size=size,
        install_command_line="Deploy-Application.exe -DeploymentType Install -DeployMode Silent",
        uninstall_command_line="Deploy-Application.exe -DeploymentType Uninstall "
        "-DeployMode Silent",
        run_as_account=run_as_account,
        detections=[_package_tag(package, version)],
        created=intune_time(created),
        last_modified=intune_time(created),
        assignments=assignments,
        max_run_time_minutes=max_run_time_minutes,
        relationships=relationships,
        dependent_app_count=dependent_app_count,
        superseding_app_count=superseding_app_count,
        superseded_app_count=superseded_app_count,
    )


def _msi_win32_app(
    *,
    name: str,
    description: str,
    publisher: str,
    version: str,
    msi_file: str,
    product_name: str,
    size: int,
    created: str,
    assignments: list[JsonObject],
) -> JsonObject:
    product_code = "{" + sample_id("msi-product", name).upper() + "}"
    return g.win32_app(
        app_id=app_id(name),
        display_name=name,
        description=description,
        publisher=publisher,
        display_version=version,
        file_name=msi_file.removesuffix(".msi") + ".intunewin",
        setup_file=msi_file,
        size=size,
        install_command_line=f'msiexec /i "{msi_file}" /qn',
        uninstall_command_line=f"msiexec /x {product_code} /qn",
        run_as_account="system",
        detections=[g.msi_product_code_detection(product_code)],
        created=intune_time(created),
        last_modified=intune_time(created),
        assignments=assignments,
        msi=g.msi_information(
            product_code=product_code,
            product_version=version,
            upgrade_code="{" + sample_id("msi-upgrade", name).upper() + "}",
            product_name=product_name,
            publisher=publisher,
        ),
        max_run_time_minutes=30,
    )


def _facts(name: str, version: str, publisher: str) -> g.AppFacts:
    return g.AppFacts(app_id(name), name, version, publisher)


def _windows_apps() -> list[JsonObject]:
    reader_new = _facts(READER_NEW, "25.001.20432", "Adobe")
    reader_old = _facts(READER_OLD, "23.008.20470", "Adobe")
    on_new_reader, on_old_reader = g.supersedence_pair(
        reader_new, reader_old, supersedence_type="update"
    )
    field_services = _facts(FIELD_SERVICES, "5.2.0", "Contoso")
    field_services_dependencies = [
        g.dependency(
            field_services,
            _facts(VC_REDIST, "14.42.34433.0", "Microsoft"),
            dependency_type="autoInstall",
        ),
        g.dependency(
            field_services,
            _facts(DOTNET_RUNTIME, "8.0.11", "Microsoft"),
            dependency_type="autoInstall",
        ),
    ]

    return [
        g.win32_app(
            app_id=app_id(M365_WIN32),
            display_name=M365_WIN32,
            description="Microsoft 365 Apps (Current Channel, x64) packaged as Win32 so the ESP "
            "tracks it like every other app",
            publisher="Microsoft",
            display_version="16.0.18129.20158",
            file_name="setup.intunewin",
            setup_file="setup.exe",
            size=7_864_320,
            install_command_line="setup.exe /configure configuration-x64.xml",
            uninstall_command_line="setup.exe /configure uninstall.xml",
            run_as_account="system",
            detections=[
                g.registry_detection(
                    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Office\ClickToRun\Configuration",
                    "VersionToReport",
                    "16.0.18129.20158",
                )
            ],
            created=intune_time("2024-03-05T09:40:12"),
            last_modified=intune_time("2026-08-19T16:02:51"),
            assignments=_required_for_autopilot_devices(),
            max_run_time_minutes=60,
        ),
        _psadt_win32_app(
            name=TEAMS,
            description="New Microsoft Teams, provisioned machine-wide with teamsbootstrapper",
            publisher="Microsoft",
            version="25.1.0",
            package="MicrosoftTeams",
            size=4_296_704,
            created="2024-10-01T10:11:27",
            assignments=_required_for_autopilot_devices(),
            max_run_time_minutes=30,
        ),
        _psadt_win32_app(
            name=ROOT_CERTIFICATES,
            description="Contoso root and issuing CA certificates for the machine store",
            publisher="Contoso IT",
            version="2026.1",
            package="RootCertificates",
            size=48_128,
            created="2024-03-05T10:02:44",
            assignments=_required_for_autopilot_devices(),
            max_run_time_minutes=15,
        ),
        g.win32_app(
            app_id=app_id(ZOOM),
            display_name=ZOOM,
            description="Zoom Workplace, per-user installer",
            publisher="Zoom Video Communications, Inc.",
            display_version="6.2.11",
            file_name="ZoomInstallerFull.intunewin",
            setup_file="ZoomInstallerFull.exe",
            size=91_226_112,
            install_command_line="ZoomInstallerFull.exe /quiet /norestart",
            uninstall_command_line=r'"%APPDATA%\Zoom\uninstall\Installer.exe" /uninstall',
            # Per-user installer: needs a signed-in user, which the technician flow never has.
            run_as_account="user",
            detections=[g.file_detection(r"%APPDATA%\Zoom\bin", "Zoom.exe", "6.2.11")],
            created=intune_time("2025-09-15T13:37:09"),
            last_modified=intune_time("2026-10-28T08:15:30"),
            assignments=_required_for_autopilot_devices(),
            max_run_time_minutes=30,
        ),
        _msi_win32_app(
            name=SEVEN_ZIP,
            description="File archiver",
            publisher="Igor Pavlov",
            version="24.08.00.0",
            msi_file="7z2408-x64.msi",
            product_name="7-Zip 24.08 (x64 edition)",
            size=1_998_848,
            created="2024-11-04T12:20:35",
            assignments=_required_for_autopilot_devices(),
        ),
        _msi_win32_app(
            name=CHROME,
            description="Google Chrome for business",
            publisher="Google LLC",
            version="131.0.6778.86",
            msi_file="googlechromestandaloneenterprise64.msi",
            product_name="Google Chrome",
            size=121_548_800,
            created="2024-03-11T15:05:52",
            assignments=_required_for_autopilot_devices(),
        ),
        _psadt_win32_app(
            name=READER_NEW,
            description="Adobe Acrobat Reader, continuous track",
            publisher="Adobe",
            version="25.001.20432",
            package="AdobeReader",
            size=387_973_120,
            created="2026-10-06T09:12:03",
            assignments=_required_for_autopilot_devices(),
            relationships=[on_new_reader],
            superseding_app_count=1,
        ),
        _psadt_win32_app(
            name=READER_OLD,
            description="Adobe Acrobat Reader DC (superseded)",
            publisher="Adobe",
            version="23.008.20470",
            package="AdobeReaderDC",
            size=356_515_840,
            created="2024-03-11T15:30:17",
            # Assignments were moved to the superseding version.
            assignments=[],
            relationships=[on_old_reader],
            superseded_app_count=1,
        ),
        _psadt_win32_app(
            name=VC_REDIST,
            description="Runtime for Contoso Field Services; installed as a dependency only",
            publisher="Microsoft",
            version="14.42.34433.0",
            package="VCRedist2022x64",
            size=25_640_960,
            created="2025-01-20T08:47:39",
            assignments=[],
            max_run_time_minutes=15,
        ),
        _psadt_win32_app(
            name=DOTNET_RUNTIME,
            description="Runtime for Contoso Field Services; installed as a dependency only",
            publisher="Microsoft",
            version="8.0.11",
            package="DotNetDesktopRuntime8x64",
            size=57_671_680,
            created="2025-01-20T08:52:10",
            assignments=[],
            max_run_time_minutes=15,
        ),
        _psadt_win32_app(
            name=FIELD_SERVICES,
            description="Line-of-business client for field engineers",
            publisher="Contoso",
            version="5.2.0",
            package="ContosoFieldServices",
            size=148_897_792,
            created="2025-01-20T09:15:48",
            assignments=_required_for_autopilot_devices(),
            relationships=field_services_dependencies,
            dependent_app_count=len(field_services_dependencies),
        ),
        _psadt_win32_app(
            name=CRM_CLIENT,
            description="Contoso CRM desktop client",
            publisher="Contoso",
            version="3.4.2",
            package="ContosoCRM",
            size=64_487_424,
            created="2025-03-03T14:26:57",
            # Required for the Sales users only: arrives in the user flow, after reseal.
            assignments=[
                g.app_assignment(
                    g.group_target(SALES_USERS),
                    intent="required",
                    settings=g.win32_assignment_settings(),
                )
            ],
        ),
        _psadt_win32_app(
            name=CITRIX,
            description="Citrix Workspace app for the accounting Citrix farm",
            publisher="Cloud Software Group",
            version="24.9.0.133",
            package="CitrixWorkspace",
            size=289_406_976,
            created="2024-12-09T11:48:05",
            assignments=[
                g.app_assignment(
                    g.group_target(FINANCE_USERS),
                    intent="available",
                    settings=g.win32_assignment_settings(),
                )
            ],
        ),
        _msi_win32_app(
            name=NOTEPAD_PLUS_PLUS,
            description="Source code editor",
            publisher="Notepad++ Team",
            version="8.7.1",
            msi_file="npp.8.7.1.Installer.x64.msi",
            product_name="Notepad++ (64-bit x64)",
            size=6_291_456,
            created="2024-06-17T10:30:00",
            assignments=_available_for_everyone(g.win32_assignment_settings()),
        ),
        _msi_win32_app(
            name=VLC,
            description="Media player",
            publisher="VideoLAN",
            version="3.0.21",
            msi_file="vlc-3.0.21-win64.msi",
            product_name="VLC media player",
            size=44_040_192,
            created="2024-06-17T10:42:19",
            assignments=_available_for_everyone(g.win32_assignment_settings()),
        ),
        _psadt_win32_app(
            name=PRINT_DRIVERS,
            description="Drivers for the Contoso managed print fleet",
            publisher="Contoso IT",
            version="2026.03",
            package="PrintDrivers",
            size=210_763_776,
            created="2026-03-16T07:58:26",
            # Virtual machines print through the host; skip them.
            assignments=_required_for_autopilot_devices(
                filter_id=VIRTUAL_MACHINE_FILTER, filter_type="exclude"
            ),
            max_run_time_minutes=30,
        ),
        _psadt_win32_app(
            name=SURFACE_DOCK,
            description="Surface Dock 2 firmware for Surface laptops",
            publisher="Microsoft",
            version="1.0.2211",
            package="SurfaceDock2Firmware",
            size=11_534_336,
            created="2025-05-12T13:05:44",
            assignments=_required_for_autopilot_devices(
                filter_id=SURFACE_FILTER, filter_type="include"
            ),
            max_run_time_minutes=15,
        ),
        _psadt_win32_app(
            name=POWER_BI,
            description="Power BI Desktop",
            publisher="Microsoft",
            version="2.138.1452.0",
            package="PowerBIDesktop",
            size=628_097_024,
            created="2024-08-26T09:09:09",
            assignments=_available_for_everyone(g.win32_assignment_settings()),
        ),
        _psadt_win32_app(
            name=BRANDING,
            description="Lock screen, wallpaper and OEM information",
            publisher="Contoso IT",
            version="2026.2",
            package="Branding",
            size=9_437_184,
            created="2024-03-05T10:20:31",
            assignments=_required_for_autopilot_devices(),
            max_run_time_minutes=15,
        ),
        g.windows_msi_app(
            app_id=app_id(GLOBALPROTECT),
            display_name=GLOBALPROTECT,
            description="Palo Alto Networks GlobalProtect VPN, uploaded as a line-of-business MSI",
            publisher="Palo Alto Networks",
            file_name="GlobalProtect64-6.2.4.msi",
            size=134_217_728,
            product_code="{" + sample_id("msi-product", GLOBALPROTECT).upper() + "}",
            product_version="6.2.4",
            use_device_context=True,
            created=intune_time("2024-03-06T08:14:55"),
            last_modified=intune_time("2026-07-14T11:33:02"),
            # An LOB MSI next to the Win32 apps on the same devices: both use TrustedInstaller.
            assignments=[
                g.app_assignment(g.group_target(AP_ALL_DEVICES), intent="required", settings=None)
            ],
        ),
        g.windows_msi_app(
            app_id=app_id(TIMESHEET_MSI),
            display_name=TIMESHEET_MSI,
            description="Retired timesheet client, kept for reference",
            publisher="Contoso",
            file_name="ContosoTimesheet-2.1.msi",
            size=18_874_368,
            product_code="{" + sample_id("msi-product", TIMESHEET_MSI).upper() + "}",
            product_version="2.1.0",
            use_device_context=False,
            created=intune_time("2023-11-20T10:10:10"),
            last_modified=intune_time("2023-11-20T10:10:10"),
            assignments=[],
        ),
        g.office_suite_app(
            app_id=app_id("Microsoft 365 Apps for Windows 10 and later"),
            created=intune_time("2023-11-14T12:00:37"),
            last_modified=intune_time("2024-03-05T09:38:50"),
            assignments=_available_for_everyone(None),
        ),
        g.edge_app(
            app_id=app_id("Microsoft Edge for Windows 10 and later"),
            created=intune_time("2023-11-14T12:04:18"),
            last_modified=intune_time("2023-11-14T12:04:18"),
            assignments=[
                g.app_assignment(g.all_licensed_users_target(), intent="required", settings=None)
            ],
        ),
        g.win_get_app(
            app_id=app_id(COMPANY_PORTAL),
            display_name=COMPANY_PORTAL,
            description="Microsoft Intune Company Portal from the Microsoft Store",
            publisher="Microsoft Corporation",
            package_identifier="9WZDNCRFJ3PZ",
            run_as_account="system",
            created=intune_time("2024-03-05T09:31:26"),
            last_modified=intune_time("2024-03-05T09:31:26"),
            assignments=[
                g.app_assignment(
                    g.group_target(AP_ALL_DEVICES),
                    intent="required",
                    settings=g.win_get_assignment_settings(),
                )
            ],
        ),
        g.win_get_app(
            app_id=app_id(POWERTOYS),
            display_name=POWERTOYS,
            description="Utilities for power users",
            publisher="Microsoft Corporation",
            package_identifier="XP89DCGQ3K6VLD",
            run_as_account="user",
            created=intune_time("2025-04-07T15:51:12"),
            last_modified=intune_time("2025-04-07T15:51:12"),
            assignments=_available_for_everyone(g.win_get_assignment_settings()),
        ),
        g.appx_app(
            app_id=app_id(EXPENSES),
            display_name=EXPENSES,
            description="Expense reports (MSIX)",
            publisher="Contoso",
            file_name="Contoso.Expenses_3.1.0.0_x64.msixbundle",
            size=22_020_096,
            identity_name="Contoso.Expenses",
            identity_version="3.1.0.0",
            created=intune_time("2025-07-21T10:44:38"),
            last_modified=intune_time("2025-07-21T10:44:38"),
            assignments=_available_for_everyone(
                g.appx_assignment_settings(use_device_context=False)
            ),
        ),
        g.store_for_business_app(
            app_id=app_id(TO_DO),
            display_name=TO_DO,
            description="Microsoft To Do (synced from the retired Microsoft Store for Business)",
            publisher="Microsoft Corporation",
            product_key="9NBLGGH5R558/0010",
            package_identity_name="Microsoft.Todos",
            created=intune_time("2023-11-14T12:30:06"),
            last_modified=intune_time("2023-11-14T12:30:06"),
            assignments=_available_for_everyone(
                g.store_for_business_assignment_settings(use_device_context=False)
            ),
        ),
    ]


def _mobile_platform_apps() -> list[JsonObject]:
    def required_for_everyone(settings: JsonObject) -> list[JsonObject]:
        return [
            g.app_assignment(g.all_licensed_users_target(), intent="required", settings=settings)
        ]

    created = intune_time("2024-02-12T09:00:14")
    return [
        g.ios_store_app(
            app_id=app_id("Microsoft Outlook (iOS)"),
            display_name="Microsoft Outlook",
            publisher="Microsoft Corporation",
            bundle_id="com.microsoft.Office.Outlook",
            app_store_url="https://apps.apple.com/us/app/microsoft-outlook/id951937596",
            created=created,
            last_modified=created,
            assignments=required_for_everyone(g.ios_store_assignment_settings()),
        ),
        g.ios_store_app(
            app_id=app_id("Microsoft Teams (iOS)"),
            display_name="Microsoft Teams",
            publisher="Microsoft Corporation",
            bundle_id="com.microsoft.skype.teams",
            app_store_url="https://apps.apple.com/us/app/microsoft-teams/id1113153706",
            created=created,
            last_modified=created,
            assignments=required_for_everyone(g.ios_store_assignment_settings()),
        ),
        g.android_managed_store_app(
            app_id=app_id("Microsoft Outlook (Android)"),
            display_name="Microsoft Outlook",
            publisher="Microsoft Corporation",
            package_id="com.microsoft.office.outlook",
            created=created,
            last_modified=created,
            assignments=required_for_everyone(g.android_managed_store_assignment_settings()),
        ),
        g.android_managed_store_app(
            app_id=app_id("Microsoft Authenticator (Android)"),
            display_name="Microsoft Authenticator",
            publisher="Microsoft Corporation",
            package_id="com.azure.authenticator",
            created=created,
            last_modified=created,
            assignments=required_for_everyone(g.android_managed_store_assignment_settings()),
        ),
    ]


# --- enrollment configurations -------------------------------------------------------------------


def _enrollment_configurations() -> list[JsonObject]:
    # Intune names the built-in default configurations after the tenant.
    default_esp_id = f"{TENANT_ID}_DefaultWindows10EnrollmentCompletionPageConfiguration"
    default_restrictions_id = f"{TENANT_ID}_DefaultPlatformRestrictions"
    default_limit_id = f"{TENANT_ID}_DefaultLimit"
    default_hello_id = f"{TENANT_ID}_DefaultWindowsHelloForBusiness"
    main_esp_id = sample_id("enrollment", "Autopilot - Pre-provisioning ESP")
    sales_esp_id = sample_id("enrollment", "Autopilot - Sales devices ESP")
    comanagement_id = sample_id("enrollment", "Co-management Settings")
    tenant_created = intune_time("2023-11-14T11:52:03")

    def restriction(platform_blocked: bool, personal_blocked: bool) -> JsonObject:
        return {
            "@odata.type": "#microsoft.graph.deviceEnrollmentPlatformRestriction",
            "platformBlocked": platform_blocked,
            "personalDeviceEnrollmentBlocked": personal_blocked,
            "osMinimumVersion": None,
            "osMaximumVersion": None,
            "blockedManufacturers": [],
            "blockedSkus": [],
        }

    return [
        g.enrollment_status_page(
            configuration_id=default_esp_id,
            display_name="All users and all devices",
            description="This is the default enrollment status screen configuration applied "
            "with the lowest priority to all users and all devices regardless of group "
            "membership.",
            priority=0,
            created=tenant_created,
            last_modified=tenant_created,
            selected_app_ids=[],
            timeout_minutes=60,
            assignments=[
                g.enrollment_configuration_assignment(default_esp_id, g.all_devices_target())
            ],
            default=True,
            show_installation_progress=False,
        ),
        g.enrollment_status_page(
            configuration_id=sales_esp_id,
            display_name="Autopilot - Sales devices ESP",
            description="Blocks until Office, Teams and Company Portal are installed",
            # Priority 1 wins over the main ESP for the Sales devices, which are in both groups.
            priority=1,
            created=intune_time("2025-02-17T13:20:36"),
            last_modified=intune_time("2026-03-02T09:25:11"),
            selected_app_ids=[app_id(name) for name in SALES_ESP_BLOCKING_APPS],
            timeout_minutes=120,
            assignments=[
                g.enrollment_configuration_assignment(
                    sales_esp_id, g.group_target(AP_SALES_DEVICES)
                )
            ],
        ),
        g.enrollment_status_page(
            configuration_id=main_esp_id,
            display_name="Autopilot - Pre-provisioning ESP",
            description="Device ESP for every Autopilot device; blocks on the core apps",
            priority=2,
            created=intune_time("2024-03-05T11:02:58"),
            last_modified=intune_time("2026-10-28T08:21:47"),
            selected_app_ids=[app_id(name) for name in MAIN_ESP_BLOCKING_APPS],
            timeout_minutes=180,
            assignments=[
                g.enrollment_configuration_assignment(main_esp_id, g.group_target(AP_ALL_DEVICES))
            ],
        ),
        {
            "@odata.type": "#microsoft.graph.deviceEnrollmentPlatformRestrictionsConfiguration",
            "id": default_restrictions_id,
            "displayName": "All users",
            "description": "This is the default Device Type Restriction applied with the lowest "
            "priority to all users regardless of group membership.",
            "priority": 0,
            "createdDateTime": tenant_created,
            "lastModifiedDateTime": intune_time("2024-03-04T08:05:12"),
            "version": 3,
            "roleScopeTagIds": ["0"],
            "deviceEnrollmentConfigurationType": "defaultPlatformRestrictions",
            "iosRestriction": restriction(False, False),
            # Corporate devices only: personal Windows enrollment is blocked, Autopilot is not.
            "windowsRestriction": restriction(False, True),
            "windowsHomeSkuRestriction": restriction(True, True),
            "windowsMobileRestriction": restriction(True, True),
            "androidRestriction": restriction(True, True),
            "androidForWorkRestriction": restriction(False, False),
            "macRestriction": restriction(True, True),
            "macOSRestriction": restriction(True, True),
            "assignments": [
                g.enrollment_configuration_assignment(
                    default_restrictions_id, g.all_licensed_users_target()
                )
            ],
        },
        {
            "@odata.type": "#microsoft.graph.deviceEnrollmentLimitConfiguration",
            "id": default_limit_id,
            "displayName": "All users",
            "description": "This is the default Device Limit Restriction applied with the lowest "
            "priority to all users regardless of group membership.",
            "priority": 0,
            "createdDateTime": tenant_created,
            "lastModifiedDateTime": tenant_created,
            "version": 1,
            "roleScopeTagIds": ["0"],
            "deviceEnrollmentConfigurationType": "defaultLimit",
            "limit": 15,
            "assignments": [
                g.enrollment_configuration_assignment(
                    default_limit_id, g.all_licensed_users_target()
                )
            ],
        },
        {
            "@odata.type": "#microsoft.graph.deviceEnrollmentWindowsHelloForBusinessConfiguration",
            "id": default_hello_id,
            "displayName": "All users and all devices",
            "description": "This is the default Windows Hello for Business configuration applied "
            "with the lowest priority to all users regardless of group membership.",
            "priority": 0,
            "createdDateTime": tenant_created,
            "lastModifiedDateTime": tenant_created,
            "version": 1,
            "roleScopeTagIds": ["0"],
            "deviceEnrollmentConfigurationType": "defaultWindowsHelloForBusiness",
            "pinMinimumLength": 6,
            "pinMaximumLength": 127,
            "pinUppercaseCharactersUsage": "disallowed",
            "pinLowercaseCharactersUsage": "disallowed",
            "pinSpecialCharactersUsage": "disallowed",
            "state": "enabled",
            "securityDeviceRequired": False,
            "unlockWithBiometricsEnabled": True,
            "remotePassportEnabled": True,
            "pinPreviousBlockCount": 0,
            "pinExpirationInDays": 0,
            "enhancedBiometricsState": "notConfigured",
            "securityKeyForSignIn": "notConfigured",
            "enhancedSignInSecurity": 0,
            "assignments": [
                g.enrollment_configuration_assignment(
                    default_hello_id, g.all_licensed_users_target()
                )
            ],
        },
        {
            "@odata.type": "#microsoft.graph.deviceComanagementAuthorityConfiguration",
            "id": comanagement_id,
            "displayName": "Co-management Settings",
            "description": "Install the Configuration Manager client on co-managed workstations",
            "priority": 1,
            "createdDateTime": intune_time("2024-01-22T10:15:40"),
            "lastModifiedDateTime": intune_time("2024-01-22T10:15:40"),
            "version": 1,
            "roleScopeTagIds": ["0"],
            "deviceEnrollmentConfigurationType": "deviceComanagementAuthorityConfiguration",
            "managedDeviceAuthority": 1,
            "installConfigurationManagerAgent": True,
            "configurationManagerAgentCommandLineArgument": (
                'CCMSETUPCMD="CCMHOSTNAME=CONTOSO-CMG.CONTOSO.COM/CCM_Proxy_MutualAuth/'
                '72057594037927940 SMSSiteCode=CTS"'
            ),
            # Targets existing ConfigMgr clients, never the Autopilot groups (COM-001 passes).
            "assignments": [
                g.enrollment_configuration_assignment(
                    comanagement_id, g.group_target(COMANAGED_WORKSTATIONS)
                )
            ],
        },
    ]


# --- device configurations -----------------------------------------------------------------------

SKIP_USER_STATUS_PAGE_URI: Final = (
    "./Vendor/MSFT/DMClient/Provider/MS DM Server/FirstSyncStatus/SkipUserStatusPage"
)


def _update_ring(
    name: str, *, deferral_days: int, created: str, assignments_for: list[JsonObject]
) -> JsonObject:
    configuration_id = sample_id("device-configuration", name)
    return {
        **g.device_configuration_base(
            odata_type="#microsoft.graph.windowsUpdateForBusinessConfiguration",
            configuration_id=configuration_id,
            display_name=name,
            description=f"Quality updates deferred {deferral_days} days",
            created=intune_time(created),
            last_modified=intune_time(created),
            assignments=[
                g.device_configuration_assignment(configuration_id, target)
                for target in assignments_for
            ],
        ),
        "deliveryOptimizationMode": "userDefined",
        "prereleaseFeatures": "userDefined",
        "automaticUpdateMode": "autoInstallAtMaintenanceTime",
        "microsoftUpdateServiceAllowed": True,
        "driversExcluded": False,
        "qualityUpdatesDeferralPeriodInDays": deferral_days,
        "featureUpdatesDeferralPeriodInDays": 0,
        "qualityUpdatesPaused": False,
        "featureUpdatesPaused": False,
        "qualityUpdatesPauseExpiryDateTime": g.GRAPH_NEVER,
        "featureUpdatesPauseExpiryDateTime": g.GRAPH_NEVER,
        "businessReadyUpdatesOnly": "userDefined",
        "skipChecksBeforeRestart": False,
        "featureUpdatesRollbackWindowInDays": 10,
        "deadlineForFeatureUpdatesInDays": 7,
        "deadlineForQualityUpdatesInDays": 3,
        "deadlineGracePeriodInDays": 2,
        "postponeRebootUntilAfterDeadline": False,
        "userPauseAccess": "disabled",
        "userWindowsUpdateScanAccess": "enabled",
        "updateNotificationLevel": "defaultNotifications",
        "allowWindows11Upgrade": True,
    }


def _device_configurations() -> list[JsonObject]:
    skip_user_esp = sample_id("device-configuration", "Autopilot - Skip account setup")
    time_zone = sample_id("device-configuration", "Windows - Time zone")
    restrictions = sample_id("device-configuration", "Windows - Device restrictions")
    endpoint_protection = sample_id("device-configuration", "Windows - Endpoint protection")
    domain_join = sample_id("device-configuration", "Hybrid - Domain join corp.contoso.com")
    wifi = sample_id("device-configuration", "Wi-Fi - CONTOSO-CORP")

    def to_autopilot_devices(configuration_id: str) -> list[JsonObject]:
        return [g.device_configuration_assignment(configuration_id, g.group_target(AP_ALL_DEVICES))]

    return [
        g.custom_configuration(
            configuration_id=skip_user_esp,
            display_name="Autopilot - Skip account setup (user ESP)",
            description="Skip the Account setup phase of the Enrollment Status Page for "
            "Autopilot pre-provisioned devices",
            created=intune_time("2024-03-05T11:10:27"),
            last_modified=intune_time("2024-03-05T11:10:27"),
            oma_settings=[
                g.oma_setting_boolean(
                    "Disable User ESP", "SkipUserStatusPage", SKIP_USER_STATUS_PAGE_URI, True
                )
            ],
            assignments=to_autopilot_devices(skip_user_esp),
        ),
        g.custom_configuration(
            configuration_id=time_zone,
            display_name="Windows - Time zone",
            description="W. Europe Standard Time for every Windows device",
            created=intune_time("2024-03-05T11:16:02"),
            last_modified=intune_time("2024-03-05T11:16:02"),
            oma_settings=[
                g.oma_setting_string(
                    "Time zone",
                    "ConfigureTimeZone",
                    "./Device/Vendor/MSFT/Policy/Config/TimeLanguageSettings/ConfigureTimeZone",
                    "W. Europe Standard Time",
                    configuration_id=time_zone,
                )
            ],
            assignments=to_autopilot_devices(time_zone),
        ),
        {
            **g.device_configuration_base(
                odata_type="#microsoft.graph.windows10GeneralConfiguration",
                configuration_id=restrictions,
                display_name="Windows - Device restrictions",
                description="Corporate baseline restrictions",
                created=intune_time("2024-03-05T11:30:49"),
                last_modified=intune_time("2025-11-03T10:12:36"),
                assignments=to_autopilot_devices(restrictions),
                version=4,
            ),
            # Left at "not configured": Autopilot needs wlidsvc to fetch its profile (CFG-002).
            "microsoftAccountSignInAssistantSettings": "notConfigured",
            "authenticationPreferredAzureADTenantDomainName": None,
            "networkProxyApplySettingsDeviceWide": False,
            "networkProxyDisableAutoDetect": False,
            "networkProxyAutomaticConfigurationUrl": None,
            "networkProxyServer": None,
            "accountsBlockAddingNonMicrosoftAccountEmail": True,
            "antiTheftModeBlocked": False,
            "bluetoothBlocked": False,
            "cameraBlocked": False,
            "cortanaBlocked": True,
            "gameDvrBlocked": True,
            "lockScreenBlockToastNotifications": True,
            "windowsSpotlightBlockConsumerSpecificFeatures": True,
            "windowsSpotlightBlocked": False,
            "smartScreenEnableAppInstallControl": False,
            "windowsStoreBlockAutoUpdate": False,
            "usbBlocked": False,
            "experienceBlockDeviceDiscovery": False,
            "edgeBlockPasswordManager": False,
        },
        {
            **g.device_configuration_base(
                odata_type="#microsoft.graph.windows10EndpointProtectionConfiguration",
                configuration_id=endpoint_protection,
                display_name="Windows - Endpoint protection",
                description="Firewall, SmartScreen and BitLocker",
                created=intune_time("2024-03-05T11:42:13"),
                last_modified=intune_time("2025-02-24T15:47:58"),
                assignments=to_autopilot_devices(endpoint_protection),
                version=2,
            ),
            "firewallBlockStatefulFTP": True,
            "firewallProfileDomain": None,
            "firewallProfilePrivate": None,
            "firewallProfilePublic": None,
            "smartScreenEnableInShell": True,
            "smartScreenBlockOverrideForFiles": True,
            "applicationGuardEnabled": False,
            "appLockerApplicationControl": "notConfigured",
            "deviceGuardEnableVirtualizationBasedSecurity": False,
            "deviceGuardLaunchSystemGuard": "notConfigured",
            # No logon banner and no UAC credential prompt on the secure desktop (CFG-003).
            "localSecurityOptionsLogOnMessageTitle": None,
            "localSecurityOptionsLogOnMessageText": None,
            "localSecurityOptionsAdministratorElevationPromptBehavior": "notConfigured",
            "localSecurityOptionsStandardUserElevationPromptBehavior": "notConfigured",
            "bitLockerEncryptDevice": True,
            "bitLockerDisableWarningForOtherDiskEncryption": True,
            "bitLockerAllowStandardUserEncryption": True,
            "bitLockerEnableStorageCardEncryptionOnMobile": False,
            "bitLockerRecoveryPasswordRotation": "enabledForAzureAd",
            "bitLockerSystemDrivePolicy": {
                "@odata.type": "#microsoft.graph.bitLockerSystemDrivePolicy",
                "encryptionMethod": "xtsAes256",
                "startupAuthenticationRequired": False,
                "startupAuthenticationBlockWithoutTpmChip": False,
                "startupAuthenticationTpmUsage": "allowed",
                "startupAuthenticationTpmPinUsage": "allowed",
                "startupAuthenticationTpmKeyUsage": "allowed",
                "startupAuthenticationTpmPinAndKeyUsage": "allowed",
                "minimumPinLength": None,
                "recoveryOptions": None,
                "prebootRecoveryEnableMessageAndUrl": False,
                "prebootRecoveryMessage": None,
                "prebootRecoveryUrl": None,
            },
        },
        {
            **g.device_configuration_base(
                odata_type="#microsoft.graph.windowsDomainJoinConfiguration",
                configuration_id=domain_join,
                display_name="Hybrid - Domain join corp.contoso.com",
                description="Offline domain join for the hybrid Autopilot profile",
                created=intune_time("2025-06-02T10:08:46"),
                last_modified=intune_time("2025-06-02T10:08:46"),
                assignments=[
                    g.device_configuration_assignment(
                        domain_join, g.group_target(AP_HYBRID_DEVICES)
                    )
                ],
            ),
            "computerNameStaticPrefix": "CTSOHJ-",
            "computerNameSuffixRandomCharCount": 8,
            "activeDirectoryDomainName": "corp.contoso.com",
            "organizationalUnit": "OU=Autopilot,OU=Workstations,DC=corp,DC=contoso,DC=com",
        },
        {
            **g.device_configuration_base(
                odata_type="#microsoft.graph.windowsWifiConfiguration",
                configuration_id=wifi,
                display_name="Wi-Fi - CONTOSO-CORP",
                description="Office wireless network",
                created=intune_time("2024-04-02T13:55:20"),
                last_modified=intune_time("2024-04-02T13:55:20"),
                assignments=to_autopilot_devices(wifi),
            ),
            "networkName": "CONTOSO-CORP",
            "ssid": "CONTOSO-CORP",
            "connectAutomatically": True,
            "connectToPreferredNetwork": True,
            "connectWhenNetworkNameIsHidden": False,
            "wifiSecurityType": "wpa2Personal",
            "meteredConnectionLimit": "unrestricted",
            "proxySetting": "none",
            "proxyManualAddress": None,
            "proxyManualPort": None,
            "proxyAutomaticConfigurationUrl": None,
            "forceFIPSCompliance": False,
            # Graph never returns the pre-shared key.
            "preSharedKey": None,
        },
        _update_ring(
            "Windows Update ring - Broad",
            deferral_days=7,
            created="2024-04-15T08:02:31",
            assignments_for=[
                g.group_target(AP_ALL_DEVICES),
                g.exclusion_group_target(UPDATE_PILOT_DEVICES),
            ],
        ),
        _update_ring(
            "Windows Update ring - Pilot",
            deferral_days=0,
            created="2024-04-15T08:05:12",
            assignments_for=[g.group_target(UPDATE_PILOT_DEVICES)],
        ),
        _update_ring(
            "Windows Update ring - Lab",
            deferral_days=0,
            created="2024-09-09T14:30:45",
            # The lab group was deleted from Entra ID; the ring still points at it.
            assignments_for=[g.group_target(DELETED_LAB_DEVICES)],
        ),
    ]


# --- settings catalog policies -------------------------------------------------------------------


def _choice(definition_id: str, option: str, *children: JsonObject) -> JsonObject:
    return g.choice_setting_instance(definition_id, f"{definition_id}_{option}", children)


def _settings_catalog_policies() -> list[JsonObject]:
    edge = "device_vendor_msft_policy_config_microsoft_edge~policy~microsoft_edge"
    onedrive = "device_vendor_msft_policy_config_onedrivengscv2~policy~onedrivengsc"
    hello = f"device_vendor_msft_passportforwork_{TENANT_ID}_policies"
    defender = "device_vendor_msft_policy_config_defender"
    bitlocker = "device_vendor_msft_bitlocker"
    laps = "device_vendor_msft_laps_policies"

    specs: list[tuple[str, str, str, str, list[JsonObject], bool, tuple[str, str, str | None]]] = [
        (
            "Windows - Microsoft Defender Antivirus",
            "Real-time and cloud protection",
            "2024-03-05T12:01:18",
            "2026-02-09T10:40:22",
            [
                _choice(f"{defender}_allowrealtimemonitoring", "1"),
                _choice(f"{defender}_allowcloudprotection", "1"),
                _choice(f"{defender}_cloudblocklevel", "2"),
                _choice(f"{defender}_submitsamplesconsent", "1"),
                _choice(f"{defender}_puaprotection", "1"),
            ],
            True,
            (
                "endpointSecurityAntivirus",
                "804339ad-1553-4478-a742-138fb5807418_1",
                "Microsoft Defender Antivirus",
            ),
        ),
        (
            "Windows - BitLocker silent encryption",
            "Encrypt the OS drive silently with XTS-AES 256",
            "2024-03-05T12:08:44",
            "2024-03-05T12:08:44",
            [
                _choice(f"{bitlocker}_requiredeviceencryption", "1"),
                _choice(
                    f"{bitlocker}_allowwarningforotherdiskencryption",
                    "0",
                    _choice(f"{bitlocker}_allowstandarduserencryption", "1"),
                ),
                _choice(
                    f"{bitlocker}_encryptionmethodbydrivetype",
                    "1",
                    _choice(
                        f"{bitlocker}_encryptionmethodbydrivetype_encryptionmethodwithxtsosdropdown_name",
                        "7",
                    ),
                ),
            ],
            True,
            ("none", "", None),
        ),
        (
            "Windows - LAPS",
            "Back up the local administrator password to Microsoft Entra ID",
            "2024-05-20T09:33:05",
            "2024-05-20T09:33:05",
            [
                _choice(
                    f"{laps}_backupdirectory",
                    "1",
                    g.integer_setting_instance(f"{laps}_passwordagedays_aad", 30),
                ),
                _choice(f"{laps}_passwordcomplexity", "4"),
                g.integer_setting_instance(f"{laps}_passwordlength", 16),
            ],
            True,
            (
                "endpointSecurityAccountProtection",
                "adc46e5a-f4aa-4ff6-aeff-4f27bc525796_1",
                "Local admin password solution (Windows LAPS)",
            ),
        ),
        (
            "Windows - OneDrive Known Folder Move",
            "Silently sign in to OneDrive and move Desktop, Documents and Pictures",
            "2024-03-05T12:20:37",
            "2025-01-13T08:54:19",
            [
                _choice(f"{onedrive}_silentaccountconfig", "1"),
                _choice(
                    f"{onedrive}_kfmsilentoptin",
                    "1",
                    g.string_setting_instance(
                        f"{onedrive}_kfmsilentoptin_kfmsilentoptin_textbox", TENANT_ID
                    ),
                ),
                _choice(f"{onedrive}_filesondemandenabled", "1"),
            ],
            True,
            ("none", "", None),
        ),
        (
            "Windows - Microsoft Edge baseline",
            "Home page, SmartScreen and first-run experience",
            "2024-03-05T12:26:51",
            "2026-05-18T14:07:33",
            [
                _choice(f"{edge}_hidefirstrunexperience", "1"),
                _choice(f"{edge}_smartscreenenabled", "1"),
                _choice(
                    f"{edge}_homepagelocation",
                    "1",
                    g.string_setting_instance(
                        f"{edge}_homepagelocation_homepagelocation", "https://intranet.contoso.com"
                    ),
                ),
            ],
            True,
            ("none", "", None),
        ),
        (
            "Windows - Windows Hello for Business",
            "Hello for Business with a hardware-backed key",
            "2024-03-05T12:31:09",
            "2024-03-05T12:31:09",
            [
                _choice(f"{hello}_usepassportforwork", "true"),
                _choice(f"{hello}_requiresecuritydevice", "true"),
            ],
            True,
            ("none", "", None),
        ),
        (
            "Windows - Delivery Optimization (draft)",
            "Not configured yet",
            "2026-11-20T16:12:48",
            "2026-11-20T16:12:48",
            [],
            False,
            ("none", "", None),
        ),
    ]
    policies = []
    for name, description, created, modified, instances, assigned, template in specs:
        policy_id = sample_id("configuration-policy", name)
        template_family, template_id, template_name = template
        policies.append(
            g.configuration_policy(
                policy_id=policy_id,
                name=name,
                description=description,
                created=intune_time(created),
                last_modified=intune_time(modified),
                settings=g.policy_settings(instances),
                assignments=(
                    [g.configuration_policy_assignment(policy_id, g.group_target(AP_ALL_DEVICES))]
                    if assigned
                    else []
                ),
                template_family=template_family,
                template_id=template_id,
                template_display_name=template_name,
            )
        )
    return policies


# --- platform scripts ----------------------------------------------------------------------------


def _script_content(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _platform_scripts() -> list[JsonObject]:
    specs = (
        (
            "Set-ContosoRegionalSettings.ps1",
            "Regional settings",
            "Default user locale, keyboard and region for new profiles",
            "system",
            AP_ALL_DEVICES,
            "Set-WinHomeLocation -GeoId 94\nSet-WinSystemLocale -SystemLocale de-DE\n",
            "2024-03-05T12:44:20",
        ),
        (
            "Remove-ConsumerApps.ps1",
            "Remove consumer apps",
            "Removes preinstalled consumer apps from the OEM image",
            "system",
            AP_ALL_DEVICES,
            "Get-AppxProvisionedPackage -Online | Where-Object DisplayName -in "
            "$ConsumerApps | Remove-AppxProvisionedPackage -Online\n",
            "2024-03-05T12:51:37",
        ),
        (
            "Map-FinanceDrives.ps1",
            "Map finance drives",
            "Maps the accounting shares for signed-in finance users",
            "user",
            FINANCE_USERS,
            'New-PSDrive -Name "F" -PSProvider FileSystem -Root '
            '"\\\\fs01.corp.contoso.com\\finance" -Persist\n',
            "2024-12-09T12:02:56",
        ),
    )
    scripts = []
    for file_name, display_name, description, run_as, group_id, body, created in specs:
        script_id = sample_id("script", file_name)
        scripts.append(
            g.platform_script(
                script_id=script_id,
                display_name=display_name,
                description=description,
                file_name=file_name,
                script_content_base64=_script_content(body),
                run_as_account=run_as,
                created=intune_time(created),
                last_modified=intune_time(created),
                assignments=[g.script_assignment(script_id, g.group_target(group_id))],
            )
        )
    return scripts


# --- compliance ----------------------------------------------------------------------------------


def _windows_compliance_policy(
    name: str,
    description: str,
    *,
    created: str,
    grace_period_hours: int,
    threat_protection: bool,
) -> JsonObject:
    policy_id = sample_id("compliance-policy", name)
    return {
        "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
        "id": policy_id,
        "roleScopeTagIds": ["0"],
        "createdDateTime": intune_time(created),
        "description": description,
        "lastModifiedDateTime": intune_time(created),
        "displayName": name,
        "version": 1,
        "passwordRequired": False,
        "passwordBlockSimple": False,
        "passwordRequiredToUnlockFromIdle": False,
        "passwordMinutesOfInactivityBeforeLock": None,
        "passwordExpirationDays": None,
        "passwordMinimumLength": None,
        "passwordMinimumCharacterSetCount": None,
        "passwordRequiredType": "deviceDefault",
        "passwordPreviousPasswordBlockCount": None,
        "requireHealthyDeviceReport": False,
        "osMinimumVersion": "10.0.19045",
        "osMaximumVersion": None,
        "mobileOsMinimumVersion": None,
        "mobileOsMaximumVersion": None,
        "earlyLaunchAntiMalwareDriverEnabled": False,
        "bitLockerEnabled": not threat_protection,
        "secureBootEnabled": not threat_protection,
        "codeIntegrityEnabled": not threat_protection,
        "memoryIntegrityEnabled": False,
        "kernelDmaProtectionEnabled": False,
        "virtualizationBasedSecurityEnabled": False,
        "firmwareProtectionEnabled": False,
        "storageRequireEncryption": not threat_protection,
        "activeFirewallRequired": not threat_protection,
        "defenderEnabled": not threat_protection,
        "defenderVersion": None,
        "signatureOutOfDate": False,
        "rtpEnabled": not threat_protection,
        "antivirusRequired": not threat_protection,
        "antiSpywareRequired": not threat_protection,
        "deviceThreatProtectionEnabled": threat_protection,
        "deviceThreatProtectionRequiredSecurityLevel": (
            "medium" if threat_protection else "unavailable"
        ),
        "configurationManagerComplianceRequired": False,
        "tpmRequired": not threat_protection,
        "deviceCompliancePolicyScript": None,
        "validOperatingSystemBuildRanges": [],
        "assignments": [g.compliance_policy_assignment(policy_id, g.group_target(AP_ALL_DEVICES))],
        # A grace period lets a freshly provisioned device finish encrypting before CA blocks it.
        "scheduledActionsForRule": g.block_after_grace_period(
            rule_id=sample_id("compliance-rule", name),
            action_id=sample_id("compliance-action", name),
            grace_period_hours=grace_period_hours,
        ),
    }


def _compliance_policies() -> list[JsonObject]:
    ios_name = "iOS - Compliance baseline"
    ios_id = sample_id("compliance-policy", ios_name)
    return [
        _windows_compliance_policy(
            "Windows - Compliance baseline",
            "BitLocker, Secure Boot, code integrity, TPM and Defender",
            created="2024-03-05T13:05:22",
            grace_period_hours=24,
            threat_protection=False,
        ),
        _windows_compliance_policy(
            "Windows - Defender for Endpoint risk",
            "Machine risk score at or below Medium",
            created="2024-06-03T09:47:15",
            grace_period_hours=72,
            threat_protection=True,
        ),
        {
            "@odata.type": "#microsoft.graph.iosCompliancePolicy",
            "id": ios_id,
            "roleScopeTagIds": ["0"],
            "createdDateTime": intune_time("2024-02-12T09:12:40"),
            "description": "Passcode and minimum iOS version",
            "lastModifiedDateTime": intune_time("2024-02-12T09:12:40"),
            "displayName": ios_name,
            "version": 1,
            "passcodeBlockSimple": True,
            "passcodeRequired": True,
            "passcodeMinimumLength": 6,
            "osMinimumVersion": "17.0",
            "securityBlockJailbrokenDevices": True,
            "managedEmailProfileRequired": False,
            "assignments": [g.compliance_policy_assignment(ios_id, g.all_licensed_users_target())],
            "scheduledActionsForRule": g.block_after_grace_period(
                rule_id=sample_id("compliance-rule", ios_name),
                action_id=sample_id("compliance-action", ios_name),
                grace_period_hours=24,
            ),
        },
    ]


# --- tenant-wide policies ------------------------------------------------------------------------

BREAK_GLASS_USER_IDS: Final = (
    _user_id("breakglass01@contoso.onmicrosoft.com"),
    _user_id("breakglass02@contoso.onmicrosoft.com"),
)


def _conditional_access_policies() -> list[JsonObject]:
    return [
        g.conditional_access_policy(
            policy_id=sample_id("conditional-access", "CA001"),
            display_name="CA001 - Require MFA for all users",
            created=entra_time("2024-01-08T10:14:52"),
            include_applications=["All"],
            # Enrollment must not hit an MFA prompt it cannot satisfy.
            exclude_applications=[g.INTUNE_ENROLLMENT_APP_ID, g.INTUNE_APP_ID],
            exclude_users=list(BREAK_GLASS_USER_IDS),
            built_in_controls=["mfa"],
        ),
        g.conditional_access_policy(
            policy_id=sample_id("conditional-access", "CA010"),
            display_name="CA010 - Require compliant or hybrid joined device for Office 365",
            created=entra_time("2024-03-18T08:40:29"),
            include_applications=["Office365"],
            exclude_applications=[],
            exclude_users=list(BREAK_GLASS_USER_IDS),
            built_in_controls=["compliantDevice", "domainJoinedDevice"],
        ),
    ]


def _domain_join_connectors() -> list[JsonObject]:
    return [
        g.domain_join_connector(
            connector_id=sample_id("domain-join-connector", name),
            display_name=name,
            last_connection=intune_time(last_connection),
            state="active",
            version="6.2504.2001.8",
        )
        for name, last_connection in (
            ("CTSO-ODJ01", "2026-11-24T08:52:10"),
            ("CTSO-ODJ02", "2026-11-24T08:47:36"),
        )
    ]


# --- the tenant ----------------------------------------------------------------------------------


def build_sample_tenant() -> JsonObject:
    """The Contoso sample tenant snapshot, identical on every call."""
    profiles = _autopilot_profiles()
    autopilot_devices, entra_devices, pilot_object_ids = _devices(profiles)
    return g.tenant_snapshot(
        tenant_id=TENANT_ID,
        captured_at=CAPTURED_AT,
        collections={
            paths.AUTOPILOT_PROFILES: profiles,
            paths.AUTOPILOT_DEVICES: autopilot_devices,
            paths.ENROLLMENT_CONFIGURATIONS: _enrollment_configurations(),
            paths.DEVICE_CONFIGURATIONS: _device_configurations(),
            paths.SETTINGS_CATALOG_POLICIES: _settings_catalog_policies(),
            paths.PLATFORM_SCRIPTS: _platform_scripts(),
            paths.COMPLIANCE_POLICIES: _compliance_policies(),
            paths.ASSIGNMENT_FILTERS: _assignment_filters(),
            paths.DOMAIN_JOIN_CONNECTORS: _domain_join_connectors(),
            paths.MOBILE_APPS: _windows_apps() + _mobile_platform_apps(),
            paths.GROUPS: _groups(pilot_object_ids),
            paths.DEVICES: entra_devices,
            paths.MDM_POLICIES: [g.intune_mdm_policy(applies_to="all")],
            paths.DEVICE_REGISTRATION_POLICY: [g.device_registration_policy(user_device_quota=50)],
            paths.CONDITIONAL_ACCESS_POLICIES: _conditional_access_policies(),
        },
    )


def render_sample() -> str:
    return g.render_snapshot_json(build_sample_tenant())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=SAMPLE_PATH, help="where to write the JSON")
    parser.add_argument(
        "--check", action="store_true", help="compare with the file instead of writing it"
    )
    arguments = parser.parse_args(argv)
    text = render_sample()
    if arguments.check:
        current = arguments.out.read_text(encoding="utf-8") if arguments.out.exists() else ""
        if current != text:
            print(f"{arguments.out} is out of date: run python -m samples.build_sample")
            return 1
        return 0
    arguments.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
