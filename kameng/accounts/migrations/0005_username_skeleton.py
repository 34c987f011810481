# Each user name's UTS #39 confusable skeleton, indexed, so that registration refuses a look-alike of a taken name
# with one indexed look-up. Existing names are backfilled; names that already collide are kept (not unique).

from django.db import migrations, models

from kameng.accounts.names import username_skeleton

BATCH = 1000


def backfill_skeletons(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    batch = []
    for user in User.objects.only("pk", "username").order_by("pk").iterator(chunk_size=BATCH):
        user.username_skeleton = username_skeleton(user.username)
        batch.append(user)
        if len(batch) == BATCH:
            User.objects.bulk_update(batch, ["username_skeleton"])
            batch = []
    User.objects.bulk_update(batch, ["username_skeleton"])


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_token_expiry_and_sessions'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='username_skeleton',
            field=models.CharField(db_index=True, default='', editable=False, max_length=1200),
            preserve_default=False,
        ),
        migrations.RunPython(backfill_skeletons, migrations.RunPython.noop),
    ]
