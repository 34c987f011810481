import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kameng.catalog.models import Product
from kameng.core.errors import DomainError
from kameng.inventory import services
from kameng.inventory.models import ImportBatch


class Command(BaseCommand):
    help = (
        "Import card keys for a product from a text file (one key per line) or a CSV file; '-' reads stdin."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sku", required=True)
        parser.add_argument("file", help="path to a .txt or .csv file, or - for standard input")

    def handle(self, *args, sku: str, file: str, **options):
        product = Product.objects.filter(sku=sku).first()
        if product is None:
            raise CommandError(f"no product with sku {sku!r}")
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        try:
            batch = services.import_card_keys(
                product=product,
                text=services.decode_upload(raw),
                source=ImportBatch.Source.CLI,
                csv_format=file.lower().endswith(".csv"),
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        for row in batch.report:  # the reason codes: this command speaks English
            self.stderr.write(f"line {row['line']}: {row['reason']}")
        self.stdout.write(
            f"imported {batch.imported}, duplicates {batch.duplicates}, malformed {batch.malformed}"
        )
