"""The bad-input corpus (tests/data/bad/<case>/ with expect.yaml) through ``msr validate`` and ``msr push``.

expect.yaml names what the error must say: ``file`` (and ``line``, ``field`` where known), the exit
code (2, bad input: see msr_oci/cli/errors.py), or for push-only cases the ``ref`` to push and a
``message`` fragment. No case may print a traceback.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from support import DATA, msr

BAD = DATA / "bad"
CASES = sorted(p.name for p in BAD.iterdir() if (p / "expect.yaml").is_file())


def _expect(case: str) -> dict[str, Any]:
    expect = yaml.safe_load((BAD / case / "expect.yaml").read_text())
    assert isinstance(expect, dict)
    return expect


def _location(expect: dict[str, Any]) -> str:
    """``file:line: field`` as the loader prints it (line and field when the case names them)."""
    where = f"{expect['file']}:{expect['line']}" if "line" in expect else expect["file"]
    return f"{where}: {expect['field']}" if "field" in expect else where


def _assert_clean(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert "unexpected" not in stderr  # an untyped exception reached the command line


def test_the_corpus_covers_every_kind_of_bad_input() -> None:
    assert len(CASES) >= 12
    kinds = ("yaml", "toml", "wrong-type", "missing", "port", "reference", "version", "runtime-variant")
    for kind in kinds:
        assert any(kind in case for case in CASES), kind


@pytest.mark.parametrize("case", [c for c in CASES if "ref" not in _expect(c)])
def test_validate_names_file_field_and_line(case: str, isolated_env: object) -> None:
    expect = _expect(case)
    result = msr("validate", str(BAD / case), expect=expect["exit"])
    _assert_clean(result.stderr)
    assert _location(expect) in result.stdout


@pytest.mark.parametrize("case", [c for c in CASES if "ref" not in _expect(c)])
def test_validate_json_reports_the_same_problem_as_structured_fields(case: str, isolated_env: object) -> None:
    expect = _expect(case)
    record = msr("validate", str(BAD / case), "--output", "json", expect=expect["exit"]).json()
    assert record["valid"] is False
    first = next(p for p in record["problems"] if p.get("severity", "error") == "error")
    assert first["file"] == expect["file"]
    assert first.get("field") == expect.get("field")
    if "line" in expect:
        assert first["line"] == expect["line"]


@pytest.mark.parametrize("case", CASES)
def test_push_refuses_with_one_line_and_exit_2(case: str, isolated_env: object) -> None:
    expect = _expect(case)
    result = msr("push", str(BAD / case), expect.get("ref", "echo:1.0.0"), expect=expect["exit"])
    _assert_clean(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert (expect["message"] if "message" in expect else _location(expect)) in lines[0]
    assert not result.stdout
