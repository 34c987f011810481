from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kameng.accounts"
    label = "accounts"
    verbose_name = "账户 Accounts"

    def ready(self) -> None:
        # Imported here: models exist only once the app registry is ready.
        from kameng.accounts import checks, services, throttle  # noqa: F401  (checks registers itself)
        from kameng.core import sweeps

        sweeps.register("forget_login_counters", throttle.forget_ended_windows)
        sweeps.register("forget_login_failures", throttle.forget_old_failures)
        sweeps.register("forget_ended_tokens", services.forget_ended_tokens)
