from django import forms
from django.contrib.auth.forms import PasswordChangeForm
from django.utils.translation import gettext_lazy as _


class LoginForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150)
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput, max_length=256)


class RegisterForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150)
    email = forms.EmailField(label=_("邮箱"), max_length=254)
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput, max_length=256, min_length=8)


class ChangePasswordForm(PasswordChangeForm):
    """Django's form, without its autofocus: it sits at the foot of the account page, which must open at the top."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old_password"].widget.attrs.pop("autofocus", None)
