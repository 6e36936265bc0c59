"""The plugin registry's YAML file as an operator writes it: the documented example loads, ``id``
works as well as ``plugin_id``, and a bad file is reported one clear line per problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plugin_ai_analytics.collect.registry import load_registry_file
from plugin_ai_analytics.errors import ValidationError

REPO = Path(__file__).resolve().parents[2]


def test_the_documented_example_loads(tmp_path: Path) -> None:
    text = (REPO / "docs" / "collection.md").read_text(encoding="utf-8")
    example = next(block for block in re.findall(r"```yaml\n(.*?)```", text, re.S) if "plugins:" in block)
    path = tmp_path / "plugins.yaml"
    path.write_text(example, encoding="utf-8")
    specs = load_registry_file(path)
    assert [s["plugin_id"] for s in specs] == ["search-indexer", "image-resizer", "payments"]
    assert [s["source"]["type"] for s in specs] == ["process", "prometheus", "promql"]


def test_the_sample_registry_loads() -> None:
    assert [s["plugin_id"] for s in load_registry_file(REPO / "examples" / "plugins.yaml")] == ["host-init"]


@pytest.mark.parametrize("key", ["plugin_id", "id"])
def test_an_entry_is_named_by_plugin_id_or_id(tmp_path: Path, key: str) -> None:
    path = tmp_path / "plugins.yaml"
    path.write_text(f"plugins:\n  - {key}: web-shop\n    interval_seconds: 30\n    cpu_limit_percent: 200\n")
    [spec] = load_registry_file(path)
    assert spec["plugin_id"] == "web-shop" and "id" not in spec
    assert spec["interval_seconds"] == 30 and spec["cpu_limit_percent"] == 200


BAD = """\
plugins:
  - plugin_id: search-indexer
    source: {type: process, name: indexer}
  - plugin_id: payments
    interval_seconds: 0
    memory_limit: 512
    source: {type: promql, url: "ftp://prometheus", queries: {cpu_percent: "1"}}
  - name: nameless
  - id: twice
    plugin_id: twice
  - id: search-indexer
"""


def test_a_bad_file_names_file_line_entry_and_field_one_line_per_problem(tmp_path: Path) -> None:
    path = tmp_path / "plugins.yaml"
    path.write_text(BAD)
    with pytest.raises(ValidationError) as raised:
        load_registry_file(path)
    lines = raised.value.message.splitlines()
    assert lines == [
        f"{path}:4: plugins[1] (plugin_id 'payments'): field interval_seconds: "
        "Input should be greater than or equal to 1 (got 0)",
        f"{path}:4: plugins[1] (plugin_id 'payments'): field memory_limit: unknown field; known: id, plugin_id, "
        "name, description, source, interval_seconds, enabled, memory_limit_mb, cpu_limit_percent, keep_history, "
        "labels",
        f"{path}:4: plugins[1] (plugin_id 'payments'): field source.url: "
        "must be an http:// or https:// URL with a host",
        f"{path}:8: plugins[2]: field plugin_id: required (or id)",
        f"{path}:9: plugins[3] (plugin_id 'twice'): field id: give plugin_id or id, not both",
        f"{path}:11: plugins[4] (plugin_id 'search-indexer'): field plugin_id: repeats plugins[0]",
    ]
    assert raised.value.field == "plugins[1].interval_seconds"
    assert "errors.pydantic.dev" not in raised.value.message


def test_a_file_that_is_not_a_registry_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "plugins.yaml"
    path.write_text("plugins:\n  - plugin_id: x\n   bad-indent: 1\n")
    with pytest.raises(ValidationError) as raised:
        load_registry_file(path)
    assert raised.value.message.startswith(f"cannot read plugins file {path}") and "\n" not in raised.value.message
    path.write_text("- plugin_id: x\n")
    with pytest.raises(ValidationError, match="expected a top-level 'plugins:' list"):
        load_registry_file(path)
