from django.contrib.auth import login, logout
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from kameng.accounts import services
from kameng.accounts.forms import LoginForm, RegisterForm
from kameng.core.audit import Source
from kameng.core.errors import DomainError


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


@require_http_methods(["GET", "POST"])
def login_view(request):
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.check_credentials(request=request, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status
        else:
            login(request, user)
            return redirect(_next_url(request))
    elif request.method == "POST":
        status = 400
    return render(request, "accounts/login.html", {"form": form, "next": _next_url(request)}, status=status)


@require_POST
def logout_view(request):
    logout(request)
    return redirect("/")


@require_http_methods(["GET", "POST"])
def register_view(request):
    form = RegisterForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.register_user(**form.cleaned_data, source=Source.WEB)
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status
        else:
            login(request, user, backend="kameng.accounts.backends.ThrottledModelBackend")
            return redirect("/")
    elif request.method == "POST":
        status = 400
    return render(request, "accounts/register.html", {"form": form}, status=status)
