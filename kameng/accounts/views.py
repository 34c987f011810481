from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kameng.accounts import credentials, selectors, services
from kameng.accounts.forms import ChangePasswordForm, LoginForm, RegisterForm
from kameng.core.audit import Source
from kameng.core.errors import DomainError
from kameng.core.views import shows_refusals


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
    # This browser only: the account's other sessions and its API tokens stay signed in.
    credentials.forget_session(request)
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


def _account_page(request, form: ChangePasswordForm, *, status: int = 200):
    context = {
        "form": form,
        "sessions": selectors.signed_in_sessions(request.user),
        "tokens": selectors.active_tokens(request.user),
        "current_key": request.session.session_key,
        "token_ttl_days": settings.KAMENG_API_TOKEN_TTL_DAYS,
    }
    return render(request, "accounts/account.html", context, status=status)


@login_required
@require_GET
def account_view(request):
    credentials.note_session_use(request)  # so that this browser is listed from its first visit
    return _account_page(request, ChangePasswordForm(request.user, request=request))


@login_required
@require_POST
def change_password_view(request):
    form = ChangePasswordForm(request.user, request.POST, request=request)
    if not form.is_valid():
        # A refusal by the login throttle is a 429 (accounts.middleware adds its Retry-After), a wrong entry a 400.
        return _account_page(request, form, status=429 if form.refused else 400)
    credentials.set_new_password(user=request.user, password=form.cleaned_data["new_password1"])
    credentials.keep_session_after_password_change(request, request.user)
    messages.success(request, _("密码已修改。所有 API 令牌已撤销,其他设备都已退出登录。"))
    return redirect("accounts:account")


@login_required
@require_POST
@shows_refusals(back="accounts:account", back_label=gettext_lazy("返回账户"))
def revoke_session_view(request, session_id: int):
    ended = credentials.revoke_session(user=request.user, session_id=session_id)
    if ended == request.session.session_key:
        logout(request)
        return redirect("/")
    messages.success(request, _("这个设备已退出登录。"))
    return redirect("accounts:account")


@login_required
@require_POST
@shows_refusals(back="accounts:account", back_label=gettext_lazy("返回账户"))
def revoke_token_view(request, token_id: int):
    credentials.revoke_token(user=request.user, token_id=token_id, source=Source.WEB)
    messages.success(request, _("令牌已撤销,用它的程序需要重新获取令牌。"))
    return redirect("accounts:account")
