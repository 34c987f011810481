"""`manage.py sandbox_rotate_wechat_key`: the sandbox's WeChat Pay issues a new platform key (a new serial) and signs
with it from now on; the merchant side of the keys file lists every serial, as a shop that follows WeChat's rotation
keeps them (docs/channels.md#wechat-pay-in-the-sandbox)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kameng.sandbox import keys


class Command(BaseCommand):
    help = "Rotate the sandbox WeChat Pay platform key: a new serial signs from now on; the old ones stay listed."

    def handle(self, *args, **options) -> None:
        if not settings.KAMENG_SANDBOX:
            raise CommandError("the sandbox is off (KAMENG_SANDBOX)")
        serial = keys.rotate_wechat_platform_key()
        self.stdout.write(f"signing with {serial}")
