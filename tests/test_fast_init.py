"""`fast_init`: the quicker constructor behaves as the dataclass's own."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from rules.fast_init import fast_init


@dataclass(frozen=True, slots=True)
class Plain:
    name: str
    count: int = 3
    tags: tuple[str, ...] = ()
    hidden: str | None = field(default=None, repr=False, compare=False)


@fast_init
@dataclass(frozen=True, slots=True)
class Quick:
    name: str
    count: int = 3
    tags: tuple[str, ...] = ()
    hidden: str | None = field(default=None, repr=False, compare=False)


@fast_init
@dataclass(frozen=True, slots=True)
class Checked:
    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low above high")


def values(obj: object) -> dict[str, object]:
    return {spec.name: getattr(obj, spec.name) for spec in dataclasses.fields(obj)}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("a",), {}),
        (("a", 5), {}),
        ((), {"name": "b", "tags": ("x",)}),
        (("c", 1, ("y",), "h"), {}),
    ],
)
def test_the_fields_are_set_as_the_dataclass_sets_them(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    assert values(Quick(*args, **kwargs)) == values(Plain(*args, **kwargs))  # type: ignore[arg-type]


def test_the_instance_stays_frozen_hashable_and_comparable() -> None:
    quick = Quick("a", tags=("t",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.name = "b"  # type: ignore[misc]
    assert quick == Quick("a", tags=("t",), hidden="ignored by ==")
    assert hash(quick) == hash(Quick("a", tags=("t",)))
    assert repr(quick) == "Quick(name='a', count=3, tags=('t',))"
    assert dataclasses.replace(quick, count=9) == Quick("a", 9, ("t",))


def test_missing_or_unknown_arguments_are_refused_like_the_dataclass_does() -> None:
    with pytest.raises(TypeError):
        Quick()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Quick("a", colour="red")  # type: ignore[call-arg]


def test_post_init_still_runs() -> None:
    assert Checked(1, 2).high == 2
    with pytest.raises(ValueError, match="low above high"):
        Checked(3, 2)


def test_only_frozen_slotted_dataclasses_with_plain_defaults_are_accepted() -> None:
    @dataclass(slots=True)
    class Mutable:
        name: str

    @dataclass(frozen=True)
    class NoSlots:
        name: str

    @dataclass(frozen=True, slots=True)
    class Factory:
        names: list[str] = field(default_factory=list)

    for cls in (Mutable, NoSlots, Factory):
        with pytest.raises(TypeError):
            fast_init(cls)
