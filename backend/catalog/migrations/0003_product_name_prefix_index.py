from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.models.functions import Collate, Lower


class Migration(migrations.Migration):
    # Built concurrently: writes to the product table go on while the index is built.
    atomic = False

    dependencies = [
        ("catalog", "0002_category_path_triggers"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="product",
            index=models.Index(Collate(Lower("name"), "C"), name="catalog_prod_name_prefix_idx"),
        ),
    ]
