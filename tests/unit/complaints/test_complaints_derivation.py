"""The whole-complaint category (seed 003 table 2 step 2; issue 6), as a pure projection of the
issue outcomes: every combination of outcomes for one to five issues, through the bare function
and through the decider, plus properties over random histories of changed outcomes."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

import pytest
from helpers_complaints import Run, finalise, of_type, outcome, record_complaint, refusal
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.catalogue.complaints import (
    ComplaintCategory,
    ComplaintCategoryDerived,
    ComplaintFinalised,
    ComplaintsReasonCode,
    IssueOutcome,
)
from services.complaints.domain import CustomerComplaints, derive_category

U, N, W, E = IssueOutcome.UPHELD, IssueOutcome.NOT_UPHELD, IssueOutcome.WITHDRAWN, IssueOutcome.ESCALATED
LEVEL_2_OUTCOMES = (U, N, W)


def expected(outcomes: Sequence[IssueOutcome]) -> ComplaintCategory:
    """Issue 6's rules restated over the *set* of outcomes — written independently of the code."""
    kinds = set(outcomes)
    if E in kinds:
        return ComplaintCategory.ESCALATED
    if kinds == {W}:
        return ComplaintCategory.WITHDRAWN
    if kinds - {W} == {U}:
        return ComplaintCategory.UPHELD
    if U not in kinds:
        return ComplaintCategory.NOT_UPHELD
    return ComplaintCategory.PARTIALLY_UPHELD


def combinations(values: Sequence[IssueOutcome], most: int = 5) -> list[tuple[IssueOutcome, ...]]:
    return [c for n in range(1, most + 1) for c in itertools.product(values, repeat=n)]


ALL = combinations(tuple(IssueOutcome))
LEVEL_2 = combinations(LEVEL_2_OUTCOMES)


def test_every_combination_of_outcomes_for_one_to_five_issues_gets_the_category_of_the_rules() -> None:
    assert len(ALL) == 4 + 16 + 64 + 256 + 1024
    categories: Counter[ComplaintCategory] = Counter()
    for outcomes in ALL:
        category = derive_category(outcomes)
        assert category == expected(outcomes), outcomes
        categories[category] += 1
    # Each rule is reached, and the counts follow from the rules: e.g. WITHDRAWN only when every
    # issue is withdrawn (once per issue count), ESCALATED whenever any is (4^n - 3^n).
    assert categories[ComplaintCategory.WITHDRAWN] == 5
    assert categories[ComplaintCategory.ESCALATED] == sum(4**n - 3**n for n in range(1, 6))
    assert categories[ComplaintCategory.UPHELD] == sum(2**n - 1 for n in range(1, 6))
    assert categories[ComplaintCategory.NOT_UPHELD] == sum(2**n - 1 for n in range(1, 6))
    assert sum(categories.values()) == len(ALL)


@pytest.mark.parametrize(
    ("outcomes", "category"),
    [
        ((U,), ComplaintCategory.UPHELD),
        ((N,), ComplaintCategory.NOT_UPHELD),
        ((W,), ComplaintCategory.WITHDRAWN),
        ((E,), ComplaintCategory.ESCALATED),
        ((U, U, W), ComplaintCategory.UPHELD),  # withdrawn issues are left out of upheld/not upheld
        ((N, W, W), ComplaintCategory.NOT_UPHELD),
        ((U, N), ComplaintCategory.PARTIALLY_UPHELD),
        ((U, N, W), ComplaintCategory.PARTIALLY_UPHELD),
        ((W, W, W, W, W), ComplaintCategory.WITHDRAWN),
        ((W, W, E), ComplaintCategory.ESCALATED),  # escalation comes first, even over withdrawal
        ((U, U, U, U, E), ComplaintCategory.ESCALATED),
    ],
)
def test_worked_examples_of_the_rules(
    outcomes: tuple[IssueOutcome, ...], category: ComplaintCategory
) -> None:
    assert derive_category(outcomes) is category


def test_there_is_no_category_without_issues() -> None:
    with pytest.raises(ValueError):
        derive_category(())


def test_through_the_decider_every_level_1_combination_is_derived_once_the_last_issue_has_its_outcome() -> (
    None
):
    for outcomes in ALL:
        run = Run()
        complaint = record_complaint(issues=len(outcomes))
        run(complaint)
        for index, value in enumerate(outcomes[:-1]):
            assert of_type(run(outcome(complaint, index, value)), ComplaintCategoryDerived) == [], outcomes
            assert run.current.complaints[0].category is None
        (derived,) = of_type(
            run(outcome(complaint, len(outcomes) - 1, outcomes[-1])), ComplaintCategoryDerived
        )
        assert derived.category == expected(outcomes), outcomes
        assert derived.issue_outcomes == {
            str(i.issue_id): o for i, o in zip(complaint.issues, outcomes, strict=True)
        }
        assert run.current.complaints[0].category == expected(outcomes)


def test_through_the_decider_every_level_2_combination_is_derived_and_escalated_is_refused() -> None:
    for outcomes in LEVEL_2:
        run = Run()
        complaint = record_complaint(issues=len(outcomes), level=2)
        run(complaint)
        rejected = refusal(run(outcome(complaint, 0, E)))
        assert rejected.reason_code is ComplaintsReasonCode.ESCALATION_NOT_ALLOWED_AT_LEVEL_2
        for index, value in enumerate(outcomes):
            events = run(outcome(complaint, index, value))
        (derived,) = of_type(events, ComplaintCategoryDerived)
        assert derived.category == expected(outcomes) != ComplaintCategory.ESCALATED
        (final,) = of_type(run(finalise(complaint.complaint_id)), ComplaintFinalised)
        assert final.category == derived.category


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

outcome_lists = st.lists(st.sampled_from(list(IssueOutcome)), min_size=1, max_size=20)


@given(outcome_lists.flatmap(lambda outcomes: st.tuples(st.just(outcomes), st.permutations(outcomes))))
def test_the_category_does_not_depend_on_the_order_of_the_issues(
    pair: tuple[list[IssueOutcome], list[IssueOutcome]],
) -> None:
    outcomes, shuffled = pair
    assert derive_category(shuffled) is derive_category(outcomes) is expected(outcomes)


@given(outcome_lists, st.sampled_from([U, N, E]))
def test_adding_a_withdrawn_issue_changes_nothing_unless_every_issue_is_withdrawn(
    outcomes: list[IssueOutcome], other: IssueOutcome
) -> None:
    with_other = [*outcomes, other]
    assert derive_category([*with_other, W]) is derive_category(with_other)


@given(outcome_lists)
def test_any_escalated_issue_makes_the_complaint_escalated(outcomes: list[IssueOutcome]) -> None:
    assert (derive_category(outcomes) is ComplaintCategory.ESCALATED) == (E in outcomes)


# A history: (issue index, outcome) changes, applied in order to a complaint with `issues` issues.
histories = st.integers(min_value=1, max_value=5).flatmap(
    lambda issues: st.tuples(
        st.just(issues),
        st.lists(
            st.tuples(st.integers(min_value=0, max_value=issues - 1), st.sampled_from(list(IssueOutcome))),
            max_size=25,
        ),
    )
)


@settings(max_examples=300, deadline=None)
@given(histories)
def test_while_open_each_change_re_derives_the_category_as_the_projection_of_the_current_outcomes(
    history: tuple[int, list[tuple[int, IssueOutcome]]],
) -> None:
    issues, changes = history
    run = Run()
    complaint = record_complaint(issues=issues)
    run(complaint)
    current: dict[int, IssueOutcome] = {}
    for index, value in changes:
        before = dict(current)
        events = run(outcome(complaint, index, value))
        current[index] = value
        derived = of_type(events, ComplaintCategoryDerived)
        complete = len(current) == issues
        if not complete:
            assert derived == [], "never derived before every issue has an outcome"
            assert run.current.complaints[0].category is None
            continue
        projection = expected([current[i] for i in range(issues)])
        if current == before:
            assert derived == [], "the same outcome again changes nothing to re-derive"
        else:
            (event,) = derived
            assert event.category is projection
            # The event carries its inputs: the category can be rebuilt from them alone.
            assert derive_category(list(event.issue_outcomes.values())) is event.category
        assert run.current.complaints[0].category is projection
        # Rebuilt from the stored form of the state (what the store keeps), it is the same.
        stored = CustomerComplaints.model_validate(run.current.model_dump(mode="json"))
        assert stored.complaints[0].category is projection
