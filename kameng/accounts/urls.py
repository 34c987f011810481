from django.urls import path

from kameng.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("register/", views.register_view, name="register"),
    path("", views.account_view, name="account"),
    path("password/", views.change_password_view, name="password"),
    path("sessions/<int:session_id>/revoke/", views.revoke_session_view, name="revoke-session"),
    path("tokens/<int:token_id>/revoke/", views.revoke_token_view, name="revoke-token"),
]
