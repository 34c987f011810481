from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "kameng.sandbox"
    label = "sandbox"
    verbose_name = "沙箱支付网关 Sandbox gateway"

    def ready(self) -> None:
        from django.conf import settings

        # Imported here, not at the top: these modules use models, which exist only once the registry is ready.
        from kameng.core import sweeps
        from kameng.sandbox import keys, services

        sweeps.register(
            "sandbox_notifications",
            services.deliver_due_notifications,
            next_due=services.next_notification_due,
        )
        if settings.KAMENG_SANDBOX:
            # The one place the sandbox's keys are made: before the shop or the gateway signs anything.
            keys.issue_keys()
