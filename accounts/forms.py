from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import Role


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("Unable to sign in with that username and password."),
        "inactive": _("Unable to sign in with that username and password."),
    }


class UserCreateForm(forms.Form):
    username = forms.RegexField(label=_("Username"), regex=r"^[\w.@+-]+\Z", max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    region = forms.CharField(
        label=_("Region"),
        max_length=700,
        required=False,
        help_text=_("PE for national, a department (08), a province (0801) or districts (080101,080102)."),
    )
    password = forms.CharField(label=_("Initial password"), widget=forms.PasswordInput, required=False)


class UserEditForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    region = forms.CharField(
        label=_("Region"),
        max_length=700,
        required=False,
        help_text=_("PE for national, a department (08), a province (0801) or districts (080101,080102)."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False)
    reason = forms.CharField(
        label=_("Reason for the change"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
