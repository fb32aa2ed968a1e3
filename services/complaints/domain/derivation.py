"""The whole-complaint category, derived from the issues' outcomes (seed 003 table 2; issue 6).

The category is never stored: :func:`derive_category` projects it from the issue outcomes
whenever it is needed, so it can always be rebuilt from them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from uuid import UUID

from contracts.catalogue.complaints import (
    ComplaintCategory,
    ComplaintLevel,
    IssueOutcome,
)


def derive_category(outcomes: Sequence[IssueOutcome]) -> ComplaintCategory:
    """The whole-complaint category from the outcome of every issue, by these rules, in order:

    1. any issue escalated → ESCALATED;
    2. else every issue withdrawn → WITHDRAWN;
    3. else, over the issues not withdrawn: all upheld → UPHELD;
    4. none upheld → NOT_UPHELD;
    5. otherwise → PARTIALLY_UPHELD.

    Only defined once every issue has an outcome (seed 003 table 2 step 2: "When all the
    Categories and Issues have been finalised"); a complaint always has at least one issue.
    """
    if not outcomes:
        raise ValueError("a complaint has at least one issue")
    if IssueOutcome.ESCALATED in outcomes:
        return ComplaintCategory.ESCALATED
    considered = [o for o in outcomes if o is not IssueOutcome.WITHDRAWN]
    if not considered:
        return ComplaintCategory.WITHDRAWN
    upheld = sum(1 for o in considered if o is IssueOutcome.UPHELD)
    if upheld == len(considered):
        return ComplaintCategory.UPHELD
    if upheld == 0:
        return ComplaintCategory.NOT_UPHELD
    return ComplaintCategory.PARTIALLY_UPHELD


#: Seed 003 table 2 step 1: Level 1 issues are "upheld, not upheld, withdrawn or escalated";
#: Level 2 issues "upheld, not upheld, withdrawn".
ALLOWED_OUTCOMES: dict[ComplaintLevel, frozenset[IssueOutcome]] = {
    ComplaintLevel.LEVEL_1: frozenset(IssueOutcome),
    ComplaintLevel.LEVEL_2: frozenset(IssueOutcome) - {IssueOutcome.ESCALATED},
}

#: Seed 003 table 1 step 4 "Prepare feedback": "If the complaint is upheld" — the whole complaint's
#: category, which table 2 step 2 names among "upheld, partially upheld, not upheld, withdrawn or
#: escalated". Only UPHELD prepares feedback (issue 20 item 8): a partially upheld complaint is a
#: different category, and its staff are recorded for the whole complaint, not per issue, so feedback
#: could reach a staff member involved only in the issues that were not upheld.
FEEDBACK_CATEGORIES = frozenset({ComplaintCategory.UPHELD})

FEEDBACK_SUMMARY_MAX = 500  # StaffFeedbackPrepared.summary is ShortText


def level_2_complaint_id(level_1_complaint_id: UUID) -> UUID:
    """The id of the Level 2 complaint an escalation opens: derived, so deciding again yields the same."""
    return uuid.uuid5(level_1_complaint_id, "level-2")
