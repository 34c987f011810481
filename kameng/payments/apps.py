from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "kameng.payments"
    label = "payments"
    verbose_name = "支付 Payments"

    def ready(self) -> None:
        from kameng.core import outbox
        from kameng.payments import services

        outbox.register(services.REFUND_TOPIC, services.execute_refund)
