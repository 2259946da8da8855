"""itemlib: align text-embedding models to item catalogs (arXiv 2402.18899, reproduced).

The public entry points: :func:`itemlib.datasets.load_catalog`, :class:`itemlib.catalog.Catalog`,
:data:`itemlib.tasks.TASKS` and :func:`itemlib.generate.generate`.
"""

from itemlib.catalog import Catalog, CatalogError, Field, FieldKind, Item
from itemlib.datasets import load_catalog
from itemlib.generate import generate
from itemlib.tasks import TASKS

__all__ = ["Catalog", "CatalogError", "Field", "FieldKind", "Item", "TASKS", "generate", "load_catalog"]
__version__ = "0.1.0"
