"""Microsoft's published Graph models, introspected: wire property names, value kinds, enums.

The models are the kiota-generated Python SDKs: `msgraph_beta` (beta, a dev dependency) for Intune
objects and `msgraph` (v1.0, a runtime dependency) for directory objects. Each model class names
its wire properties in `get_field_deserializers()` (inherited ones included: every class merges
its parent's), and each deserializer calls one typed reader on a parse node
(`get_str_value`, `get_enum_value(RunAsAccountType)`,
`get_object_value(Win32LobAppInstallExperience)`, ...). Calling the deserializers with a
recording parse node reveals the type of every property without parsing anything. A base
class's `create_from_discriminator_value` maps `@odata.type` to
the derived class, which is how an object's model is found.

`check_object` walks one JSON object against its model and answers every difference as a line of
text: a property the model does not have, an enum value it does not list, a value of the wrong
JSON type, an `@odata.type` the base class does not map.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

from msgraph.generated.models.conditional_access_policy import ConditionalAccessPolicy
from msgraph.generated.models.device import Device
from msgraph.generated.models.device_registration_policy import DeviceRegistrationPolicy
from msgraph.generated.models.directory_audit import DirectoryAudit
from msgraph.generated.models.directory_object import DirectoryObject
from msgraph.generated.models.entity import Entity as _V1Entity
from msgraph.generated.models.group import Group
from msgraph.generated.models.subscription import Subscription
from msgraph_beta.generated.models.audit_event import AuditEvent
from msgraph_beta.generated.models.device_and_app_management_assignment_filter import (
    DeviceAndAppManagementAssignmentFilter,
)
from msgraph_beta.generated.models.device_compliance_policy import DeviceCompliancePolicy
from msgraph_beta.generated.models.device_configuration import DeviceConfiguration
from msgraph_beta.generated.models.device_enrollment_configuration import (
    DeviceEnrollmentConfiguration,
)
from msgraph_beta.generated.models.device_management_configuration_policy import (
    DeviceManagementConfigurationPolicy,
)
from msgraph_beta.generated.models.device_management_domain_join_connector import (
    DeviceManagementDomainJoinConnector,
)
from msgraph_beta.generated.models.device_management_script import DeviceManagementScript
from msgraph_beta.generated.models.entity import Entity as _BetaEntity
from msgraph_beta.generated.models.mobile_app import MobileApp
from msgraph_beta.generated.models.mobility_management_policy import MobilityManagementPolicy
from msgraph_beta.generated.models.windows_autopilot_deployment_profile import (
    WindowsAutopilotDeploymentProfile,
)
from msgraph_beta.generated.models.windows_autopilot_device_identity import (
    WindowsAutopilotDeviceIdentity,
)

from rules import tenant_collections as tc

GraphVersion = Literal["beta", "v1.0"]

# The model of each snapshot collection: beta for Intune (the reader reads Intune in beta), v1.0
# for the directory. The MDM user-scope policies exist in beta only.
COLLECTION_MODELS: Final[dict[str, type[Any]]] = {
    tc.AUTOPILOT_PROFILES: WindowsAutopilotDeploymentProfile,
    tc.AUTOPILOT_DEVICES: WindowsAutopilotDeviceIdentity,
    tc.ENROLLMENT_CONFIGURATIONS: DeviceEnrollmentConfiguration,
    tc.DEVICE_CONFIGURATIONS: DeviceConfiguration,
    tc.SETTINGS_CATALOG_POLICIES: DeviceManagementConfigurationPolicy,
    tc.PLATFORM_SCRIPTS: DeviceManagementScript,
    tc.COMPLIANCE_POLICIES: DeviceCompliancePolicy,
    tc.ASSIGNMENT_FILTERS: DeviceAndAppManagementAssignmentFilter,
    tc.DOMAIN_JOIN_CONNECTORS: DeviceManagementDomainJoinConnector,
    tc.MOBILE_APPS: MobileApp,
    tc.GROUPS: Group,
    tc.DEVICES: Device,
    tc.MDM_POLICIES: MobilityManagementPolicy,
    tc.DEVICE_REGISTRATION_POLICY: DeviceRegistrationPolicy,
    tc.CONDITIONAL_ACCESS_POLICIES: ConditionalAccessPolicy,
}

# Records the simulator writes besides the snapshot: Intune audit events are read from beta, the
# directory audit log and subscriptions from v1.0.
INTUNE_AUDIT_EVENT: Final = AuditEvent
DIRECTORY_AUDIT: Final = DirectoryAudit
SUBSCRIPTION: Final = Subscription
DIRECTORY_OBJECT: Final = DirectoryObject

ODATA_TYPE: Final = "@odata.type"

# Properties Graph is seen returning that its published model lacks: (model class, wire name) ->
# the evidence. Nothing else is excused.
GRAPH_EXTRA_PROPERTIES: Final[dict[tuple[str, str], str]] = {
    ("Device", "createdDateTime"): (
        "https://github.com/microsoftgraph/msgraph-beta-sdk-java/issues/996 (devices carry "
        "createdDateTime on the wire; Graph's $metadata, and so every SDK model, omits it)"
    ),
    ("Device", "extensionAttributes"): (
        "https://learn.microsoft.com/graph/api/resources/onpremisesextensionattributes"
        "?view=graph-rest-1.0 (v1.0 devices carry extensionAttributes; only the beta model has it)"
    ),
}

Kind = Literal[
    "str",
    "bool",
    "int",
    "float",
    "uuid",
    "datetime",
    "date",
    "time",
    "duration",
    "bytes",
    "object",
    "enum",
    "objects",
    "enums",
    "primitives",
    "untyped",
]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    wire_name: str
    kind: Kind
    # The model class (object, objects), Enum class (enum, enums) or Python type (primitives).
    target: Any = None


class _Recorder:
    """A parse node that remembers which typed read a deserializer asked for."""

    def __init__(self) -> None:
        self.kind: Kind | None = None
        self.target: Any = None

    def _set(self, kind: Kind, target: Any = None) -> None:
        self.kind, self.target = kind, target

    def get_str_value(self) -> None:
        self._set("str")

    def get_bool_value(self) -> None:
        self._set("bool")

    def get_int_value(self) -> None:
        self._set("int")

    def get_float_value(self) -> None:
        self._set("float")

    def get_uuid_value(self) -> None:
        self._set("uuid")

    def get_datetime_value(self) -> None:
        self._set("datetime")

    def get_date_value(self) -> None:
        self._set("date")

    def get_time_value(self) -> None:
        self._set("time")

    def get_timedelta_value(self) -> None:
        self._set("duration")

    def get_bytes_value(self) -> None:
        self._set("bytes")

    def get_object_value(self, factory: Any) -> None:
        self._set("untyped" if factory.__name__ == "UntypedNode" else "object", factory)

    def get_collection_of_object_values(self, factory: Any) -> None:
        self._set("objects", factory)

    def get_enum_value(self, enum_class: Any) -> None:
        self._set("enum", enum_class)

    def get_collection_of_enum_values(self, enum_class: Any) -> None:
        self._set("enums", enum_class)

    def get_collection_of_primitive_values(self, primitive: Any) -> None:
        self._set("primitives", primitive)


class _DiscriminatorNode:
    """Just enough of a parse node for `create_from_discriminator_value`."""

    def __init__(self, odata_type: str) -> None:
        self._odata_type = odata_type

    def get_child_node(self, name: str) -> _DiscriminatorNode | None:
        return self if name == ODATA_TYPE else None

    def get_str_value(self) -> str:
        return self._odata_type


@cache
def fields_of(model: type[Any]) -> Mapping[str, FieldSpec]:
    """Every wire property of `model` (its own and inherited) with its kind."""
    specs: dict[str, FieldSpec] = {}
    for wire_name, deserializer in model().get_field_deserializers().items():
        recorder = _Recorder()
        deserializer(recorder)
        if recorder.kind is None:
            raise AssertionError(f"{model.__name__}.{wire_name}: no typed read recorded")
        specs[wire_name] = FieldSpec(wire_name, recorder.kind, recorder.target)
    return specs


def wire_type_name(model: type[Any]) -> str:
    """The `@odata.type` Graph writes for objects of exactly this model."""
    declared = getattr(model(), "odata_type", None)
    if isinstance(declared, str) and declared:
        return declared
    name = model.__name__
    return f"#microsoft.graph.{name[0].lower()}{name[1:]}"


class UnknownType(LookupError):
    pass


@cache
def resolve_type(base: type[Any], odata_type: str) -> type[Any]:
    """The model of an object declared as `base` carrying `odata_type`; UnknownType if unmapped.

    Kiota compares the discriminator case-insensitively; Graph writes one spelling, so a value
    that maps only by ignoring case is refused too.
    """
    model = type(base.create_from_discriminator_value(_DiscriminatorNode(odata_type)))
    expected = wire_type_name(model)
    if expected != odata_type:
        if expected.casefold() == odata_type.casefold():
            raise UnknownType(f"'{odata_type}' is spelled '{expected}' by Graph")
        raise UnknownType(f"'{odata_type}' is not {wire_type_name(base)} or a type derived from it")
    return model


def model_of(base: type[Any], obj: Mapping[str, Any], *, hashless_ok: bool = False) -> type[Any]:
    odata_type = obj.get(ODATA_TYPE)
    if odata_type is None:
        return base
    if not isinstance(odata_type, str):
        raise UnknownType(f"@odata.type is {odata_type!r}, not a string")
    if hashless_ok and not odata_type.startswith("#"):
        # Graph's documentation examples write `microsoft.graph.x` (the rules normalize it,
        # rules/graph_json.normalized_odata_type); the wire writes `#microsoft.graph.x`.
        odata_type = "#" + odata_type
    return resolve_type(base, odata_type)


@cache
def enum_values(enum_class: type[Enum]) -> frozenset[str]:
    return frozenset(str(member.value) for member in enum_class)


_MAPPED_TYPE: Final = re.compile(r'== "(#microsoft\.graph\.[A-Za-z0-9_.]+)"\.casefold\(\)')


@cache
def derived_models(base: type[Any]) -> tuple[type[Any], ...]:
    """`base` and every model its discriminator maps (the types a collection of `base` holds)."""
    # The module holds one discriminator: the class's own `create_from_discriminator_value`.
    source = Path(sys.modules[base.__module__].__file__ or "").read_text(encoding="utf-8")
    names = _MAPPED_TYPE.findall(source)
    models = {base}
    for name in names:
        models.add(type(base.create_from_discriminator_value(_DiscriminatorNode(name))))
    return tuple(sorted(models, key=lambda model: model.__name__))


# Navigations the reader expands inside an inlined navigation.
NESTED_INLINED_NAVIGATIONS: Final[dict[str, tuple[str, ...]]] = {
    tc.COMPLIANCE_POLICIES: ("scheduledActionConfigurations",),
}


def _is_entity(model: type[Any]) -> bool:
    return issubclass(model, _BetaEntity | _V1Entity)


@cache
def collection_family(path: str) -> frozenset[type[Any]]:
    """Every model an object of the collection can hold, however deep: the collection's derived
    types, the complex types of their properties, and the navigations the snapshot inlines
    (other entity-valued properties are never in a snapshot, and would lead everywhere)."""
    inlined = {
        *tc.INLINED_NAVIGATIONS.get(path, ()),
        *NESTED_INLINED_NAVIGATIONS.get(path, ()),
    }
    seen: set[type[Any]] = set()
    pending: list[type[Any]] = [COLLECTION_MODELS[path]]
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        pending.extend(derived for derived in derived_models(model) if derived not in seen)
        for name, spec in fields_of(model).items():
            if spec.kind not in ("object", "objects") or spec.target in seen:
                continue
            if _is_entity(spec.target) and name not in inlined:
                continue
            pending.append(spec.target)
    return frozenset(seen)


@cache
def assignment_models() -> frozenset[type[Any]]:
    """The models of every collection's `assignments` (one parser reads them all)."""
    models: set[type[Any]] = set()
    for base in COLLECTION_MODELS.values():
        spec = fields_of(base).get("assignments")
        if spec is not None and spec.kind == "objects":
            models.update(derived_models(spec.target))
    return frozenset(models)


# -- checking values ----------------------------------------------------------------------------

_GUID: Final = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_DURATION: Final = re.compile(
    r"^-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
)
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME: Final = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_BASE64: Final = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    # Graph writes DateTimeOffset with a zone (`Z` or an offset).
    return parsed.tzinfo is not None


_PRIMITIVE_CHECKS: Final[dict[str, Callable[[object], bool]]] = {
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: (
        (isinstance(v, int | float) and not isinstance(v, bool)) or v in ("NaN", "INF", "-INF")
    ),
    "uuid": lambda v: isinstance(v, str) and bool(_GUID.match(v)),
    "datetime": _is_datetime,
    "date": lambda v: isinstance(v, str) and bool(_DATE.match(v)),
    "time": lambda v: isinstance(v, str) and bool(_TIME.match(v)),
    "duration": lambda v: isinstance(v, str) and bool(_DURATION.match(v)),
    "bytes": lambda v: isinstance(v, str) and bool(_BASE64.match(v)),
}

_PYTHON_PRIMITIVES: Final[dict[Any, str]] = {
    str: "str",
    bool: "bool",
    int: "int",
    float: "float",
    datetime: "datetime",
}


def check_object(
    obj: object,
    base: type[Any],
    where: str,
    *,
    exceptions: Mapping[tuple[str, str], str] = GRAPH_EXTRA_PROPERTIES,
    hashless_ok: bool = False,
) -> Iterator[str]:
    """Every way `obj` differs from the model `base` (or the derived model its type names)."""
    if not isinstance(obj, Mapping):
        yield f"{where}: expected a {base.__name__} object, got {type(obj).__name__}"
        return
    try:
        model = model_of(base, obj, hashless_ok=hashless_ok)
    except UnknownType as error:
        yield f"{where}: {error}"
        return
    fields = fields_of(model)
    for key, value in obj.items():
        if key == ODATA_TYPE:
            continue
        spec = fields.get(key)
        if spec is None:
            if (model.__name__, key) in exceptions:
                continue
            yield f"{where}: {wire_type_name(model)} has no property '{key}'"
            continue
        yield from _check_value(value, spec, f"{where}.{key}", exceptions, hashless_ok)


def _check_value(
    value: object,
    spec: FieldSpec,
    where: str,
    exceptions: Mapping[tuple[str, str], str],
    hashless_ok: bool,
) -> Iterator[str]:
    if value is None:
        return  # nullability is not in the kiota models; Graph writes null for unset values
    kind = spec.kind
    if kind == "untyped":
        return
    if kind == "object":
        yield from check_object(
            value, spec.target, where, exceptions=exceptions, hashless_ok=hashless_ok
        )
    elif kind == "objects":
        if not isinstance(value, list | tuple):
            yield f"{where}: expected an array of {spec.target.__name__}"
            return
        for index, item in enumerate(value):
            yield from check_object(
                item,
                spec.target,
                f"{where}[{index}]",
                exceptions=exceptions,
                hashless_ok=hashless_ok,
            )
    elif kind == "enum":
        if not isinstance(value, str):
            yield f"{where}: expected a {spec.target.__name__} value, got {value!r}"
        elif value not in enum_values(spec.target):
            yield f"{where}: '{value}' is not a {spec.target.__name__} value"
    elif kind == "enums":
        # A flags enum is one comma-separated string; a collection of enums is an array.
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            yield f"{where}: expected {spec.target.__name__} values, got {value!r}"
            return
        for item in items:
            if not isinstance(item, str) or item.strip() not in enum_values(spec.target):
                yield f"{where}: '{item}' is not a {spec.target.__name__} value"
    elif kind == "primitives":
        if not isinstance(value, list | tuple):
            yield f"{where}: expected an array, got {value!r}"
            return
        item_kind = _PYTHON_PRIMITIVES.get(spec.target, "untyped")
        check = _PRIMITIVE_CHECKS.get(item_kind)
        for index, item in enumerate(value):
            if check is not None and item is not None and not check(item):
                yield f"{where}[{index}]: {item!r} is not a {item_kind}"
    else:
        if not _PRIMITIVE_CHECKS[kind](value):
            yield f"{where}: {value!r} is not a {kind}"


def check_collection(
    path: str,
    objects: object,
    *,
    exceptions: Mapping[tuple[str, str], str] = GRAPH_EXTRA_PROPERTIES,
    hashless_ok: bool = False,
) -> Iterator[str]:
    base = COLLECTION_MODELS.get(path)
    if base is None:
        yield f"{path}: no Graph model is known for this collection"
        return
    if not isinstance(objects, list | tuple):
        yield f"{path}: expected an array"
        return
    for index, obj in enumerate(objects):
        label = obj.get("id", index) if isinstance(obj, Mapping) else index
        yield from check_object(
            obj, base, f"{path}[{label}]", exceptions=exceptions, hashless_ok=hashless_ok
        )
