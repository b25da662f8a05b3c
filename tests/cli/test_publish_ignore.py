"""What a publish leaves out (default excludes, .msrignore), secret warnings, and push --dry-run."""

from __future__ import annotations

from pathlib import Path

from support import msr, push, write_revision_dir

from msr_oci.revision.ignore import Exclusion
from msr_oci.revision.loader import load_revision_dir, validate_revision_dir


def _cluttered(path: Path) -> Path:
    """A revision directory as found in a working copy: caches, VCS data, checkpoints, secrets."""
    root = write_revision_dir(path)
    for relative in (
        ".git/config",
        "__pycache__/serve.cpython-311.pyc",
        "src/__pycache__/x.pyc",
        "src/helper.pyc",
        "notebooks/.ipynb_checkpoints/a.ipynb",
        ".DS_Store",
        ".env",
        "secrets.env",
        "keys/server.pem",
        "hf_token",
        "tokenizer.json",
        "special_tokens_map.json",
        "checkpoints/step-1.ckpt",
        "checkpoints/best.ckpt",
        "scratch/tmp.bin",
        "scratch/keep.bin",
        ".config.json",
        "src/serve.py",
    ):
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f"{relative}\n".encode())
    (root / ".msrignore").write_text(
        "# working files\n*.ckpt\n!best.ckpt\nscratch/\n!scratch/keep.bin\n\n!.config.json\n"
    )
    return root


PUBLISHED_EXTRAS = [
    ".config.json",
    "checkpoints/best.ckpt",
    "hf_token",
    "keys/server.pem",
    "secrets.env",
    "special_tokens_map.json",
    "src/serve.py",
    "tokenizer.json",
    "weights/model.bin",
]
LEFT_OUT = {
    ".DS_Store": "default exclude '.DS_Store'",
    ".env": "default exclude '.*'",
    ".git/": "default exclude '.git/'",
    ".msrignore": "default exclude '.*'",
    "__pycache__/": "default exclude '__pycache__/'",
    "checkpoints/step-1.ckpt": ".msrignore line 2: '*.ckpt'",
    "notebooks/.ipynb_checkpoints/": "default exclude '.ipynb_checkpoints/'",
    # an excluded directory is not read: its files cannot be brought back (as in git)
    "scratch/": ".msrignore line 4: 'scratch/'",
    "src/__pycache__/": "default exclude '__pycache__/'",
    "src/helper.pyc": "default exclude '*.py[cod]'",
}
SECRETS = {"hf_token", "keys/server.pem", "secrets.env"}


def test_dry_run_lists_what_would_be_published_and_touches_no_store(
    isolated_env: object, tmp_path: Path
) -> None:
    root = _cluttered(tmp_path / "rev")
    store = tmp_path / "env" / "msr-store"

    plan = msr("push", str(root), "cluttered:1.0.0", "--dry-run", "--output", "json").json()

    assert plan["dry_run"] is True and not store.exists()
    files = {f["path"]: f for f in plan["files"]}
    assert sorted(p for p, f in files.items() if f["role"] == "file") == PUBLISHED_EXTRAS
    assert files["model-definition.yaml"]["role"] == "model-definition"
    assert files["src/serve.py"]["size"] == len(b"src/serve.py\n")
    assert files["src/serve.py"]["mode"] == "0644"
    assert {e["path"]: e["reason"] for e in plan["excluded"]} == LEFT_OUT
    assert {w.split(":")[0] for w in plan["warnings"]} == SECRETS
    assert plan["size"] > sum(f["size"] for f in plan["files"])  # plus the revision record

    text = msr("push", str(root), "cluttered:1.0.0", "--dry-run")
    assert "not published (--dry-run)" in text.stdout and "scratch/ (.msrignore line 4" in text.stdout
    assert "looks like a secret" in text.stderr and ".msrignore" in text.stderr
    assert not store.exists()
    # the dry run checks the version as a push would
    msr("push", str(root), "cluttered:v1", "--dry-run", expect=2)


def test_push_publishes_exactly_the_planned_files(isolated_env: object, tmp_path: Path) -> None:
    root = _cluttered(tmp_path / "rev")
    published = push(root, "cluttered:1.0.0")
    record = msr("get", published["id"], "--output", "json").json()
    assert sorted(f["path"] for f in record["extra_files"]) == PUBLISHED_EXTRAS

    out = tmp_path / "pulled"
    msr("pull", "cluttered:1.0.0", "-o", str(out))
    pulled = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert not {".env", ".msrignore", "scratch/keep.bin", "src/helper.pyc"} & set(pulled)
    assert (out / "secrets.env").read_bytes() == b"secrets.env\n"


def test_validate_shows_the_same_exclusions_and_warnings(isolated_env: object, tmp_path: Path) -> None:
    root = _cluttered(tmp_path / "rev")
    report = msr("validate", str(root), "--output", "json").json()
    assert report["valid"] is True
    assert {e["path"]: e["reason"] for e in report["excluded"]} == LEFT_OUT
    secrets = {p["file"] for p in report["problems"] if "looks like a secret" in p["message"]}
    assert secrets == SECRETS
    assert all(p["severity"] == "warning" for p in report["problems"])
    assert "left out: .git/ (default exclude '.git/')" in msr("validate", str(root)).stdout

    # the API gives the same lists
    excluded: list[Exclusion] = []
    problems = validate_revision_dir(root, excluded=excluded)
    assert {e.path for e in excluded} == set(LEFT_OUT)
    assert {p.file for p in problems} == SECRETS
    excluded.clear()
    revision = load_revision_dir(root, name="x", version="1.0.0", excluded=excluded)
    assert sorted(f.path for f in revision.extra_files) == PUBLISHED_EXTRAS
    assert {e.path for e in excluded} == set(LEFT_OUT)


def test_a_bad_ignore_file_is_bad_input_naming_the_line(isolated_env: object, tmp_path: Path) -> None:
    root = write_revision_dir(tmp_path / "rev")
    (root / ".msrignore").write_text("*.tmp\n!\n")
    result = msr("push", str(root), "bad:1.0.0", "--dry-run", expect=2)
    assert result.stderr.startswith("error: .msrignore:2: '!' is not a valid pattern")
    (root / ".msrignore").write_bytes(b"\xff\xfe*.tmp\n")
    assert "not UTF-8" in msr("validate", str(root), expect=2).stdout


def test_an_ignore_file_cannot_drop_the_revision_documents(isolated_env: object, tmp_path: Path) -> None:
    root = write_revision_dir(tmp_path / "rev")
    (root / "revision.yaml").write_text("description: kept\n")
    (root / ".msrignore").write_text("*.yaml\n")
    (root / "extra.yaml").write_text("a: 1\n")
    plan = msr("push", str(root), "docs:1.0.0", "--dry-run", "--output", "json").json()
    paths = {f["path"] for f in plan["files"]}
    assert {"model-definition.yaml", "deployment-config.yaml", "revision.yaml"} <= paths
    assert "extra.yaml" not in paths
    assert {"path": "extra.yaml", "reason": ".msrignore line 1: '*.yaml'"} in plan["excluded"]
