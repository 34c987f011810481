import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kameng.catalog.models import Product
from kameng.core.errors import DomainError
from kameng.core.progress import ProgressBar
from kameng.inventory import services
from kameng.inventory.models import ImportBatch

PIECE_LINES = (
    500  # each piece is one import batch, so a long file shows progress and is not limited in length
)


class Command(BaseCommand):
    help = (
        "Import card keys for a product from a text file (one key per line) or a CSV file; '-' reads stdin. "
        "Long files go in pieces of 500 lines with a progress bar on a terminal."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sku", required=True)
        parser.add_argument("file", help="path to a .txt or .csv file, or - for standard input")
        parser.add_argument(
            "--progress", action="store_true", help="draw the progress bar even off a terminal"
        )

    def handle(self, *args, sku: str, file: str, progress: bool, **options):
        product = Product.objects.filter(sku=sku).first()
        if product is None:
            raise CommandError(f"no product with sku {sku!r}")
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        try:
            lines = services.decode_upload(raw).splitlines()
        except DomainError as exc:
            raise CommandError(exc.message) from None
        bar = ProgressBar(self.stderr, total=len(lines), unit="lines", force=progress)
        batches = []
        for start in range(0, len(lines), PIECE_LINES):
            try:
                batches.append(
                    services.import_card_keys(
                        product=product,
                        text="\n".join(lines[start : start + PIECE_LINES]),
                        source=ImportBatch.Source.CLI,
                        csv_format=file.lower().endswith(".csv"),
                        first_line=start + 1,
                    )
                )
            except DomainError as exc:
                bar.finish()
                raise CommandError(
                    f"{exc.message} (from line {start + 1}; earlier lines are imported)"
                ) from None
            bar.update(min(start + PIECE_LINES, len(lines)))
        bar.finish()
        totals = {
            name: sum(getattr(b, name) for b in batches) for name in ("imported", "duplicates", "malformed")
        }
        for row in (
            row for batch in batches for row in batch.report
        ):  # reason codes: this command speaks English
            self.stderr.write(f"line {row['line']}: {row['reason']}")
        self.stdout.write(
            f"imported {totals['imported']}, duplicates {totals['duplicates']}, malformed {totals['malformed']}"
        )
