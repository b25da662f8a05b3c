"""``RevisionRef``: the one parser of revision references (the API and the CLI both use it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from msr_oci.errors import InputError, InvalidReference
from msr_oci.registry.namespace import Namespace, default_store_path
from msr_oci.registry.refs import RevisionRef, classify_tags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fraud", RevisionRef(None, "fraud")),
        ("fraud:1.0.0+cu121", RevisionRef(None, "fraud", "1.0.0_cu121", None, "1.0.0+cu121")),
        ("fraud:production", RevisionRef(None, "fraud", "production", None, "production")),
        (
            "127.0.0.1:5000/team/fraud:2.0.0",
            RevisionRef("127.0.0.1:5000/team", "fraud", "2.0.0", None, "2.0.0"),
        ),
        (
            "registry.example.com/fraud@sha256:" + "a" * 64,
            RevisionRef("registry.example.com", "fraud", None, "sha256:" + "a" * 64),
        ),
    ],
)
def test_parse(text: str, expected: RevisionRef) -> None:
    assert RevisionRef.parse(text) == expected


def test_locate_puts_a_bare_name_in_the_namespace_and_keeps_a_full_reference() -> None:
    namespace = Namespace.parse("127.0.0.1:5000/serving")
    assert (
        str(RevisionRef.parse("fraud:1.0.0+b.5").locate(namespace))
        == "127.0.0.1:5000/serving/fraud:1.0.0_b.5"
    )
    assert (
        str(RevisionRef.parse("other.example.com/x/fraud:1").locate(namespace))
        == "other.example.com/x/fraud:1"
    )


def test_parse_name_and_parse_versioned_refuse_what_they_cannot_use() -> None:
    assert RevisionRef.parse_name("host.example.com/ns/fraud") == RevisionRef("host.example.com/ns", "fraud")
    with pytest.raises(InputError, match="drop the :tag"):
        RevisionRef.parse_name("fraud:1.0.0")
    versioned = RevisionRef.parse_versioned("host.example.com/ns/fraud:1.0.0+build.7")
    assert (versioned.namespace, versioned.name, versioned.version) == (
        "host.example.com/ns",
        "fraud",
        "1.0.0+build.7",
    )
    for text in ("fraud", "fraud:", "echo:1.0.0+build/7"):
        with pytest.raises(InputError, match="names no version"):
            RevisionRef.parse_versioned(text)
    with pytest.raises(InvalidReference):
        RevisionRef.parse("Not Valid")


def test_classify_tags_keeps_only_versions() -> None:
    scan = classify_tags(
        ["1.0.0", "1.0.0_cu121", "production", "_alias.production", "_index", "sha256-" + "b" * 64]
    )
    assert scan.versions == {"1.0.0": "1.0.0", "1.0.0_cu121": "1.0.0+cu121"}
    assert scan.alias_names == {"production"}


def test_default_store_path_reads_the_environment_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MSR_STORE", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_store_path() == tmp_path / "home" / ".local" / "share" / "msr-oci" / "store"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert default_store_path() == tmp_path / "home" / ".local" / "share" / "msr-oci" / "store"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_store_path() == tmp_path / "data" / "msr-oci" / "store"
    monkeypatch.setenv("MSR_STORE", str(tmp_path / "store"))
    assert default_store_path() == tmp_path / "store"
    monkeypatch.delenv("MSR_REGISTRY", raising=False)
    assert Namespace.parse().store_root == tmp_path / "store"
