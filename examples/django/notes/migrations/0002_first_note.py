"""A first note, so a fresh database shows something read from it."""

from django.db import migrations


def add_first_note(apps, schema_editor):
    apps.get_model("notes", "Note").objects.create(text="Hello from the database: this note was added by a migration.")


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]

    operations = [migrations.RunPython(add_first_note, migrations.RunPython.noop)]
