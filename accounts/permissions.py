"""Role checks for the API. Region checks live in each resource's `..._for_user` queryset."""

from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsAdministrator(BasePermission):
    message = "Only administrators may do this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_administrator)


class IsAnalystOrAdministrator(BasePermission):
    message = "Only analysts and administrators may do this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.can_analyse)


class ReadOnlyOrAnalyst(BasePermission):
    """Everyone signed in reads; analysts and administrators write."""

    message = "Only analysts and administrators may change this."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or request.user.can_analyse


class ReadOnlyOrAdministrator(BasePermission):
    message = "Only administrators may change this."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or request.user.is_administrator


def _page_check(test):
    """Decorator for page views: anonymous users go to sign in, signed-in users failing `test` get 403."""
    from functools import wraps

    from django.contrib.auth.views import redirect_to_login
    from django.core.exceptions import PermissionDenied

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not test(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


administrator_required = _page_check(lambda user: user.is_administrator)
analyst_required = _page_check(lambda user: user.can_analyse)
