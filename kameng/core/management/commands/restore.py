from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kameng.core.backups import BackupError
from kameng.core.backups.restore import restore_backup, verify_backup


class Command(BaseCommand):
    help = (
        "Restores a backup folder made by `manage.py backup` into the configured database, which must be empty "
        "(unless --force). Before touching it: checks that the configured KAMENG_CARD_KEY is the backup's key, the "
        "manifest's seal and the dump's SHA-256. After: the migration state and row counts of the manifest, "
        "check_invariants, and that a card key decrypts. Exits 1 on any failure."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup_dir", type=Path, help="a kameng-YYYYmmdd-HHMMSS folder")
        parser.add_argument(
            "--force", action="store_true", help="drop every table of a non-empty target database first"
        )
        parser.add_argument(
            "--migrate",
            action="store_true",
            help="apply the migrations this code has and the backup has not, before the checks",
        )
        parser.add_argument(
            "--verify-only",
            action="store_true",
            help="check the key, seal and SHA-256 of the backup without touching the database",
        )

    def handle(self, *args, backup_dir: Path, force: bool, migrate: bool, verify_only: bool, **options):
        try:
            if verify_only:
                manifest = verify_backup(backup_dir, log=self.stderr.write)
                self.stdout.write(f"backup of {manifest['created_at']} verified")
                return
            report = restore_backup(backup_dir, force=force, migrate=migrate, log=self.stderr.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"restored the backup of {report.manifest['created_at']}: verified")
