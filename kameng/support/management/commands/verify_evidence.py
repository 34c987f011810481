import json

from django.core.management.base import BaseCommand, CommandError

from kameng.support.evidence import verify_bundle


class Command(BaseCommand):
    help = "Checks that an evidence bundle (JSON) is exactly as this site issued it (SHA-256 and HMAC)."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **options):
        try:
            with open(options["file"], encoding="utf-8") as handle:
                document = json.load(handle)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        if not verify_bundle(document):
            raise CommandError("NOT GENUINE: the bundle was edited or was not issued by this site")
        self.stdout.write(self.style.SUCCESS(f"genuine: sha256 {document['sha256']}"))
