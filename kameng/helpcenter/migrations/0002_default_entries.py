from django.db import migrations


def create_defaults(apps, schema_editor):
    from kameng.helpcenter.services import ensure_default_entries

    ensure_default_entries(
        article_model=apps.get_model("helpcenter", "Article"),
        action_model=apps.get_model("helpcenter", "ActionEntry"),
    )


class Migration(migrations.Migration):
    """Every install has the official ways out (退订会员 first) from the start, demo data or not."""

    dependencies = [("helpcenter", "0001_initial")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
