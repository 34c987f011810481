from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "kameng.notifications"
    label = "notifications"
    verbose_name = "通知 Notifications"

    def ready(self) -> None:
        # Imported here, not at the top: these modules use models, which exist only once the registry is ready.
        from kameng.core import outbox
        from kameng.notifications import services

        outbox.register(services.EMAIL_TOPIC, services.deliver_email)
        outbox.register(services.SMS_TOPIC, services.deliver_sms)
