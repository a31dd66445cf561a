"""``{% load notes_due %}``: whether the signed-in user has notes due to see (clinicians and
supervisors: the admin's home page links the page for them only)."""

from django import template

from clinic.selectors import user_has_role
from programs.api.notes_due import NOTES_DUE_ROLES

register = template.Library()


@register.filter
def has_notes_due_page(user) -> bool:
    return bool(user.is_active and (user.is_superuser or user_has_role(user, *NOTES_DUE_ROLES)))
