from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "kameng.inventory"
    label = "inventory"
    verbose_name = "卡密库存 Inventory"

    def ready(self) -> None:
        # Imported here, not at the top: these modules use models, which exist only once the registry is ready.
        from kameng.catalog import stock
        from kameng.core import backups
        from kameng.inventory import backups as inventory_backups
        from kameng.inventory import selectors

        backups.register_restore_check("card_key_decrypts", inventory_backups.prove_card_key_decrypts)
        stock.register(selectors.with_available_keys)
