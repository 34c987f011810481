from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kameng.core.backups import BackupError
from kameng.core.backups.dump import create_backup
from kameng.core.backups.keys import export_keys


class Command(BaseCommand):
    help = (
        "Writes a consistent backup of the database (PostgreSQL: pg_dump --format=custom; SQLite: the online backup "
        "API) with a manifest into a new folder under --out. --keys-to FILE exports the encryption keys to a file of "
        "their own (mode 0600), to be stored apart from the dumps."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--out", type=Path, help="folder that receives the backup folder kameng-YYYYmmdd-HHMMSS"
        )
        parser.add_argument(
            "--keys-to",
            type=Path,
            metavar="FILE",
            help="write KAMENG_CARD_KEY and DJANGO_SECRET_KEY to this new file (mode 0600), never beside the dumps",
        )

    def handle(self, *args, out: Path | None, keys_to: Path | None, **options):
        if out is None and keys_to is None:
            raise CommandError("say where: --out FOLDER for a backup, --keys-to FILE for the keys (or both)")
        if out is not None and keys_to is not None:
            out_dir, keys_file = out.resolve(), keys_to.resolve()
            if out_dir == keys_file.parent or out_dir in keys_file.parents:
                raise CommandError(
                    f"{keys_file} is inside the backup folder {out_dir}: the keys must be stored apart from the dumps"
                )
        try:
            if keys_to is not None:
                export_keys(keys_to, log=self.stderr.write)
            if out is not None:
                folder = create_backup(out, log=self.stderr.write)
                self.stdout.write(str(folder))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
