from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.api import lockout_message
from accounts.forms import LoginForm, UserCreateForm, UserEditForm
from accounts.models import AuditEvent, DeletionRequest, User
from accounts.permissions import administrator_required
from accounts.services import (
    deletion_request_create,
    user_anonymise,
    user_create,
    user_data_export,
    user_update,
)
from core.exports import csv_response


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


def lockout(request, credentials, *args, **kwargs):
    """django-axes calls this instead of its own page: the sign-in form again (JSON for the API), with the
    cool-off stated. Known and unknown usernames get the same answer."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": lockout_message()}, status=429)
    form = LoginForm(request, data=request.POST or None)
    return render(request, "accounts/login.html", {"form": form, "lockout": lockout_message()}, status=429)


def _form_errors_from(exc: ValidationError, form) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@administrator_required
def user_list(request):
    users = User.objects.all()
    query = request.GET.get("q", "").strip()
    if query:
        users = users.filter(username__icontains=query) | users.filter(region__startswith=query)
    page = Paginator(users.order_by("username"), 50).get_page(request.GET.get("page"))
    return render(request, "accounts/user_list.html", {"page": page, "q": query})


@administrator_required
def user_new(request):
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors_from(exc, form)
        else:
            messages.success(request, _("User %(name)s created.") % {"name": user.username})
            return redirect("accounts:user_edit", pk=user.pk)
    return render(request, "accounts/user_form.html", {"form": form, "creating": True})


@administrator_required
def user_edit(request, pk):
    target = get_object_or_404(User, pk=pk)
    initial = {f: getattr(target, f) for f in ("first_name", "last_name", "email", "role", "region", "is_active")}
    form = UserEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        reason = fields.pop("reason")
        try:
            user_update(actor=request.user, user=target, reason=reason, **fields)
        except ValidationError as exc:
            _form_errors_from(exc, form)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("accounts:user_edit", pk=target.pk)
    events = AuditEvent.objects.filter(target_type="accounts.user", target_id=str(target.pk))[:50]
    return render(request, "accounts/user_form.html", {"form": form, "target": target, "events": events})


@administrator_required
def audit_list(request):
    events = AuditEvent.objects.all()
    action = request.GET.get("action", "").strip()
    if action:
        events = events.filter(action__startswith=action)
    if request.GET.get("format") == "csv":
        header = ["created_at", "actor", "action", "target_type", "target_id", "target", "changes", "reason"]
        rows = (
            [
                e.created_at.isoformat(),
                e.actor_username,
                e.action,
                e.target_type,
                e.target_id,
                e.target_repr,
                e.changes,
                e.reason,
            ]
            for e in events.iterator()
        )
        return csv_response("audit.csv", header, rows)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/audit_list.html", {"page": page, "action": action})


@login_required
def my_data(request):
    """What the platform holds about you; download it, or ask for its deletion."""
    if request.method == "POST":
        deletion_request_create(user=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, _("Your deletion request was recorded; an administrator will carry it out."))
        return redirect("accounts:me")
    data = user_data_export(user=request.user)
    if request.GET.get("format") == "json":
        response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
        response["Content-Disposition"] = f'attachment; filename="mis-datos-{request.user.username}.json"'
        return response
    pending = DeletionRequest.objects.filter(user=request.user, done_at__isnull=True).first()
    return render(request, "accounts/my_data.html", {"data": data, "pending": pending})


@administrator_required
def deletion_requests(request):
    if request.method == "POST":
        target = get_object_or_404(User, pk=request.POST.get("user"))
        user_anonymise(actor=request.user, user=target)
        messages.success(request, _("Personal data removed."))
        return redirect("accounts:deletion_requests")
    return render(
        request, "accounts/deletion_requests.html", {"requests": DeletionRequest.objects.select_related("user")}
    )
