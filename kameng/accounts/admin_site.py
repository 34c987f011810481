"""The shop's admin site: Django's, except that its password change checks the current password through the login
throttle (config.apps.AdminConfig makes it `admin.site`)."""

from django.contrib.admin import AdminSite
from django.contrib.auth.views import PasswordChangeView
from django.urls import reverse

from kameng.accounts.forms import AdminPasswordChangeForm


class ThrottledPasswordChangeView(PasswordChangeView):
    form_class = AdminPasswordChangeForm

    def get_form_kwargs(self) -> dict:
        # Django's view gives the form the user only; the throttle needs the request (the client's address).
        return {**super().get_form_kwargs(), "request": self.request}


class KamengAdminSite(AdminSite):
    def password_change(self, request, extra_context=None):
        """Django 5.2's AdminSite.password_change, with the throttled view and form: Django's form checks the old
        password with user.check_password(), which a stolen staff session could use to guess it without limit. A
        refusal is answered 429 by kameng.accounts.middleware.LoginRefusal."""
        defaults = {
            "success_url": reverse("admin:password_change_done", current_app=self.name),
            "extra_context": {**self.each_context(request), **(extra_context or {})},
        }
        if self.password_change_template is not None:
            defaults["template_name"] = self.password_change_template
        request.current_app = self.name
        return ThrottledPasswordChangeView.as_view(**defaults)(request)
