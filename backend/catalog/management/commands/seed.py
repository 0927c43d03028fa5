from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from backend.catalog.seeding import catalog_seed


class Command(BaseCommand):
    help = (
        "Generate a deterministic benchmark catalog (seed-* categories and SEED-* products). "
        "Idempotent: only missing rows are added; other catalog rows are never touched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--products", type=int, required=True, help="Seed products wanted.")
        parser.add_argument("--categories", type=int, required=True, help="Seed categories.")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument(
            "--batch-size", type=int, default=50_000, help="Rows per COPY write (default 50000)."
        )
        parser.add_argument(
            "--indexes",
            choices=["auto", "rebuild", "keep"],
            default="auto",
            help="Drop and rebuild the product indexes around the load (auto: for large loads).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["products"] < 0 or options["categories"] < 0 or options["batch_size"] < 1:
            raise CommandError("--products and --categories must be >= 0, --batch-size >= 1.")
        bar: tqdm | None = None

        def progress(sent: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, unit="products", unit_scale=True)
            bar.update(sent)

        try:
            result = catalog_seed(
                products=options["products"],
                categories=options["categories"],
                seed=options["seed"],
                batch_size=options["batch_size"],
                rebuild_indexes={"auto": None, "rebuild": True, "keep": False}[options["indexes"]],
                progress=progress,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(
            f"Seed catalog: {result.categories_created} categories and "
            f"{result.products_created} products created"
            + (" (product indexes rebuilt)." if result.indexes_rebuilt else ".")
        )
