from django.apps import AppConfig


class MembershipConfig(AppConfig):
    name = "kameng.membership"
    label = "membership"
    verbose_name = "会员 Membership"

    def ready(self) -> None:
        # Imported here, not at the top: these modules use models, which exist only once the registry is ready.
        from kameng.core import metrics, outbox, sweeps
        from kameng.membership import (
            cancellation,
            expiry,
            hooks,
            lifecycle,
            reminders,
            renewals,
            trade_closing,
        )
        from kameng.membership import metrics as membership_metrics

        sweeps.register(
            "membership_reminders", reminders.send_due_reminders, next_due=reminders.next_reminder_due
        )
        sweeps.register(
            "membership_renewals", renewals.renew_due_memberships, next_due=renewals.next_charge_due
        )
        sweeps.register("membership_expiry", expiry.expire_due_memberships, next_due=expiry.next_expiry_due)
        # A daily poll of the channel: its answer changes only when the channel's side does, so it has no schedule.
        sweeps.register("agreement_reconcile", cancellation.reconcile_agreements)
        outbox.register(renewals.CHARGE_TOPIC, renewals.execute_charge_message)
        outbox.register(lifecycle.UNSIGN_TOPIC, cancellation.unsign_at_channel)
        outbox.register(trade_closing.CLOSE_TOPIC, trade_closing.close_given_up_trade)
        metrics.register("membership", membership_metrics.figures)
        hooks.register()
