"""``copy``: publish a revision from one repository into another under the rules of a push.

A copy keeps the revision's bytes, so its digest, its signatures and its approvals stay valid. Its
name and version are part of those bytes (the config blob records them), which fixes where a copy
may go, as Helm fixes a chart's tag to its version:

* the destination is ``[host/ns/]NAME[:VERSION]`` with the revision's own name and version; another
  namespace or registry is what a copy is for. Another name or version (which ``get`` would then
  contradict), an alias, ``latest`` or a reserved ``_`` tag is refused before any write (exit 2),
  naming the way that works (re-publish the files with pull and push; promote after the copy);
* the version is claimed as a push claims it (``VersionTags``): the same content already there is
  that revision (nothing is sent); other content is ``VersionExists`` (exit 5) unless ``force``;
* blobs go first, the manifest last, then the repository index entry, then the revision's referrers
  (signatures, approvals), so a gated fetch at the destination finds what it found at the source.
"""

from __future__ import annotations

from msr_oci.errors import InputError, Remedy
from msr_oci.oci import ProgressCallback, Reference
from msr_oci.oci.graph_copy import copy_referrers
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.refs import RESERVED_TAG_PREFIX
from msr_oci.registry.targets import Targets
from msr_oci.registry.version_tags import VersionTags
from msr_oci.revision import (
    ModelServingRevision,
    decode_revision,
    parse_semver,
    tag_to_version,
    version_to_tag,
)


class RevisionCopy:
    def __init__(self, targets: Targets, reader: RevisionReader, version_tags: VersionTags) -> None:
        self.targets = targets
        self.reader = reader
        self.version_tags = version_tags

    async def run(
        self,
        source_ref: str,
        destination_ref: str,
        *,
        force: bool,
        referrers: bool,
        progress: ProgressCallback | None,
    ) -> str:
        """Copy the revision ``source_ref`` names; returns its id at the destination."""
        source = self.targets.locate(source_ref)
        destination = self.targets.locate(destination_ref)
        descriptor, manifest = await self.reader.manifest(source)
        config = await self.reader.small(self.targets.target(source), manifest.config)
        revision = decode_revision(manifest, config, digest=descriptor.digest)
        version_tag = _destination_tag(destination_ref, destination, revision)
        at = destination.with_tag(None)  # (a digest is refused above)
        state = await self.version_tags.check(at, revision, version_tag, overwrite=force)
        src, dst = self.targets.target(source), self.targets.target(at)
        data = await self.reader.small(src, descriptor)  # (read above: from the cache, verified)
        revision_id = await self.version_tags.publish_from(
            src,
            at,
            descriptor,
            manifest,
            data,
            revision,
            version_tag,
            state,
            overwrite=force,
            progress=progress,
        )
        if referrers:
            await copy_referrers(src, dst, descriptor, concurrency=self.targets.concurrency)
        return revision_id


def _destination_tag(text: str, destination: Reference, revision: ModelServingRevision) -> str:
    """The version tag the copy is published under, or an ``InputError`` naming what would work."""
    own_tag = version_to_tag(revision.version)
    name = destination.repository.rpartition("/")[2]
    source = f"{revision.name}:{revision.version}"
    if destination.digest is not None:
        raise InputError(
            f"copy destination {text!r}: a destination names a repository (and a version), not a digest",
            hint=f"drop the @digest: the copy keeps it ({destination.digest})",
        )
    if name != revision.name:
        raise _RecordedInTheBytes(
            text,
            "name",
            revision.name,
            name,
            f"copy into a repository named {revision.name} (any registry or namespace)",
            source,
        )
    tag = destination.tag
    if tag is None or tag == own_tag:
        return own_tag
    if tag.startswith(RESERVED_TAG_PREFIX) or tag == "latest":
        why = "'latest' is reserved" if tag == "latest" else "tags starting with '_' are msr's own records"
        raise InputError(
            f"copy destination {text!r}: {why}",
            hint=f"copy to {revision.name} or {revision.name}:{revision.version}",
        )
    if parse_semver(tag_to_version(tag)) is not None:
        raise _RecordedInTheBytes(
            text, "version", revision.version, tag_to_version(tag), f"copy to {source}", source
        )
    raise InputError(
        f"copy destination {text!r}: {tag!r} is not the revision's version ({revision.version}); "
        "aliases are not set by a copy",
        hint=f"copy to {revision.name}",
        where=f"{source} {tag}",
        remedies=(Remedy.SET_ALIAS,),
    )


class _RecordedInTheBytes(InputError):
    """A destination naming another name or version than the one the revision's config records."""

    def __init__(self, text: str, field: str, own: str, wanted: str, hint: str, source: str) -> None:
        super().__init__(
            f"copy destination {text!r}: the revision's {field} is {own!r}, and a copy keeps its bytes "
            f"(the {field} is part of them), so it cannot be {wanted!r} there",
            hint=hint,
            where=source,
            remedies=(Remedy.REPUBLISH,),
        )
