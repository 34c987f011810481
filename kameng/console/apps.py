from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "kameng.console"
    label = "console"
    verbose_name = "运营看板 Console"

    def ready(self) -> None:
        # Imported here, not at the top: these modules use models, which exist only once the registry is ready.
        from kameng.console import invariants
        from kameng.core import backups

        backups.register_restore_check("invariants", invariants.hold_after_restore)
