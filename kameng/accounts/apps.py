from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kameng.accounts"
    label = "accounts"
    verbose_name = "账户 Accounts"
