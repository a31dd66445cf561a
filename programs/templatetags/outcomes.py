"""``{% load outcomes %}``: whether the signed-in user reads the outcomes report (the admin's home
page links it for them only)."""

from django import template

from clinic.selectors import user_has_role
from programs.reports_outcomes import OUTCOMES_REPORT_ROLES

register = template.Library()


@register.filter
def reads_the_outcomes_report(user) -> bool:
    return bool(
        user.is_active and (user.is_superuser or user_has_role(user, *OUTCOMES_REPORT_ROLES))
    )
