"""`msr validate` and `msr push` judge a directory as a chosen Backend.AI release reads it (--target)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import msr

HEAD_ONLY = """\
models:
  - name: m
    model_path: /models
    service:
      start_command: python serve.py
      port: 8000
      pre_start_actions:
      health_check:
        enable: true
        path: /health
"""
TYPO = "models:\n  - name: m\n    model_path: /models\n    servcie:\n      port: 8000\n"


def _dir(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "rev"
    root.mkdir()
    (root / "model-definition.yaml").write_text(text)
    (root / "deployment-config.yaml").write_text("image: img:1\n")
    return root


def test_head_accepts_what_26_4_3_rejects(tmp_path: Path, isolated_env: object) -> None:
    root = _dir(tmp_path, HEAD_ONLY)
    assert msr("validate", str(root), "--output", "json").json()["valid"] is True
    record = msr("validate", str(root), "--target", "26.4.3", "--output", "json", expect=2).json()
    assert record["valid"] is False
    assert any("enable" in (p.get("field") or "") + p["message"] for p in record["problems"])


def test_24_09_wants_a_list_start_command(tmp_path: Path, isolated_env: object) -> None:
    root = _dir(
        tmp_path, HEAD_ONLY.replace("      health_check:\n        enable: true\n        path: /health\n", "")
    )
    msr("validate", str(root), "--target", "head")
    record = msr("validate", str(root), "--target", "24.09", "--output", "json", expect=2).json()
    assert any("start_command" in (p.get("field") or "") for p in record["problems"])


def test_unknown_key_warns_with_did_you_mean_and_fails_under_strict(
    tmp_path: Path, isolated_env: object
) -> None:
    root = _dir(tmp_path, TYPO)
    warned = msr("validate", str(root), "--output", "json").json()
    typo = [p for p in warned["problems"] if "servcie" in (p.get("field") or "") + p["message"]]
    assert typo and typo[0]["severity"] == "warning" and typo[0]["line"] == 4
    assert "service" in (typo[0].get("hint") or "") + typo[0]["message"]
    strict = msr("validate", str(root), "--strict", "--output", "json", expect=2).json()
    assert strict["valid"] is False


@pytest.mark.parametrize("target", ["26.4.3", "24.09"])
def test_push_refuses_under_an_older_target(tmp_path: Path, isolated_env: object, target: str) -> None:
    root = _dir(tmp_path, HEAD_ONLY)
    result = msr("push", str(root), "m:1.0.0", "--target", target, expect=2)
    assert "model-definition.yaml" in result.stderr
    msr("push", str(root), "m:1.0.0")  # the default (HEAD) reading accepts it


def test_unknown_target_is_a_clear_error(tmp_path: Path, isolated_env: object) -> None:
    result = msr("validate", str(_dir(tmp_path, HEAD_ONLY)), "--target", "9.9", expect=2)
    assert "9.9" in result.stdout + result.stderr
