"""YAML msr refuses (issue 10 item 4): alias bombs, duplicate keys, deep nesting, deep directory trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from msr_oci.cli.app import app
from msr_oci.revision import RevisionInputError
from msr_oci.revision.loader import MAX_TREE_DEPTH, load_revision_dir
from msr_oci.revision.yaml_reader import MAX_DEPTH, YamlProblem, parse_yaml

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)
DEFINITION = (
    "models:\n  - name: m\n    model_path: /models\n    service:\n      start_command: x\n      port: 8000\n"
)


def test_alias_bomb_is_refused_before_expansion() -> None:
    assert len(BOMB.encode()) < 700  # 9**9 = 387 million leaves once expanded
    with pytest.raises(YamlProblem, match="through anchors and aliases"):
        parse_yaml(BOMB)


def test_small_aliases_still_work() -> None:
    data = parse_yaml("base: &b {cpu: 4}\nother: *b\nmerged:\n  <<: *b\n  mem: 8g\n").data
    assert data == {"base": {"cpu": 4}, "other": {"cpu": 4}, "merged": {"cpu": 4, "mem": "8g"}}


def test_duplicate_key_is_refused_with_its_line() -> None:
    with pytest.raises(YamlProblem) as caught:
        parse_yaml("image: a\narchitecture: x86_64\nimage: b\n")
    assert caught.value.line == 3
    assert "duplicate key 'image' (first on line 1)" in str(caught.value)


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(YamlProblem, match=str(MAX_DEPTH)):
        parse_yaml("[" * 5000 + "]" * 5000)
    assert parse_yaml("[" * 10 + "]" * 10).data is not None


def test_timestamps_stay_strings() -> None:
    assert parse_yaml("created: 2024-01-01\n").data == {"created": "2024-01-01"}


def _directory(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("file", "text", "message", "line"),
    [
        ("model-definition.yaml", BOMB, "through anchors and aliases", None),
        ("deployment-config.yaml", "image: a\nimage: b\n", "duplicate key 'image'", 2),
        ("revision.yaml", "labels: " + "[" * 200 + "]" * 200 + "\n", "deep", None),
    ],
)
def test_revision_files_refuse_hostile_yaml(
    tmp_path: Path, file: str, text: str, message: str, line: int | None
) -> None:
    files = {"model-definition.yaml": DEFINITION, file: text}
    with pytest.raises(RevisionInputError) as caught:
        load_revision_dir(_directory(tmp_path, **files), name="m", version="1")
    problem = caught.value.problems[0]
    assert problem.file == file and message in problem.message
    if line is not None:
        assert problem.line == line


def test_deep_directory_tree_is_a_clear_exit_2(tmp_path: Path) -> None:
    root = _directory(tmp_path, **{"model-definition.yaml": DEFINITION})
    levels = [root / ("d/" * i).rstrip("/") for i in range(1, 1001)]
    for level in levels:  # one mkdir at a time: makedirs and rmtree recurse on Python 3.11
        os.mkdir(level)
    (levels[-1] / "leaf.bin").write_bytes(b"x")
    try:
        with pytest.raises(RevisionInputError) as caught:
            load_revision_dir(root, name="m", version="1")
        assert f"nested deeper than {MAX_TREE_DEPTH} directories" in caught.value.problems[0].message
        result = CliRunner().invoke(app, ["validate", str(root)])
        assert result.exit_code == 2, result.output
        assert "deeper than" in result.output
        assert not isinstance(result.exception, RecursionError)
    finally:
        (levels[-1] / "leaf.bin").unlink()
        for level in reversed(levels):
            os.rmdir(level)


def test_cli_yaml_values_use_the_same_reader() -> None:
    from msr_oci.cli.inputs import scalar

    assert scalar("3") == 3
    with pytest.raises(YamlProblem):
        parse_yaml("{a: 1, a: 2}")
