"""itemlib: align text-embedding models to item catalogs (arXiv 2402.18899, reproduced).

The public entry points: :func:`itemlib.datasets.load_catalog`, :class:`itemlib.catalog.Catalog`,
:data:`itemlib.taskinfo.TASK_INFO`, :data:`itemlib.tasks.TASKS` and :func:`itemlib.generate.generate`.
The generators (``TASKS``, ``generate``) load on first use, so importing training or evaluation
does not pull in the generation layer.
"""

from typing import Any

from itemlib.catalog import Catalog, CatalogError, Field, FieldKind, Item
from itemlib.datasets import load_catalog
from itemlib.taskinfo import TASK_INFO

__all__ = ["Catalog", "CatalogError", "Field", "FieldKind", "Item", "TASKS", "TASK_INFO", "generate", "load_catalog"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "generate":
        from itemlib.generate import generate

        return generate
    if name == "TASKS":
        from itemlib.tasks import TASKS

        return TASKS
    raise AttributeError(f"module 'itemlib' has no attribute {name!r}")
