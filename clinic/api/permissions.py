"""Role permissions. Object scoping is in the selectors: every queryset is the caller's."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from clinic.models import Role
from clinic.selectors import user_has_role


class IsStaff(BasePermission):
    """Any staff role (or a superuser). Patients' app accounts have no role and get 403."""

    message = "This endpoint is for clinic staff."

    def has_permission(self, request, view):
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (user.is_superuser or user_has_role(user, *Role.values))
        )


def roles_allowed(*, read: tuple[str, ...], write: tuple[str, ...] = ()) -> type[BasePermission]:
    """A permission class: ``read`` roles may use safe methods, ``write`` roles anything."""

    class RolePermission(BasePermission):
        message = "Your role does not allow this action."

        def has_permission(self, request, view):
            user = request.user
            if not (user and user.is_authenticated):
                return False
            if user.is_superuser:
                return True
            allowed = read + write if request.method in SAFE_METHODS else write
            return user_has_role(user, *allowed)

    RolePermission.__name__ = f"Roles(read={'/'.join(read)}, write={'/'.join(write) or '-'})"
    return RolePermission
