from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "kameng.orders"
    label = "orders"
    verbose_name = "订单 Orders"

    def ready(self) -> None:
        from kameng.core import sweeps
        from kameng.orders import services

        sweeps.register("expire_orders", services.expire_due_orders, next_due=services.next_expiry_due)
