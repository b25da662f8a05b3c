"""What an interrupted push did and did not publish, in words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from msr_oci.cli.progress import Tally, human_size

if TYPE_CHECKING:
    from msr_oci.revision import ModelServingRevision

#: the shell's code for a process ended by SIGINT (128 + 2)
EXIT_INTERRUPTED: Final = 130
#: an interrupted push names at most this many files it did not upload
_NAMED: Final = 5


def interrupted_push(reference: str, revision: ModelServingRevision, tally: Tally) -> str:
    """One line: published or not, which files reached the registry, which did not."""
    if tally.manifest is not None:
        return f"{reference} was published ({tally.manifest.digest}) before the interrupt"
    files = [d.path for d in revision.documents] + [f.path for f in revision.extra_files]
    there = {d.title for d in (*tally.stored, *tally.skipped) if d.title}
    missing = [name for name in files if name not in there]
    sent = sum(d.size for d in tally.stored)
    text = (
        f"{reference} was not published (its manifest was not written): "
        f"{len(files) - len(missing)} of {len(files)} files are in the registry "
        f"({human_size(sent)} uploaded now); pushing again sends only the rest"
    )
    if missing:
        named = ", ".join(missing[:_NAMED]) + (
            f" and {len(missing) - _NAMED} more" if len(missing) > _NAMED else ""
        )
        text += f"; not uploaded: {named}"
    return text
