"""Dynamic membership rules: parsing, rendering, evaluation and group membership prediction."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.membership_prediction import (
    AutopilotDeviceJoin,
    holds_every_autopilot_device,
    predict_group_members,
    predict_members,
)
from rules.membership_rules import (
    MAX_RULE_LENGTH,
    And,
    BooleanValue,
    CollectionCondition,
    CollectionItem,
    Comparison,
    ComparisonOperator,
    DeviceFacts,
    Expression,
    ListValue,
    Not,
    NullValue,
    NumberValue,
    Or,
    ParsedRule,
    Property,
    Quantifier,
    StringValue,
    SubjectKind,
    Unknown,
    UnsupportedRule,
    evaluate,
    parse_membership_rule,
    render_rule,
)
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import AUTOPILOT_DEVICES, DEVICES, GROUPS
from tests.tenant_builder import (
    AP_GROUP_ID,
    DEVICE_A_ENTRA_OBJECT_ID,
    DEVICE_A_ID,
    DEVICE_B_ID,
    PROFILE_NAME,
    REMOVE,
    USER_GROUP_ID,
    assigned_group,
    autopilot_device,
    device_member,
    dynamic_group,
    entra_device,
    group_member,
    healthy_tenant,
    user_member,
)

AUTOPILOT_FACTS: DeviceFacts = {
    "devicephysicalids": (
        "[ZTDId]:5c3f0f6e-aaaa-4a01-9a01-000000000001",
        "[OrderID]:179887111881",
        "[PurchaseOrderId]:76222342342",
    ),
    "displayname": "PF3AAA01",
    "deviceostype": "Windows",
    "deviceosversion": "10.0.26100.2033",
    "devicemodel": "Surface Laptop 6",
    "devicemanufacturer": "Microsoft Corporation",
    "enrollmentprofilename": "Contoso Pre-provisioning",
    "accountenabled": True,
    "deviceownership": "Company",
    "systemlabels": (),
}


def parsed(text: str) -> ParsedRule:
    rule = parse_membership_rule(text)
    assert isinstance(rule, ParsedRule), rule
    return rule


def holds(text: str, facts: DeviceFacts = AUTOPILOT_FACTS) -> bool | Unknown:
    return evaluate(parsed(text), facts)


# --- documented Autopilot rules -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('(device.devicePhysicalIDs -any (_ -startsWith "[ZTDid]"))', True),
        ('(device.devicePhysicalIds -any _ -eq "[OrderID]:179887111881")', True),
        ('(device.devicePhysicalIds -any _ -eq "[OrderID]:000000000000")', False),
        ('(device.devicePhysicalIds -any _ -eq "[PurchaseOrderId]:76222342342")', True),
        ('(device.devicePhysicalIds -contains "[ZTDID]")', True),
        ('device.devicePhysicalIDs -any _ -startsWith "[ZTDId]"', True),
        ('(device.enrollmentProfileName -eq "Contoso Pre-provisioning")', True),
    ],
)
def test_documented_autopilot_rules_parse_as_device_rules_and_match(
    rule: str, expected: bool
) -> None:
    assert parsed(rule).subject_kind is SubjectKind.DEVICE
    assert holds(rule) is expected


def test_rule_without_ztdid_fails_for_a_device_that_is_not_from_autopilot() -> None:
    facts = {**AUTOPILOT_FACTS, "devicephysicalids": ("[USER-GID]:abc",)}

    assert holds('(device.devicePhysicalIDs -any (_ -startsWith "[ZTDid]"))', facts) is False


# --- every operator ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('device.deviceOSType -eq "windows"', True),
        ('device.deviceOSType -ne "Windows"', False),
        ('device.displayName -startsWith "pf3"', True),
        ('device.displayName -notStartsWith "PF3"', False),
        ('device.displayName -endsWith "a01"', True),
        ('device.displayName -notEndsWith "A01"', False),
        ('device.deviceModel -contains "LAPTOP"', True),
        ('device.deviceModel -notContains "Laptop"', False),
        ('device.displayName -match "^pf\\d"', True),
        ('device.displayName -match "\\d{2}$"', True),
        ('device.displayName -notMatch "^PF"', False),
        ('device.deviceOwnership -in ["Personal", "company"]', True),
        ('device.deviceOwnership -notIn ["Personal", "Company"]', False),
        ("device.deviceOwnership -in []", False),
        ("device.accountEnabled -eq true", True),
        ("device.accountEnabled -eq false", False),
        (
            "device.deviceCategory -eq null",
            Unknown("device.deviceCategory is not known for this device"),
        ),
        ('device.systemLabels -any _ -eq "M365Managed"', False),
        ('device.systemLabels -all _ -eq "M365Managed"', True),
        ('device.devicePhysicalIds -all (_ -contains "]:")', True),
        ('device.devicePhysicalIds -all (_ -startsWith "[ZTDId]")', False),
        ("device.systemLabels -eq null", True),
        ("device.displayName -ne null", True),
        ('device.devicePhysicalIds -startsWith "[OrderID]"', True),
        ('device.devicePhysicalIds -notContains "[ZTDId]"', False),
        ('device.devicePhysicalIds -in ["[OrderID]:179887111881"]', True),
        ("device.deviceOSVersion -eq 10", False),
    ],
)
def test_each_operator_follows_entra_semantics(rule: str, expected: bool | Unknown) -> None:
    assert holds(rule) == expected


@pytest.mark.parametrize(
    "rule",
    [
        'DEVICE.DEVICEOSTYPE -EQ "WINDOWS"',
        'device.deviceostype -Eq "Windows"',
        'device.deviceOSType eq "Windows"',
        'device.deviceOSType –eq "Windows" –and device.accountEnabled –eq true',
        '(device.deviceOSType -eq "Windows") and (device.accountEnabled eq true)',
        "device.deviceOSType -eq 'Windows'",
        '  ( ( device.deviceOSType  -eq\t"Windows" ) )  ',
    ],
)
def test_operators_and_property_names_are_case_insensitive_and_hyphen_optional(rule: str) -> None:
    assert holds(rule) is True


def test_property_names_are_rendered_in_their_canonical_spelling() -> None:
    rule = parsed('device.DEVICEPHYSICALIDS -ANY (_ -STARTSWITH "[ZTDId]")')

    assert render_rule(rule) == 'device.devicePhysicalIds -any (_ -startsWith "[ZTDId]")'


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ('device.displayName -eq "say `"hi`""', 'say "hi"'),
        ("device.displayName -eq 'it''s'", "it's"),
        ('device.displayName -eq `"Sales`"', '"Sales"'),
        ('device.displayName -eq "a``b"', "a`b"),
        ('device.displayName -match "^PC\\d+"', "^PC\\d+"),
    ],
)
def test_string_literals_unescape_quotes_and_keep_backslashes(rule: str, value: str) -> None:
    expression = parsed(rule).expression

    assert isinstance(expression, Comparison)
    assert expression.value == StringValue(value)


def test_not_and_the_not_prefix_invert() -> None:
    assert holds('-not (device.deviceOSType -eq "Windows")') is False
    assert holds('not (device.deviceOSType -eq "iOS")') is True
    assert holds('-not device.deviceOSType -eq "iOS"') is True


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    text = 'device.deviceOSType -eq "Windows" -or device.displayName -eq "x" -and device.x -eq "y"'

    assert parsed(text).expression == Or(
        Comparison(
            Property("device", "deviceOSType"), ComparisonOperator.EQ, StringValue("Windows")
        ),
        And(
            Comparison(Property("device", "displayName"), ComparisonOperator.EQ, StringValue("x")),
            Comparison(Property("device", "x"), ComparisonOperator.EQ, StringValue("y")),
        ),
    )
    assert holds(text) is True
    grouped = parsed(
        '(device.deviceOSType -eq "Windows" -or device.displayName -eq "x") -and device.x -eq "y"'
    )
    assert isinstance(grouped.expression, And)
    assert isinstance(grouped.expression.left, Or)


def test_not_binds_tighter_than_and() -> None:
    expression = parsed('-not device.a -eq "1" -and device.b -eq "2"').expression

    assert isinstance(expression, And)
    assert isinstance(expression.left, Not)


@pytest.mark.parametrize(
    ("rule", "kind"),
    [
        ('user.department -eq "Sales"', SubjectKind.USER),
        ("user.objectId -ne null", SubjectKind.USER),
        ('(user.proxyAddresses -any (_ -startsWith "contoso"))', SubjectKind.USER),
        (
            'user.assignedPlans -any (assignedPlan.servicePlanId -eq "efb87545" -and '
            'assignedPlan.capabilityStatus -eq "Enabled")',
            SubjectKind.USER,
        ),
        ('Direct Reports for "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb"', SubjectKind.USER),
        ('user.department -eq "Sales" -or device.deviceOSType -eq "Windows"', SubjectKind.MIXED),
        ("device.objectId -ne null", SubjectKind.DEVICE),
        ('device.extension_c272a57b722d4eb2_room -eq "12"', SubjectKind.DEVICE),
    ],
)
def test_rules_are_classified_by_the_objects_they_read(rule: str, kind: SubjectKind) -> None:
    assert parsed(rule).subject_kind is kind


def test_user_properties_are_unknown_for_a_device() -> None:
    assert holds('user.department -eq "Sales"') == Unknown(
        "user.department is a user property, not a device fact"
    )


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("", "no membership rule"),
        (None, "no membership rule"),
        ('device.deviceOSType -like "Windows"', "unknown operator"),
        ("user.employeeHireDate -ge system.now -plus p1d", "not supported"),
        ('device.devicePhysicalIds -any (_ -eq "a") -and device.x -eq "b"', "ambiguous"),
        ('device.displayName -eq "unterminated', "not closed"),
        ('device.displayName -eq "x" -or', "expected a property"),
        ('device.displayName -match "(?<name>x)"', "not understood"),
        ('device.displayName -eq ["a", "b"]', "use -in"),
        ('device.displayName -in "a"', "needs a [list]"),
        ("device.displayName -startsWith null", "null can only be compared"),
        ('group.objectId -eq "x"', "neither device nor user"),
        ('_ -eq "x"', "only meaningful inside"),
        ('device.displayName -eq "a" device.deviceOSType', "unexpected"),
        ("device.displayName -eq Windows", "expected a value"),
        ("(" * 80 + 'device.a -eq "b"' + ")" * 80, "nested deeper"),
        ('device.a -eq "' + "x" * MAX_RULE_LENGTH + '"', "3072"),
        ("device.a -eq 1 }", "unexpected character"),
    ],
)
def test_unreadable_rules_become_unsupported_with_a_reason(rule: str | None, reason: str) -> None:
    result = parse_membership_rule(rule)

    assert isinstance(result, UnsupportedRule)
    assert reason in result.reason
    assert result.text == (rule or "")


def test_missing_facts_evaluate_to_unknown_unless_the_rest_decides() -> None:
    unknown = 'device.deviceCategory -eq "Kiosk"'
    true = 'device.deviceOSType -eq "Windows"'
    false = 'device.deviceOSType -eq "iOS"'

    assert isinstance(holds(unknown), Unknown)
    assert holds(f"({false}) -and ({unknown})") is False
    assert holds(f"({true}) -or ({unknown})") is True
    assert isinstance(holds(f"({true}) -and ({unknown})"), Unknown)
    assert isinstance(holds(f"-not ({unknown})"), Unknown)


def test_any_over_a_single_valued_property_is_unknown() -> None:
    assert isinstance(holds('device.displayName -any (_ -eq "x")'), Unknown)


def test_item_properties_of_object_collections_are_unknown() -> None:
    facts = {**AUTOPILOT_FACTS, "memberof": ("g1",)}

    assert isinstance(holds('device.memberOf -any (group.objectId -in ["g1"])', facts), Unknown)


def test_holds_every_autopilot_device_recognises_the_documented_rules() -> None:
    universal = [
        '(device.devicePhysicalIDs -any (_ -startsWith "[ZTDid]"))',
        '(device.devicePhysicalIds -contains "[ZTDID]")',
        "device.objectId -ne null",
        '(device.devicePhysicalIds -any _ -eq "[OrderID]:1") -or (device.devicePhysicalIds -any '
        '_ -startsWith "[ZTDId]")',
    ]
    partial = [
        '(device.devicePhysicalIds -any _ -eq "[OrderID]:179887111881")',
        '(device.devicePhysicalIds -any (_ -startsWith "[ZTDId]:5c3f"))',
        '(device.devicePhysicalIds -any (_ -startsWith "[ZTDId]")) -and '
        '(device.deviceModel -eq "x")',
        "user.objectId -ne null",
    ]

    assert [holds_every_autopilot_device(parsed(rule)) for rule in universal] == [True] * 4
    assert [holds_every_autopilot_device(parsed(rule)) for rule in partial] == [False] * 4


# --- property-based ------------------------------------------------------------------------------

SCALAR_PROPERTIES = ("displayName", "deviceOSType", "deviceModel", "enrollmentProfileName")
MULTI_VALUED_PROPERTIES = ("devicePhysicalIds", "systemLabels")
WORDS = ("PF3AAA01", "Windows", "Surface Laptop", "[ZTDId]:abc", "[OrderID]:Contoso", "", "pf3")
STRING_OPERATORS = tuple(
    op
    for op in ComparisonOperator
    if op not in (ComparisonOperator.IN, ComparisonOperator.NOT_IN)
    and op.positive is not ComparisonOperator.MATCH
)
PATTERNS = ("^PF", "\\d+$", "surface", "^\\[ztdid\\]", "a|b", "")

texts = st.text(max_size=10) | st.sampled_from(WORDS)
words = st.sampled_from(WORDS) | st.sampled_from(WORDS).map(lambda word: word[:3].upper())


def comparisons(operand: st.SearchStrategy[Any], values: st.SearchStrategy[str]) -> Any:
    return st.one_of(
        st.builds(Comparison, operand, st.sampled_from(STRING_OPERATORS), values.map(StringValue)),
        st.builds(
            Comparison,
            operand,
            st.sampled_from((ComparisonOperator.MATCH, ComparisonOperator.NOT_MATCH)),
            st.sampled_from(PATTERNS).map(StringValue),
        ),
        st.builds(
            Comparison,
            operand,
            st.sampled_from((ComparisonOperator.IN, ComparisonOperator.NOT_IN)),
            st.lists(values.map(StringValue), max_size=3).map(
                lambda items: ListValue(tuple(items))
            ),
        ),
        st.builds(
            Comparison,
            operand,
            st.sampled_from((ComparisonOperator.EQ, ComparisonOperator.NE)),
            st.just(NullValue()),
        ),
    )


def leaves(values: st.SearchStrategy[str]) -> Any:
    scalar = st.sampled_from(SCALAR_PROPERTIES).map(lambda name: Property("device", name))
    multi = st.sampled_from(MULTI_VALUED_PROPERTIES).map(lambda name: Property("device", name))
    item_condition = st.recursive(
        comparisons(st.just(CollectionItem()), values),
        lambda inner: st.builds(Or, inner, inner) | st.builds(And, inner, inner) | inner.map(Not),
        max_leaves=3,
    )
    return st.one_of(
        comparisons(scalar, values),
        st.builds(
            Comparison,
            st.just(Property("device", "accountEnabled")),
            st.sampled_from((ComparisonOperator.EQ, ComparisonOperator.NE)),
            st.booleans().map(BooleanValue) | st.integers(0, 99).map(NumberValue),
        ),
        st.builds(CollectionCondition, multi, st.sampled_from(tuple(Quantifier)), item_condition),
    )


def expressions(values: st.SearchStrategy[str] = texts) -> Any:
    return st.recursive(
        leaves(values),
        lambda inner: st.builds(And, inner, inner) | st.builds(Or, inner, inner) | inner.map(Not),
        max_leaves=8,
    )


facts_strategy = st.fixed_dictionaries(
    {
        **{name.casefold(): st.sampled_from(WORDS) | st.none() for name in SCALAR_PROPERTIES},
        **{
            name.casefold(): st.lists(st.sampled_from(WORDS), max_size=3).map(tuple)
            for name in MULTI_VALUED_PROPERTIES
        },
        "accountenabled": st.booleans(),
    }
)


@settings(max_examples=150, deadline=None)
@given(expressions())
def test_rendered_rules_parse_back_to_the_same_expression(expression: Expression) -> None:
    rendered = render_rule(expression)

    reparsed = parse_membership_rule(rendered)

    assert isinstance(reparsed, ParsedRule), (rendered, reparsed)
    assert reparsed.expression == expression
    assert render_rule(reparsed) == rendered


@settings(max_examples=100, deadline=None)
@given(expressions(), st.randoms(use_true_random=False))
def test_spelling_variants_of_a_rule_parse_to_the_same_expression(
    expression: Expression, random: Any
) -> None:
    # Entra accepts operators in any case, with or without the hyphen, and spare parentheses.
    def vary(match: re.Match[str]) -> str:
        operator = match.group(0)
        operator = operator.upper() if random.random() < 0.3 else operator
        return operator.lstrip("-") if random.random() < 0.3 else operator

    rendered = render_rule(expression)
    # Vary only the operators, never the text inside string literals.
    pieces = re.split(r'("(?:`.|[^"`])*")', rendered, flags=re.DOTALL)
    varied = [
        piece if index % 2 else re.sub(r"-[a-zA-Z]+(?=[ (])", vary, piece)
        for index, piece in enumerate(pieces)
    ]
    variant = "( " + "".join(varied) + " )"

    reparsed = parse_membership_rule(variant)

    assert isinstance(reparsed, ParsedRule), (variant, reparsed)
    assert reparsed.expression == expression


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parser_never_raises_on_arbitrary_text(text: str) -> None:
    result = parse_membership_rule(text)

    assert isinstance(result, ParsedRule | UnsupportedRule)


RULE_FRAGMENTS = (
    "device.displayName",
    "user.department",
    "_",
    "-any",
    "-all",
    "-eq",
    "eq",
    "-not",
    "not",
    "-and",
    "or",
    "-in",
    "-match",
    "(",
    ")",
    "[",
    "]",
    ",",
    '"x"',
    "'y'",
    "`",
    '"',
    "null",
    "true",
    "42",
    "-le",
    "Direct Reports for",
    "–eq",
    "\\d",
    "assignedPlan.x",
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(RULE_FRAGMENTS), max_size=14).map(" ".join))
def test_parser_never_raises_on_rule_shaped_nonsense(text: str) -> None:
    result = parse_membership_rule(text)

    assert isinstance(result, ParsedRule | UnsupportedRule)


@settings(max_examples=150, deadline=None)
@given(expressions(st.sampled_from(WORDS)), facts_strategy)
def test_not_inverts_the_result(expression: Expression, facts: DeviceFacts) -> None:
    result = evaluate(expression, facts)

    assert isinstance(result, bool)
    assert evaluate(Not(expression), facts) is (not result)


@settings(max_examples=150, deadline=None)
@given(expressions(st.sampled_from(WORDS)), expressions(st.sampled_from(WORDS)), facts_strategy)
def test_and_or_agree_with_python_on_known_facts(
    left: Expression, right: Expression, facts: DeviceFacts
) -> None:
    left_result = evaluate(left, facts)
    right_result = evaluate(right, facts)

    assert evaluate(And(left, right), facts) is (left_result and right_result)
    assert evaluate(Or(left, right), facts) is (left_result or right_result)


# --- predicting who a group holds ----------------------------------------------------------------


def predict(snapshot: TenantSnapshot, group_id: str) -> Any:
    group = snapshot.group(group_id)
    assert group is not None
    return predict_members(
        group,
        snapshot.autopilot_devices,
        snapshot.entra_devices,
        groups={g.id: g for g in snapshot.groups or ()},
    )


def test_ztdid_group_holds_every_registered_device() -> None:
    prediction = predict(healthy_tenant().snapshot(), AP_GROUP_ID)

    assert prediction.is_known
    assert prediction.members == {DEVICE_A_ID, DEVICE_B_ID}
    assert prediction.holds_every_autopilot_device


def test_group_tag_group_holds_devices_whose_autopilot_tag_matches() -> None:
    snapshot = (
        healthy_tenant()
        .add(
            GROUPS,
            dynamic_group(
                "grp-tag",
                "Tag Contoso",
                '(device.devicePhysicalIds -any _ -eq "[OrderID]:Contoso")',
            ),
        )
        .patch(AUTOPILOT_DEVICES, DEVICE_B_ID, groupTag="Fabrikam")
        .snapshot()
    )

    prediction = predict(snapshot, "grp-tag")

    # Device B's Entra object still carries [OrderID]:Contoso; the registration wins.
    assert prediction.members == {DEVICE_A_ID}
    assert not prediction.holds_every_autopilot_device


def test_registration_without_entra_object_is_in_no_group() -> None:
    snapshot = healthy_tenant().remove(DEVICES, DEVICE_A_ENTRA_OBJECT_ID).snapshot()

    prediction = predict(snapshot, AP_GROUP_ID)

    assert prediction.members == {DEVICE_B_ID}
    assert any("no Entra device object" in reason for reason in prediction.reasons)


def test_paused_group_predicts_who_the_rule_would_hold_and_says_so() -> None:
    snapshot = (
        healthy_tenant()
        .patch(GROUPS, AP_GROUP_ID, membershipRuleProcessingState="Paused")
        .snapshot()
    )

    prediction = predict(snapshot, AP_GROUP_ID)

    assert prediction.paused
    assert prediction.members == {DEVICE_A_ID, DEVICE_B_ID}


def test_enrollment_profile_name_rule_reads_the_assigned_profile() -> None:
    rule = f'device.enrollmentProfileName -eq "{PROFILE_NAME}"'
    snapshot = (
        healthy_tenant()
        .add(GROUPS, dynamic_group("grp-profile", "By profile name", rule))
        .patch(AUTOPILOT_DEVICES, DEVICE_B_ID, deploymentProfile=None)
        .snapshot()
    )

    assert predict(snapshot, "grp-profile").members == {DEVICE_A_ID}


def test_rule_on_a_property_the_snapshot_lacks_is_undetermined() -> None:
    snapshot = (
        healthy_tenant()
        .add(GROUPS, dynamic_group("grp-cat", "Kiosks", 'device.deviceCategory -eq "Kiosk"'))
        .snapshot()
    )

    prediction = predict(snapshot, "grp-cat")

    assert not prediction.is_known
    assert prediction.undetermined == {DEVICE_A_ID, DEVICE_B_ID}
    assert "deviceCategory" in (prediction.unknown_reason or "")


def test_unsupported_rule_predicts_unknown_with_the_rule_text() -> None:
    rule = 'device.deviceOSType -like "Windows"'
    snapshot = healthy_tenant().add(GROUPS, dynamic_group("grp-bad", "Bad", rule)).snapshot()

    prediction = predict(snapshot, "grp-bad")

    assert (prediction.is_known, prediction.members, prediction.rule_text) == (False, set(), rule)
    assert "not understood" in (prediction.unknown_reason or "")


def test_user_rule_holds_no_devices() -> None:
    prediction = predict(healthy_tenant().snapshot(), USER_GROUP_ID)

    assert (prediction.is_known, prediction.members) == (True, frozenset())


def test_assigned_group_holds_its_device_members_and_nested_groups() -> None:
    snapshot = (
        healthy_tenant()
        .add(
            GROUPS,
            assigned_group("grp-inner", "Inner", [device_member(DEVICE_A_ENTRA_OBJECT_ID)]),
            assigned_group(
                "grp-outer",
                "Outer",
                [group_member("grp-inner"), user_member("u1"), device_member("not-autopilot")],
            ),
        )
        .snapshot()
    )

    prediction = predict(snapshot, "grp-outer")

    assert (prediction.is_known, prediction.members) == (True, {DEVICE_A_ID})


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        (REMOVE, "could not be read"),
        ([group_member("grp-missing")], "not in the snapshot"),
    ],
)
def test_assigned_group_with_unknown_members_predicts_unknown(members: Any, reason: str) -> None:
    snapshot = (
        healthy_tenant()
        .add(GROUPS, assigned_group("grp-assigned", "Assigned", []))
        .patch(GROUPS, "grp-assigned", members=members)
        .snapshot()
    )

    prediction = predict(snapshot, "grp-assigned")

    assert not prediction.is_known
    assert reason in (prediction.unknown_reason or "")


@pytest.mark.parametrize("collection", [AUTOPILOT_DEVICES, DEVICES])
def test_unreadable_devices_make_every_prediction_unknown(collection: str) -> None:
    snapshot = healthy_tenant().unreadable(collection).snapshot()

    prediction = predict(snapshot, AP_GROUP_ID)

    assert (prediction.is_known, prediction.possible_members) == (False, None)
    assert "could not be read" in (prediction.unknown_reason or "")


def _tagged_fleet(tags: list[str], rule: str) -> tuple[AutopilotDeviceJoin, Any]:
    """One Autopilot device per tag (some repeat, some empty) with its Entra object, and a group."""
    autopilot, entra = [], []
    for index, tag in enumerate(tags):
        physical = [f"[ZTDId]:{index:08d}-0000-4000-8000-000000000000"]
        if tag:
            physical.append(f"[OrderID]:{tag}")
        entra.append(entra_device(f"obj-{index}", f"dev-{index}", f"PC{index}", physical))
        autopilot.append(
            autopilot_device(
                f"ap-{index}",
                serial=f"SN{index}",
                entra_device_id=f"dev-{index}",
                group_tag=tag or None,
            )
        )
    snapshot = TenantSnapshot.from_document(
        {
            "format": "greenscreen.tenant-snapshot/1",
            "tenantId": "t",
            "capturedAt": "2026-11-24T10:00:00Z",
            "collections": {
                AUTOPILOT_DEVICES: autopilot,
                DEVICES: entra,
                GROUPS: [dynamic_group("g-tags", "Tag group", rule)],
            },
        }
    )
    assert snapshot.autopilot_devices is not None
    assert snapshot.entra_devices is not None
    join = AutopilotDeviceJoin.build(snapshot.autopilot_devices, snapshot.entra_devices)
    return join, snapshot.group("g-tags")


@settings(max_examples=60, deadline=None)
@given(
    tags=st.lists(st.sampled_from(["", "Sales", "sales", "Lab", "Kiosk", "A-1"]), max_size=30),
    wanted=st.lists(st.sampled_from(["Sales", "LAB", "Kiosk", "Nope"]), min_size=1, max_size=3),
    combine=st.sampled_from(["or", "and-model", "any-or", "not", "prefix", "prefix-and-eq"]),
)
def test_indexed_prediction_equals_evaluating_every_device(
    tags: list[str], wanted: list[str], combine: str
) -> None:
    clauses = [f'(device.devicePhysicalIds -any _ -eq "[OrderID]:{tag}")' for tag in wanted]
    if combine == "or":
        text = " -or ".join(clauses)
    elif combine == "and-model":
        text = f'{clauses[0]} -and (device.deviceModel -ne "Virtual Machine")'
    elif combine == "any-or":
        inner = " -or ".join(f'_ -eq "[OrderID]:{tag}"' for tag in wanted)
        text = f"(device.devicePhysicalIds -any ({inner}))"
    elif combine == "prefix":
        text = f'(device.devicePhysicalIDs -any (_ -startsWith "[OrderID]:{wanted[0][:1]}"))'
    elif combine == "prefix-and-eq":
        text = f'(device.devicePhysicalIds -any (_ -startsWith "[ztdid]")) -and {clauses[0]}'
    else:
        text = f"-not {clauses[0]}"
    parsed = parse_membership_rule(text)
    assert isinstance(parsed, ParsedRule)
    join, group = _tagged_fleet(tags, text)
    brute_force = {
        device_id for device_id, facts in join.facts.items() if evaluate(parsed, facts) is True
    }
    prediction = predict_group_members(group, join, {})
    assert prediction.members == brute_force
