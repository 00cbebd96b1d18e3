"""The compiled schema check that lets a valid snapshot through agrees with `jsonschema`.

`first_problem` trusts the compiled validator only when it accepts; the message for a bad file
always comes from `jsonschema`. So the two must accept exactly the same documents: checked here
on a small synthetic tenant and on hundreds of mutants of it, each with one value replaced by a
value of another JSON type (and a few hand-picked traps).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from monitors.snapshot_file import SNAPSHOT_FORMAT, _schema_accepts, _validator, first_problem
from samples.synthetic import generate_tenant

REPLACEMENTS: tuple[Any, ...] = (7, 1.5, "text", None, True, [], {}, [1], {"id": 3}, 2**70)


def small_document() -> dict[str, Any]:
    document = generate_tenant(
        apps=12,
        device_configurations=8,
        settings_policies=4,
        scripts=3,
        enrollment_configurations=4,
        profiles=3,
        groups=20,
        devices=15,
        compliance_policies=3,
        filters=3,
        seed=3,
    )
    document["format"] = SNAPSHOT_FORMAT
    document.setdefault("errors", {})["groups/g-missing/members"] = {"status": 403, "message": "m"}
    result: dict[str, Any] = json.loads(json.dumps(document))
    return result


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replaced(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    mutant = copy.deepcopy(document)
    holder: Any = mutant
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return mutant


def schema_valid(document: Any) -> bool:
    return next(iter(_validator().iter_errors(document)), None) is None


def mutants() -> list[dict[str, Any]]:
    document = small_document()
    every = [path for path in paths(document) if path]
    chosen = random.Random(14).sample(every, 250)
    made = [
        replaced(document, path, random.Random(i).choice(REPLACEMENTS))
        for i, path in enumerate(chosen)
    ]
    traps = [
        replaced(document, ("errors", "groups/g-missing/members", "status"), 1000),
        replaced(document, ("errors", "groups/g-missing/members", "status"), 403.0),
        replaced(document, ("errors", "groups/g-missing/members", "extra"), "x"),
        replaced(document, ("errors", "groups/g-missing/nope"), {"status": 1, "message": "m"}),
        replaced(document, ("capturedAt",), "2026-11-24T10:00:00"),
        replaced(document, ("capturedAt",), "2026-11-24 10:00:00Z"),
        replaced(document, ("tenantId",), ""),
        replaced(document, ("unexpected",), 1),
        replaced(document, ("collections", "unknown/things"), []),
    ]
    return [document, *made, *traps]


def test_both_validators_accept_exactly_the_same_documents() -> None:
    documents = mutants()
    answers = [(schema_valid(document), _schema_accepts(document)) for document in documents]
    assert all(full == quick for full, quick in answers)
    # The corpus holds both kinds, so the agreement says something.
    assert {full for full, _ in answers} == {True, False}


@pytest.mark.parametrize("value", [2**70, -(2**70)])
def test_a_huge_integer_is_refused_by_both_and_named_by_jsonschema(value: int) -> None:
    document = replaced(small_document(), ("errors", "groups/g-missing/members", "status"), value)
    assert not _schema_accepts(document)
    assert not schema_valid(document)
    problem = first_problem(document)
    assert problem is not None
    assert problem.startswith("$.errors['groups/g-missing/members'].status: ")
