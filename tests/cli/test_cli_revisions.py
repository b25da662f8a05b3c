"""``msr push/get/list/versions/history/diff/pull/fetch/delete/archive`` on a registry and the local store."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from registry_harness import RegistryServer
from support import Space, make_space, msr, push, write_revision_dir

REVISION_KEYS = {
    "id",
    "digest",
    "name",
    "version",
    "aliases",
    "model_definition",
    "service_configuration",
    "metadata",
    "labels",
    "metrics",
    "created_at",
    "created_by",
}


@pytest.fixture(params=["local", "registry"])
def space(request: pytest.FixtureRequest, isolated_env: object) -> Space:
    return make_space(request, request.param)


def test_push_then_get_in_every_format(space: Space, tmp_path: Path) -> None:
    source = write_revision_dir(tmp_path / "rev")
    pushed = push(
        source,
        space.ref("fraud-detector:1.0.0"),
        "--label",
        "team=risk",
        "--metric",
        "accuracy=0.95",
        "--param",
        "n_estimators=100",
        "--parent",
        "fraud-detector:0.9.0",
        "--run-id",
        "run_456",
        "--description",
        "first release",
        "--created-by",
        "alice",
    )
    assert {"id", "digest", "name", "version"} <= pushed.keys()
    assert pushed["name"] == "fraud-detector"
    assert pushed["version"] == "1.0.0"
    assert pushed["id"].endswith("@" + pushed["digest"])

    record = msr("get", space.ref("fraud-detector:1.0.0"), "--output", "json").json()
    assert record.keys() >= REVISION_KEYS
    assert record["digest"] == pushed["digest"]
    assert record["labels"] == {"team": "risk"}
    assert record["metrics"] == {"accuracy": 0.95}
    assert record["parameters"] == {"n_estimators": 100}
    assert record["lineage"]["parent"] == "fraud-detector:0.9.0"
    assert record["lineage"]["run_id"] == "run_456"
    assert record["created_by"] == "alice"
    assert record["model_definition"]["models"][0]["service"]["port"] == 8000
    assert record["service_configuration"]["image"] == "cr.backend.ai/stable/python:3.11"

    as_yaml = yaml.safe_load(msr("inspect", space.ref("fraud-detector"), "--output", "yaml").stdout)
    assert as_yaml["digest"] == pushed["digest"]  # a bare name is the latest version

    text = msr("get", space.ref("fraud-detector:1.0.0")).stdout
    assert "1.0.0" in text and "team=risk" in text

    # the printed id is a reference msr accepts back
    assert msr("get", pushed["id"], "--output", "json").json()["version"] == "1.0.0"


def test_push_prints_the_id_by_default(space: Space, tmp_path: Path) -> None:
    out = msr("push", str(write_revision_dir(tmp_path / "rev")), space.ref("plain:1.0.0")).stdout.strip()
    digest = msr("get", space.ref("plain:1.0.0"), "--output", "json").json()["digest"]
    assert out.endswith("@" + digest)


def test_list_filters_sort_and_versions(space: Space, tmp_path: Path) -> None:
    source = write_revision_dir(tmp_path / "rev")
    for version, team, accuracy in (
        ("1.0.0", "risk", "0.91"),
        ("1.1.0", "risk", "0.95"),
        ("2.0.0", "ops", "0.97"),
    ):
        push(
            source,
            space.ref(f"scorer:{version}"),
            "--label",
            f"team={team}",
            "--metric",
            f"accuracy={accuracy}",
        )
    push(source, space.ref("other:1.0.0"), "--label", "team=risk")

    def listed(*filters: str, extra: tuple[str, ...] = ()) -> list[tuple[str, str]]:
        args = [arg for f in filters for arg in ("--filter", f)]
        records = msr("list", *space.list_args, *args, *extra, "--output", "json").json()
        return [(r["name"], r["version"]) for r in records]

    assert listed("name=scorer") == [("scorer", "1.0.0"), ("scorer", "1.1.0"), ("scorer", "2.0.0")]
    assert listed("label.team=risk", "metric.accuracy=>=0.93") == [("scorer", "1.1.0")]
    assert listed("name=scorer", "version=>=1.1,<2") == [("scorer", "1.1.0")]
    assert listed("name=sc*", "label.team=ops") == [("scorer", "2.0.0")]
    either = '{"any": [{"name": "other"}, {"labels": {"team": "ops"}}]}'
    assert listed(either) == [("other", "1.0.0"), ("scorer", "2.0.0")]
    assert listed("name=scorer", extra=("--reverse",))[0] == ("scorer", "2.0.0")
    assert listed("name=scorer", extra=("--sort", "time", "--reverse"))[0] == ("scorer", "2.0.0")

    table = msr("list", *space.list_args, "--filter", "name=scorer").stdout
    assert "scorer" in table and "2.0.0" in table

    versions = msr("versions", space.ref("scorer"), "--output", "json").json()
    assert versions == {"name": "scorer", "versions": ["1.0.0", "1.1.0", "2.0.0"]}

    # a repository index changes how a listing reads, never what it finds
    indexed = msr("index", space.ref("scorer"), "--output", "json").json()
    assert indexed == {"name": "scorer", "indexed": 3}
    push(source, space.ref("scorer:2.1.0"), "--label", "team=risk", "--metric", "accuracy=0.99")
    wanted = ("label.team=risk", "metric.accuracy=>=0.93")
    assert (
        listed(*wanted) == listed(*wanted, extra=("--verify",)) == [("scorer", "1.1.0"), ("scorer", "2.1.0")]
    )


def test_list_with_an_unknown_filter_key_is_bad_input(space: Space) -> None:
    result = msr("list", *space.list_args, "--filter", "colour=red", expect=2)
    assert result.stderr.startswith("error: ") and "colour" in result.stderr
    assert "Traceback" not in result.stderr
    msr("list", *space.list_args, "--filter", "metric.accuracy=>=lots", expect=2)


def test_update_keeps_history_and_conflicts_need_force(space: Space, tmp_path: Path) -> None:
    source = write_revision_dir(tmp_path / "rev")
    first = push(source, space.ref("svc:1.0.0"))
    assert push(source, space.ref("svc:1.0.0"))["id"] == first["id"]  # same content: idempotent

    conflict = msr("push", str(source), space.ref("svc:1.0.0"), "--description", "changed", expect=5)
    assert conflict.stderr.startswith("error: ") and "--update" in conflict.stderr

    updated = push(source, space.ref("svc:1.0.0"), "--description", "changed", "--update")
    assert updated["digest"] != first["digest"]
    chain = msr("history", space.ref("svc:1.0.0"), "--output", "json").json()
    assert [r["digest"] for r in chain] == [updated["digest"], first["digest"]]
    assert chain[0]["supersedes"] == first["digest"]

    forced = push(source, space.ref("svc:1.0.0"), "--description", "forced", "--force")
    assert msr("get", space.ref("svc:1.0.0"), "--output", "json").json()["digest"] == forced["digest"]


def test_diff_names_changed_fields(space: Space, tmp_path: Path) -> None:
    push(write_revision_dir(tmp_path / "a"), space.ref("dd:1.0.0"), "--metric", "accuracy=0.9")
    push(write_revision_dir(tmp_path / "b", port=9000), space.ref("dd:2.0.0"), "--metric", "accuracy=0.95")
    entries = msr("diff", space.ref("dd:1.0.0"), space.ref("dd:2.0.0"), "--output", "json").json()
    by_path = {e["path"]: e for e in entries}
    assert by_path["metrics.accuracy"] == {
        "path": "metrics.accuracy",
        "change": "changed",
        "old": 0.9,
        "new": 0.95,
    }
    assert by_path["model_definition.models[0].service.port"]["new"] == 9000
    assert "metrics.accuracy" in msr("diff", space.ref("dd:1.0.0"), space.ref("dd:2.0.0")).stdout
    same = msr("diff", space.ref("dd:1.0.0"), space.ref("dd:1.0.0"), "--output", "json").json()
    assert same == []


def test_pull_writes_verified_files(space: Space, tmp_path: Path) -> None:
    source = write_revision_dir(tmp_path / "rev", weights=b"\x00\x01weights" * 1000)
    pushed = push(source, space.ref("pulled:1.0.0"))
    out = tmp_path / "out"
    record = msr("pull", space.ref("pulled:1.0.0"), "-o", str(out), "--output", "json").json()
    assert record["digest"] == pushed["digest"]
    assert set(record["files"]) == {"model-definition.yaml", "deployment-config.yaml", "weights/model.bin"}
    assert (out / "weights" / "model.bin").read_bytes() == (source / "weights" / "model.bin").read_bytes()
    text = msr("pull", space.ref("pulled:1.0.0"), "--dir", str(tmp_path / "again")).stdout
    assert str(tmp_path / "again" / "weights" / "model.bin") in text


def test_fetch_into_the_cache_then_offline_by_digest(space: Space, tmp_path: Path) -> None:
    pushed = push(write_revision_dir(tmp_path / "rev"), space.ref("fetched:1.0.0"))
    record = msr("fetch", space.ref("fetched:1.0.0"), "--output", "json").json()
    assert record.keys() >= {"id", "digest", "path", "files"}
    assert record["digest"] == pushed["digest"]
    assert "weights/model.bin" in record["files"]
    path = Path(record["path"])
    assert (path / "weights" / "model.bin").read_bytes() == b"weights v1\n"
    assert msr("fetch", pushed["id"]).stdout.strip() == str(path)

    listed = msr("cache", "ls", "--output", "json").json()
    assert pushed["digest"] in [r["digest"] for r in listed["revisions"]]
    assert msr("cache", "prune", "--older-than", "30", "--output", "json").json()["freed_bytes"] == 0
    assert msr("cache", "prune", "--output", "json").json()["freed_bytes"] > 0
    assert msr("cache", "ls", "--output", "json").json()["revisions"] == []


def test_get_errors_have_exit_codes(space: Space) -> None:
    missing = msr("get", space.ref("nothing-here:1.0"), expect=3)
    assert missing.stderr.startswith("error: ") and missing.stderr.count("\n") == 1
    msr("get", space.ref("Bad Name:1.0"), expect=2)
    debug = msr("--debug", "get", space.ref("nothing-here:1.0"), expect=3)
    assert "Traceback" in debug.stderr


def test_delete_asks_unless_yes(space: Space, tmp_path: Path) -> None:
    pushed = push(write_revision_dir(tmp_path / "rev"), space.ref("gone:1.0.0"))
    refused = msr("delete", space.ref("gone:1.0.0"), expect=2)  # stdin is not a terminal
    assert "--yes" in refused.stderr
    assert msr("get", pushed["id"], "--output", "json").json()["digest"] == pushed["digest"]
    msr("delete", space.ref("gone:1.0.0"), "--yes")
    msr("get", space.ref("gone:1.0.0"), expect=3)
    assert msr("versions", space.ref("gone"), "--output", "json").json()["versions"] == []


def test_archive_untags_but_keeps_the_digest(space: Space, tmp_path: Path) -> None:
    source = write_revision_dir(tmp_path / "rev")
    push(source, space.ref("arch:1.0.0"))
    pushed = push(source, space.ref("arch:2.0.0"), "--description", "second")
    record = msr("archive", space.ref("arch:2.0.0"), "--output", "json").json()
    assert record["removed_tags"] == ["2.0.0"]
    assert msr("versions", space.ref("arch"), "--output", "json").json()["versions"] == ["1.0.0"]
    assert msr("get", pushed["id"], "--output", "json").json()["description"] == "second"


def test_msr_registry_is_the_default_namespace(
    registry: RegistryServer, isolated_env: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = f"{registry.host}/{registry.unique_repository('env')}"
    monkeypatch.setenv("MSR_REGISTRY", namespace)
    pushed = push(write_revision_dir(tmp_path / "rev"), "by-env:1.0.0")
    assert pushed["id"] == f"{namespace}/by-env@{pushed['digest']}"
    assert msr("get", f"{namespace}/by-env:1.0.0", "--output", "json").json()["digest"] == pushed["digest"]
    assert [r["name"] for r in msr("list", "--output", "json").json()] == ["by-env"]
