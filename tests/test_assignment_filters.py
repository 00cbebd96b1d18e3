"""Assignment filters: parsed and evaluated on what a device is before it enrolls, per device."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.applicability import Applicability, tenant_targeting
from rules.assignment_filters import (
    ParsedFilter,
    evaluate_filter,
    parse_filter_rule,
)
from rules.checks.payloads import app_001_win32_installs_as_system
from rules.context import RuleContext
from rules.device_readiness import Readiness, device_readiness
from rules.engine import Rule, evaluate_snapshot, run_rule
from rules.findings import Severity, Status
from rules.membership_rules import (
    And,
    Comparison,
    ComparisonOperator,
    ListValue,
    Not,
    Or,
    Property,
    StringValue,
    Unknown,
    UnsupportedRule,
    render_rule,
)
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import ASSIGNMENT_FILTERS, AUTOPILOT_DEVICES, MOBILE_APPS
from tests.tenant_builder import (
    AGENT_APP_ID,
    AP_GROUP_ID,
    DEVICE_A_ID,
    DEVICE_B_ID,
    PROFILE_ID,
    PROFILE_NAME,
    SURFACE_FILTER_ID,
    TenantBuilder,
    all_devices,
    healthy_tenant,
    include_group,
    win32_app,
)

MICROSOFT_EXAMPLE = (
    '(device.model -eq "Surface Laptop 5") and (device.manufacturer -startsWith "Micro")'
)
HP_MODEL = "HP EliteBook 840 G10"


def facts(**values: str) -> dict[str, Any]:
    return {key.casefold(): value for key, value in values.items()}


def parsed(text: str) -> ParsedFilter:
    result = parse_filter_rule(text)
    assert isinstance(result, ParsedFilter), result
    return result


# --- the rule language ---------------------------------------------------------------------------


def test_microsofts_example_matches_the_model_and_manufacturer_it_names() -> None:
    rule = parsed(MICROSOFT_EXAMPLE)

    assert evaluate_filter(rule, facts(model="Surface Laptop 5", manufacturer="Microsoft")) is True
    assert evaluate_filter(rule, facts(model="surface laptop 5", manufacturer="MICROSOFT")) is True
    assert evaluate_filter(rule, facts(model=HP_MODEL, manufacturer="HP")) is False
    assert rule.properties == {"model", "manufacturer"}


def test_a_property_read_at_enrollment_is_unknown_never_a_match() -> None:
    rule = parsed('(device.deviceName -startsWith "CON-") or (device.osVersion -eq "10.0")')

    result = evaluate_filter(rule, facts(model="Surface Laptop 5", manufacturer="Microsoft"))

    assert isinstance(result, Unknown)
    assert "before the device enrolls" in result.reason


def test_a_known_false_side_decides_an_and_despite_an_unknown_one() -> None:
    rule = parsed('(device.deviceName -eq "X") and (device.model -eq "Surface Laptop 5")')

    assert evaluate_filter(rule, facts(model=HP_MODEL)) is False


def test_in_lists_and_operators_without_hyphens_are_read() -> None:
    rule = parsed(
        'device.model in ["Surface Laptop 5", "Surface Pro 9"] '
        'and not (device.manufacturer eq "HP")'
    )

    assert evaluate_filter(rule, facts(model="Surface Pro 9", manufacturer="Microsoft")) is True


def test_rules_that_are_not_windows_device_filters_are_unsupported_with_a_reason() -> None:
    cases = {
        '(device.deviceModel -eq "x")': "not a Windows filter property",
        '(user.department -eq "x")': "device properties only",
        '(device.devicePhysicalIds -any _ -eq "x")': "no -any / -all",
        "(device.model -eq": "",
        "": "no rule",
    }
    for text, reason in cases.items():
        result = parse_filter_rule(text)
        assert isinstance(result, UnsupportedRule), text
        assert reason in result.reason, (text, result.reason)


FILTER_PROPERTIES = (
    "model",
    "manufacturer",
    "enrollmentProfileName",
    "deviceOwnership",
    "deviceTrustType",
    "deviceName",
    "osVersion",
    "operatingSystemSKU",
    "cpuArchitecture",
    "deviceCategory",
)
WORDS = ("Surface Laptop 5", "Microsoft", "HP", "Corporate", PROFILE_NAME, "", 'a"b', "x`y")
SIMPLE_OPERATORS = tuple(
    op for op in ComparisonOperator if op not in (ComparisonOperator.IN, ComparisonOperator.NOT_IN)
)


def filter_expressions() -> Any:
    prop = st.sampled_from(FILTER_PROPERTIES).map(lambda name: Property("device", name))
    word = st.sampled_from(WORDS)
    leaf = st.one_of(
        st.builds(
            Comparison,
            prop,
            st.sampled_from(SIMPLE_OPERATORS).filter(
                lambda op: op.positive is not ComparisonOperator.MATCH
            ),
            word.map(StringValue),
        ),
        st.builds(
            Comparison,
            prop,
            st.sampled_from((ComparisonOperator.IN, ComparisonOperator.NOT_IN)),
            st.lists(word.map(StringValue), max_size=3).map(lambda items: ListValue(tuple(items))),
        ),
    )
    return st.recursive(
        leaf,
        lambda inner: st.builds(And, inner, inner) | st.builds(Or, inner, inner) | inner.map(Not),
        max_leaves=8,
    )


known_before_enrollment = st.fixed_dictionaries(
    {
        "model": st.sampled_from(WORDS),
        "manufacturer": st.sampled_from(WORDS),
        "enrollmentprofilename": st.just(PROFILE_NAME),
        "deviceownership": st.just("Corporate"),
        "devicetrusttype": st.just("Azure AD joined"),
    }
)


@settings(max_examples=150, deadline=None)
@given(filter_expressions())
def test_rendered_filter_rules_parse_back_to_the_same_rule(expression: Any) -> None:
    rendered = render_rule(expression)

    reparsed = parse_filter_rule(rendered)

    assert isinstance(reparsed, ParsedFilter), (rendered, reparsed)
    assert reparsed.rule.expression == expression
    assert render_rule(reparsed.rule) == rendered


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_filter_parser_never_raises_on_arbitrary_text(text: str) -> None:
    assert isinstance(parse_filter_rule(text), ParsedFilter | UnsupportedRule)


@settings(max_examples=200, deadline=None)
@given(filter_expressions(), known_before_enrollment)
def test_evaluation_never_raises_and_never_matches_on_an_unknown_property(
    expression: Any, known: dict[str, Any]
) -> None:
    rule = parsed(render_rule(expression))

    result = evaluate_filter(rule, known)

    assert result is True or result is False or isinstance(result, Unknown)
    if isinstance(result, bool):
        # A decided answer is the same whatever the properties read at enrollment turn out to be.
        late = {"devicename": "CON-1", "osversion": "10.0", "operatingsystemsku": "Enterprise"}
        assert evaluate_filter(rule, {**known, **late}) is result


# --- applicability: the three cases the same warning used to cover -------------------------------


def with_hp_device_b(tenant: TenantBuilder) -> TenantBuilder:
    return tenant.patch(AUTOPILOT_DEVICES, DEVICE_B_ID, model=HP_MODEL, manufacturer="HP")


def agent_with_filter(rule: str, filter_type: str = "include") -> TenantSnapshot:
    return (
        healthy_tenant()
        .patch(ASSIGNMENT_FILTERS, SURFACE_FILTER_ID, rule=rule)
        .assign(
            MOBILE_APPS,
            AGENT_APP_ID,
            include_group(
                AP_GROUP_ID, intent="required", filter_id=SURFACE_FILTER_ID, filter_type=filter_type
            ),
        )
        .snapshot()
    )


def agent_answer(snapshot: TenantSnapshot) -> tuple[Applicability, frozenset[str], frozenset[str]]:
    app = snapshot.mobile_app(AGENT_APP_ID)
    profile = snapshot.autopilot_profile(PROFILE_ID)
    assert app is not None
    assert profile is not None
    answer = tenant_targeting(snapshot).device_phase_applicability(app, profile)
    reach = answer.device_reach()
    return answer.verdict, reach.reached, reach.missed


def test_include_filter_matching_every_device_applies_to_all_of_them() -> None:
    verdict, reached, missed = agent_answer(
        agent_with_filter('(device.manufacturer -startsWith "Micro")')
    )

    assert (verdict, reached, missed) == (
        Applicability.APPLIES,
        {DEVICE_A_ID, DEVICE_B_ID},
        frozenset(),
    )


def test_exclude_filter_removing_every_autopilot_device_does_not_apply() -> None:
    # Every Autopilot device is corporate-owned: the exclude filter removes them all.
    snapshot = agent_with_filter('(device.deviceOwnership -eq "Corporate")', "exclude")

    assert agent_answer(snapshot) == (
        Applicability.DOES_NOT_APPLY,
        frozenset(),
        {DEVICE_A_ID, DEVICE_B_ID},
    )


def test_exclude_filter_on_the_profile_name_does_not_apply() -> None:
    snapshot = agent_with_filter(f'(device.enrollmentProfileName -eq "{PROFILE_NAME}")', "exclude")

    assert agent_answer(snapshot)[0] is Applicability.DOES_NOT_APPLY


def test_include_filter_matching_no_device_does_not_apply() -> None:
    verdict, reached, missed = agent_answer(agent_with_filter('(device.model -eq "Surface Pro 9")'))

    assert (verdict, reached, missed) == (
        Applicability.DOES_NOT_APPLY,
        frozenset(),
        {DEVICE_A_ID, DEVICE_B_ID},
    )


def test_the_three_cases_get_three_different_answers_not_one_warning() -> None:
    answers = {
        agent_answer(agent_with_filter('(device.manufacturer -startsWith "Micro")'))[0],
        agent_answer(agent_with_filter('(device.deviceOwnership -eq "Corporate")', "exclude"))[0],
        agent_answer(agent_with_filter('(device.model -eq "Surface Pro 9")'))[0],
    }

    assert Applicability.CONDITIONAL not in answers
    assert answers == {Applicability.APPLIES, Applicability.DOES_NOT_APPLY}


def test_filter_splitting_the_profile_reaches_only_the_matching_device() -> None:
    snapshot = (
        with_hp_device_b(healthy_tenant())
        .assign(
            MOBILE_APPS,
            AGENT_APP_ID,
            include_group(AP_GROUP_ID, intent="required", filter_id=SURFACE_FILTER_ID),
        )
        .snapshot()
    )

    assert agent_answer(snapshot) == (Applicability.APPLIES, {DEVICE_A_ID}, {DEVICE_B_ID})


def test_filter_on_the_device_name_leaves_every_device_undecided() -> None:
    snapshot = agent_with_filter('(device.deviceName -startsWith "CON-")')
    app = snapshot.mobile_app(AGENT_APP_ID)
    profile = snapshot.autopilot_profile(PROFILE_ID)
    assert app is not None
    assert profile is not None

    answer = tenant_targeting(snapshot).device_phase_applicability(app, profile)

    assert answer.verdict is Applicability.CONDITIONAL
    assert answer.device_reach().undecided == {DEVICE_A_ID, DEVICE_B_ID}


def test_model_filter_on_a_profile_without_registered_devices_stays_conditional() -> None:
    # Devices registered later meet the filter when they enroll: no answer yet.
    snapshot = (
        healthy_tenant()
        .empty(AUTOPILOT_DEVICES)
        .assign(
            MOBILE_APPS, AGENT_APP_ID, all_devices(intent="required", filter_id=SURFACE_FILTER_ID)
        )
        .snapshot()
    )

    assert agent_answer(snapshot)[0] is Applicability.CONDITIONAL


# --- devices at risk and per-device readiness -----------------------------------------------------


def surface_only_user_context_app() -> TenantBuilder:
    return with_hp_device_b(healthy_tenant()).add(
        MOBILE_APPS,
        win32_app(
            "app-surface-tool",
            "Surface tool",
            run_as="user",
            assignments=[
                include_group(AP_GROUP_ID, intent="required", filter_id=SURFACE_FILTER_ID)
            ],
        ),
    )


def test_devices_at_risk_are_only_those_the_filter_lets_through() -> None:
    context = RuleContext.for_snapshot(surface_only_user_context_app().snapshot())

    found = run_rule(Rule.from_module(app_001_win32_installs_as_system), context)

    failing = {(f.subject.id, f.status, f.devices) for f in found if f.status is Status.FAIL}
    assert failing == {("app-surface-tool", Status.FAIL, (DEVICE_A_ID,))}


def test_per_device_readiness_honours_the_filter() -> None:
    snapshot = surface_only_user_context_app().snapshot()
    evaluation = evaluate_snapshot(snapshot)

    readiness = device_readiness(snapshot, evaluation.findings, fail_on=Severity.WARNING)

    assert {
        (device.device_id, blocker.rule_id, device.readiness)
        for device in readiness
        for blocker in device.blockers
    } == {
        (DEVICE_A_ID, "APP-001", Readiness.RED),
        # The ESP's blocking list leaves the app to the user flow: only where the filter lets it.
        (DEVICE_A_ID, "ESP-006", Readiness.RED),
    }
    assert {device.device_id: device.readiness for device in readiness}[
        DEVICE_B_ID
    ] is Readiness.GREEN


FILTER_TEXT_PIECES = (
    "(device.model",
    "device.manufacturer",
    "device.deviceName",
    "-eq",
    "-ne",
    "startsWith",
    "-in",
    '"Surface Laptop 6"',
    '"Micro"',
    '["a", "b"]',
    "and",
    "or",
    "-not",
    "(",
    ")",
    "user.department",
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(FILTER_TEXT_PIECES), max_size=10).map(" ".join) | st.text(max_size=40),
    st.sampled_from(("include", "exclude")),
)
def test_applicability_never_raises_whatever_the_filter_says(rule: str, filter_type: str) -> None:
    verdict, reached, missed = agent_answer(agent_with_filter(rule, filter_type))

    assert verdict in Applicability
    assert not reached & missed
    # Unknown is never a pass: a filter that is not understood decides nothing.
    if not isinstance(parse_filter_rule(rule), ParsedFilter):
        assert verdict is Applicability.CONDITIONAL
