"""The code layout the README promises holds: every module in a layer, no import up a layer, no cycle."""

from __future__ import annotations

from .import_graph import cycles, graph, imports, layer_of, layers, report


def test_every_module_sits_in_a_layer_and_imports_only_its_own_or_lower_layers():
    found = report()
    assert found["unlisted"] == [], "add these modules to the README's code-layout table"
    assert found["upward"] == [], "these imports go up a layer"
    assert found["cycles"] == []


def test_the_checker_sees_in_function_imports_and_cycles(tmp_path):
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from itemlib.study import plan\n    import itemlib.cli\n")
    known = {"itemlib.study", "itemlib.study.plan", "itemlib.cli"}
    assert imports("itemlib.late", module, known) == {"itemlib.study.plan", "itemlib.cli"}
    assert "itemlib.models" in graph()["itemlib.training.run"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    table = layers()
    assert layer_of("itemlib.study.claims", table) == layer_of("itemlib.study", table)
    assert layer_of("itemlib.catalog", table) < layer_of("itemlib.retrieval", table)
