"""The shape of the reports' statements that keeps their cost to the page's rows at any scale
(bench/README.md, the reports benchmark): PostgreSQL plans them by estimates, so these pin the
forms that estimate well rather than a plan, which a test database this small cannot show."""

import re

import pytest
from django.db.models import Exists

from programs.models import Enrollment
from programs.reports import _first_and_latest_responses
from programs.selectors import is_readmission, readmission_links

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("of", ["admission", "discharge"])
def test_the_readmission_rule_tests_transitions_with_not_exists(of):
    # given the rule as the census, the board and the continuity report use it
    stays = Enrollment.objects.filter(Exists(readmission_links(of=of)))

    # when
    sql = str(stays.query)

    # then: no LEFT JOIN ... IS NULL, whose estimate had the planner hash every clinic's stays
    assert "LEFT OUTER JOIN" not in sql
    assert re.search(r'NOT \(?EXISTS\(SELECT 1 AS "a" FROM "programs_transition"', sql), sql


def test_the_census_readmission_count_joins_no_transition():
    sql = str(Enrollment.objects.filter(is_readmission()).query)

    assert "LEFT OUTER JOIN" not in sql


def test_the_board_s_measures_bound_the_joined_stays_by_the_page():
    # given a page of stays
    ids = [11, 12, 13]

    # when
    sql = str(_first_and_latest_responses(ids).query)

    # then the enrollment joined for its program is cut by the same ids (an IN list is not
    # carried across a join: without it every stay of every clinic was hashed)
    joined = re.search(r'JOIN "programs_enrollment" (\w+) ON \((.*?)\) WHERE', sql)
    assert joined, sql
    alias, condition = joined.groups()
    assert f'{alias}."id" IN (11, 12, 13)' in condition
