from django.apps import AppConfig


class HelpcenterConfig(AppConfig):
    name = "kameng.helpcenter"
    label = "helpcenter"
    verbose_name = "帮助中心 Help centre"
