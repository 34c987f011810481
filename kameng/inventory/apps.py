from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "kameng.inventory"
    label = "inventory"
    verbose_name = "卡密库存 Inventory"
