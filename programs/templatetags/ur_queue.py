"""``{% load ur_queue %}``: whether the signed-in user works the UR queue (the admin's home page
links its board for them only)."""

from django import template

from clinic.selectors import user_has_role
from programs.services.authorizations import UR_QUEUE_ROLES

register = template.Library()


@register.filter
def works_the_ur_queue(user) -> bool:
    return bool(user.is_active and (user.is_superuser or user_has_role(user, *UR_QUEUE_ROLES)))
