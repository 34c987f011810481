from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "kameng.console"
    label = "console"
    verbose_name = "运营看板 Console"
