"""``{% load admissions %}``: whether the signed-in user reads the admissions report (the admin's
home page and the inquiries' list link it for them only)."""

from django import template

from clinic.selectors import user_has_role
from programs.services.inquiries import ADMISSIONS_REPORT_ROLES

register = template.Library()


@register.filter
def reads_the_admissions_report(user) -> bool:
    return bool(
        user.is_active and (user.is_superuser or user_has_role(user, *ADMISSIONS_REPORT_ROLES))
    )
