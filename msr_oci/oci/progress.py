"""What a transfer reports while it runs: bytes moved, the total, blobs done or already there.

Every ``progress=`` of the API takes a plain callable of bytes moved (``ProgressCallback``) or an
object that also has the ``TransferEvents`` methods (subclass ``TransferProgress``, or just provide
them), which hears about the whole transfer. The code that moves content reports through
``events(progress)``, which accepts either (or ``None``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from msr_oci.oci.content import Descriptor
    from msr_oci.oci.target import ProgressCallback

__all__ = ["TransferEvents", "TransferProgress", "events"]


@runtime_checkable
class TransferEvents(Protocol):
    """A progress callback that hears about the whole transfer, not only bytes."""

    def __call__(self, size: int) -> None:
        """``size`` more bytes were moved (or found already there)."""

    def expect(self, total: int) -> None:
        """The transfer moves ``total`` bytes in all (known from the manifest before it starts)."""

    def blob_done(self, descriptor: Descriptor, *, skipped: bool) -> None:
        """A blob is in place; ``skipped``: the destination already held it, nothing was sent."""

    def manifest_pushed(self, descriptor: Descriptor) -> None:
        """The manifest is written: from here on the pushed revision exists."""


class TransferProgress:
    """``TransferEvents`` that do nothing: subclass and override what you show."""

    def __call__(self, size: int) -> None:
        pass

    def expect(self, total: int) -> None:
        pass

    def blob_done(self, descriptor: Descriptor, *, skipped: bool) -> None:
        pass

    def manifest_pushed(self, descriptor: Descriptor) -> None:
        pass


class _BytesOnly(TransferProgress):
    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback

    def __call__(self, size: int) -> None:
        if self._callback is not None:
            self._callback(size)


def events(progress: ProgressCallback | None) -> TransferEvents:
    """``progress`` as ``TransferEvents`` (a plain callable hears only the bytes)."""
    return progress if isinstance(progress, TransferEvents) else _BytesOnly(progress)
