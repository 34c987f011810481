from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "kameng.payments"
    label = "payments"
    verbose_name = "支付 Payments"

    def ready(self) -> None:
        # Imported here, not at the top: these modules use models, which exist only once the registry is ready.
        from kameng.catalog import channels
        from kameng.core import metrics, outbox, sweeps
        from kameng.orders import paying
        from kameng.orders.models import Order
        from kameng.payments import events, queries, selectors, services
        from kameng.payments import metrics as payments_metrics

        outbox.register(services.REFUND_TOPIC, services.execute_refund)
        # Asks the channels about trades and refunds they did not tell us the outcome of (docs/channels.md).
        sweeps.register("channel_queries", queries.query_due, next_due=queries.next_query_due)
        metrics.register("payments", payments_metrics.figures)
        events.register_order_kind(Order.Kind.GOODS, services.goods_order_kind())
        channels.register(selectors.channel_names)
        paying.register(
            paying.Payments(
                pay_url=selectors.pay_redirect_url,
                delivered_by_hand=services.record_manual_delivery,
                qr_code=selectors.desktop_qr_code,
            )
        )
