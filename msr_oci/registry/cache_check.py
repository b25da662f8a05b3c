"""``msr cache verify``: hash everything in the fetch cache and drop what no longer matches.

A cache hit checks only sizes and modes (cheap, every fetch). Content changed in place with the
same size (a consumer writing into a fetched file as root, a disk error) needs every byte hashed:
this module does that on request. Damaged entries are removed, so the next fetch downloads and
verifies them again; nothing undamaged is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from msr_oci.oci import Descriptor
from msr_oci.oci.content import ImageManifest, parse_manifest
from msr_oci.oci.digest import Digester
from msr_oci.oci.errors import IntegrityError, MsrOciError
from msr_oci.registry.cache import DEFAULT_FILE_MODE, ContentCache
from msr_oci.revision.codec import file_mode, revision_files

_CHUNK = 1 << 20


@dataclass
class CacheReport:
    """What a verification pass looked at and what it found damaged (and removed unless kept)."""

    blobs_checked: int = 0
    revisions_checked: int = 0
    damaged_blobs: list[str] = field(default_factory=list)
    #: revision digest -> what is wrong with its directory (files, or the manifest/config themselves)
    damaged_revisions: dict[str, list[str]] = field(default_factory=dict)
    removed: bool = False

    @property
    def clean(self) -> bool:
        return not self.damaged_blobs and not self.damaged_revisions


def _blob_matches(cache: ContentCache, digest: str) -> bool:
    path = cache.blob_path(digest)
    try:
        digester = Digester.for_digest(digest)
        size = 0
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digester.update(chunk)
                size += len(chunk)
        digester.verify(digest, size, str(path))
    except (OSError, MsrOciError):
        return False
    return True


def _revision_problems(cache: ContentCache, digest: str) -> list[str]:
    """What is wrong with one cached revision directory: [] when every file matches its digest."""
    found = cache.read_revision(digest)  # verifies manifest.json and config.json
    if found is None:
        return ["manifest.json or config.json (missing, or not what was fetched)"]
    try:
        manifest = parse_manifest(found[0])
        if not isinstance(manifest, ImageManifest):
            return ["manifest.json (an index, not a revision manifest)"]
        files = revision_files(manifest)
    except (MsrOciError, ValueError):
        return ["manifest.json (not a revision manifest)"]
    entries: list[tuple[str, Descriptor, int | None]] = [
        (f"files/{relative}", layer, file_mode(layer)) for relative, layer in files
    ]
    problems = cache.verify_revision(digest, entries)
    root = cache.revision_dir(digest)
    for relative, _, mode in entries:  # a mode changed in place is damage too (start.sh must stay +x)
        expected = DEFAULT_FILE_MODE if mode is None else mode
        try:
            if relative not in problems and (root / relative).stat().st_mode & 0o777 != expected:
                problems.append(f"{relative} (mode)")
        except OSError:
            continue  # already reported by verify_revision
    return problems


def verify_cache(cache: ContentCache, *, remove_damaged: bool = True) -> CacheReport:
    """Hash every cached blob and every file of every cached revision directory."""
    report = CacheReport()
    blobs = cache.root / "blobs"
    if blobs.is_dir():
        for path in sorted(blobs.glob("*/*")):
            if path.name.startswith(".") or not path.is_file():
                continue  # temp files are prune's business
            digest = f"{path.parent.name}:{path.name}"
            report.blobs_checked += 1
            if not _blob_matches(cache, digest):
                report.damaged_blobs.append(digest)
    for cached in cache.revisions():
        report.revisions_checked += 1
        problems = _revision_problems(cache, cached.digest)
        if problems:
            report.damaged_revisions[cached.digest] = problems
    if remove_damaged and not report.clean:
        for digest in report.damaged_blobs:
            cache.blob_path(digest).unlink(missing_ok=True)
        for digest in report.damaged_revisions:
            cache.evict_revision(digest)
        report.removed = True
    return report


def damage_summary(report: CacheReport) -> IntegrityError:
    """The error a damaged cache ends a verification with (exit 7), naming what was found."""
    parts = [f"blob {d}" for d in report.damaged_blobs]
    parts += [f"revision {d}: {', '.join(p)}" for d, p in report.damaged_revisions.items()]
    done = "removed; the next fetch downloads and verifies them again" if report.removed else "kept (--keep)"
    return IntegrityError(f"damaged cache entries ({done}): " + "; ".join(parts))


def report_record(report: CacheReport) -> dict[str, object]:
    return {
        "blobs_checked": report.blobs_checked,
        "revisions_checked": report.revisions_checked,
        "damaged_blobs": report.damaged_blobs,
        "damaged_revisions": report.damaged_revisions,
        "removed": report.removed,
    }
