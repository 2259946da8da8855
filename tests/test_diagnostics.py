"""The vague-condition breakdown: satisfied, missing and boundary shares of the top K."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from itemlib.catalog import Catalog, Field, FieldKind, Item
from itemlib.diagnostics import condition_breakdown, popular_share, shared_content


class FirstItems:
    """Ranks the catalog in its own order, whatever the query."""

    name = "first-items"

    def index(self, catalog: Catalog) -> None:
        self.size = len(catalog)

    def score(self, queries):
        return np.tile(-np.arange(self.size, dtype=float), (len(queries), 1))


def test_condition_breakdown_splits_failures():
    years = [2007, 2007, 2006, None, 2010, 2001, 2002, 2003]
    items = [
        Item(str(n), f"Film {n}", {} if year is None else {"year": dt.date(year, 1, 1), "runtime": 90 + n})
        for n, year in enumerate(years)
    ]
    catalog = Catalog("films", items, [Field("year", FieldKind.DATE), Field("runtime", FieldKind.NUMERIC)])
    records = [
        {
            "query": "released before 2007",
            "spec": {
                "constraints": [
                    {"field": "year", "op": "lt", "value": "2007-01-01"},
                    {"field": "runtime", "op": "gt", "value": 91},
                    {"field": "genres", "op": "has_all", "values": ["Drama"]},  # not a comparison: not counted
                ]
            },
        }
    ]
    table = condition_breakdown(FirstItems(), catalog, records, k=4)
    year, runtime = table.iloc[0], table.iloc[1]
    assert (year.field, year.op) == ("year", "lt") and len(table) == 2
    # top 4: 2007, 2007, 2006, no year
    assert year.satisfied == pytest.approx(0.25) and year["missing field"] == pytest.approx(0.25)
    assert year["on the boundary"] == pytest.approx(0.5)
    assert year["catalog rate"] == pytest.approx(4 / 8)
    # runtimes 90, 91, 92, missing: 91 is the boundary and fails "above 91"
    assert runtime.satisfied == pytest.approx(0.25) and runtime["on the boundary"] == pytest.approx(0.25)


def test_popular_share_counts_the_most_interacted_items():
    items = [Item(str(n), f"Film {n}", {}) for n in range(10)]
    histories = {f"u{n}": ["9", "9", str(n % 3), "0"] for n in range(6)}  # "0" is every user's held-out last item
    catalog = Catalog("films", items, [], histories=histories)
    records = [{"query": "anything"}, {"query": "masked", "mask_ids": ["0", "1"]}]
    shares = popular_share(FirstItems(), catalog, records, k=2, top_fraction=0.1)
    # item 9 is the only top-10% item and the first-items ranking never reaches it in the top 2
    assert shares.tolist() == [0.0, 0.0]
    assert popular_share(FirstItems(), catalog, records, k=8, top_fraction=0.1).tolist() == [
        0.0,
        0.125,
    ]  # masking lets 9 in
    with pytest.raises(ValueError, match="top_fraction"):
        popular_share(FirstItems(), catalog, records, top_fraction=1.5)


def test_shared_content_measures_how_much_of_a_list_shares_a_genre_with_the_i2i_source():
    items = [Item(str(i), f"Film {i}", {"genres": genres}) for i, genres in
             enumerate([["Drama"], ["Drama", "War"], ["Comedy"], [], ["Comedy", "Drama"]])]  # fmt: skip
    catalog = Catalog("films", items, [Field("genres", FieldKind.LIST)], noun="movie")
    record = {"query": "like Film 0", "mask_ids": ["0"], "pos_ids": ["1", "2", "3", "4"]}
    assert shared_content(None, catalog, [record]).tolist() == [0.5]  # its answers: 1 and 4 share Drama
    assert shared_content(FirstItems(), catalog, [record], k=2).tolist() == [0.5]  # 0 masked: 1 shares, 2 does not
