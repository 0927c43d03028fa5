"""Drops the ``text_pattern_ops`` index Django adds beside a text primary key. The vocabulary's
key has the "C" collation, so its primary key's btree is in byte order and already serves the
prefix probe (migration 0006) and equality: the second btree only cost every word added by the
product triggers (migration 0004) a second index entry."""

from django.db import migrations

# Django's name for it (its schema editor's _create_index_name, suffix "_like"), the same on
# every database the earlier migrations built.
PATTERN_INDEX = "catalog_searchword_word_fb48ee13_like"


class Migration(migrations.Migration):
    dependencies = [("catalog", "0006_search_word_prefix_probe")]

    operations = [
        migrations.RunSQL(
            f"DROP INDEX IF EXISTS {PATTERN_INDEX}",
            reverse_sql=f"CREATE INDEX {PATTERN_INDEX} ON catalog_searchword (word text_pattern_ops)",
        ),
    ]
