from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "kameng.sandbox"
    label = "sandbox"
    verbose_name = "沙箱支付网关 Sandbox gateway"

    def ready(self) -> None:
        from kameng.core import sweeps
        from kameng.sandbox import services

        sweeps.register("sandbox_notifications", services.deliver_due_notifications)
