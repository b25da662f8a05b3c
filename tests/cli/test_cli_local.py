"""``msr validate/schema/version``, start-up imports, and error output."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

from support import MSR, msr, write_revision_dir


def test_validate_reports_file_field_and_line(isolated_env: object, tmp_path: Path) -> None:
    good = write_revision_dir(tmp_path / "good")
    assert msr("validate", str(good), "--output", "json").json() == {
        "path": str(good),
        "valid": True,
        "problems": [],
        "excluded": [],
    }
    bad = write_revision_dir(tmp_path / "bad", port=2000)  # the agent reserves port 2000
    result = msr("validate", str(bad), "--output", "json", expect=2).json()
    assert result["valid"] is False
    problem = result["problems"][0]
    assert problem["file"].endswith("model-definition.yaml")
    assert "port" in problem["field"]
    assert problem["line"] == 6
    text = msr("validate", str(bad), expect=2).stdout
    assert "model-definition.yaml:6" in text
    msr("push", str(bad), "bad:1.0", expect=2)


def test_schema_lists_and_prints(isolated_env: object) -> None:
    names = msr("schema").stdout.split()
    assert names
    for name in names:
        schema = json.loads(msr("schema", name).stdout)
        assert schema.get("type") == "object" or "properties" in schema or "$defs" in schema
    msr("schema", "no-such-schema", expect=2)


def test_version_and_help(isolated_env: object) -> None:
    from msr_oci import __version__

    assert msr("version").stdout.strip() == __version__
    assert msr("version", "--output", "json").json() == {"version": __version__}
    help_text = msr("--help").stdout
    for command in ("push", "pull", "list", "alias", "cache", "login", "--install-completion"):
        assert command in help_text
    assert msr("list", "--output", "xml", expect=2).code == 2  # typer rejects a bad choice


def test_help_imports_no_heavy_module() -> None:
    """``msr --help`` must stay fast: httpx, pydantic and the registry's implementation load only inside
    commands (the lazy package surfaces of msr_oci.registry and msr_oci.revision cost nothing)."""
    probe = (
        "import sys\n"
        "from msr_oci.cli.app import app\n"
        "heavy = ('httpx', 'pydantic', 'yaml', 'msr_oci.registry.async_registry', 'msr_oci.revision.codec')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""


def test_missing_directory_is_bad_input(isolated_env: object, tmp_path: Path) -> None:
    result = msr("push", str(tmp_path / "nope"), "x:1.0", expect=2)
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_ctrl_c_exits_130_without_a_traceback(isolated_env: object) -> None:
    """A registry that accepts the connection and never answers; Ctrl-C once msr is waiting on it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        host = f"127.0.0.1:{server.getsockname()[1]}"
        server.settimeout(60)
        process = subprocess.Popen(
            [str(MSR), "get", f"{host}/silent/model:1.0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            connection, _ = server.accept()  # msr is now waiting for a response
            with connection:
                connection.recv(4096)
                process.send_signal(signal.SIGINT)
                _, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 130
    assert "Traceback" not in stderr
