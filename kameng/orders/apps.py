from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "kameng.orders"
    label = "orders"
    verbose_name = "订单 Orders"

    def ready(self) -> None:
        # Imported here, not at the top: these modules use models, which exist only once the registry is ready.
        from kameng.core import sweeps
        from kameng.orders import services

        sweeps.register("expire_orders", services.expire_due_orders, next_due=services.next_expiry_due)
