from django import forms
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from kameng.accounts import services
from kameng.accounts.error_codes import AccountErrorCode
from kameng.core.errors import DomainError


class LoginForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150)
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput, max_length=256)


class RegisterForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150)
    email = forms.EmailField(label=_("邮箱"), max_length=254)
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput, max_length=256, min_length=8)


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Django's password change, with the current password checked as a login is: through authenticate() and so
    through the login throttle (kameng.accounts.backends). Django's own clean_old_password calls
    user.check_password() directly, so whoever held a stolen session could guess the current password here without
    limit. Every form that asks for the current password is this one (a test in tests/security guards it)."""

    def __init__(self, user, *args, request: HttpRequest, **kwargs):
        self.request = request  # the throttle counts by the client's address, and records a refusal on it
        super().__init__(user, *args, **kwargs)

    @sensitive_variables("old_password")
    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        try:
            services.check_own_password(request=self.request, user=self.user, password=old_password)
        except DomainError as exc:
            if exc.code is AccountErrorCode.TOO_MANY_ATTEMPTS:
                raise ValidationError(exc.message, code=exc.code.value) from None
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            ) from None
        return old_password

    @property
    def refused(self) -> bool:
        """The throttle refused the check (too many recent failures): the page answers 429, not 400."""
        return self.has_error("old_password", code=AccountErrorCode.TOO_MANY_ATTEMPTS.value)


class ChangePasswordForm(ThrottledPasswordChangeForm):
    """The account page's: without Django's autofocus, since it sits at the foot of the page, which must open at the
    top."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old_password"].widget.attrs.pop("autofocus", None)


class AdminPasswordChangeForm(ThrottledPasswordChangeForm):
    """The admin's `/admin/password_change/` (kameng.accounts.admin_site), marked up as Django's admin form is."""

    required_css_class = "required"
