"""The proposal's synchronous ``ModelServingRegistry`` interface, and ``RemoteRegistry``: a thin facade
that runs ``AsyncRemoteRegistry`` on a private event loop (so connections stay pooled between calls)."""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from msr_oci.oci.remote import RegistryOptions
from msr_oci.registry.async_registry import AsyncRemoteRegistry
from msr_oci.revision import ModelServingRevision

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


class ModelServingRegistry(ABC):
    """The Model Serving Registry interface (BEP-1009)."""

    @abstractmethod
    def create_revision(self, revision: ModelServingRevision) -> str:
        """Create a new model serving revision and return its ID."""

    @abstractmethod
    def get_revision(self, revision_id: str) -> ModelServingRevision:
        """Retrieve a specific model serving revision."""

    @abstractmethod
    def list_revisions(self, filters: dict[str, Any]) -> list[ModelServingRevision]:
        """List model serving revisions with optional filters."""

    @abstractmethod
    def update_revision(self, revision_id: str, revision: ModelServingRevision) -> str | None:
        """Update an existing model serving revision (here: returns the new revision's ID)."""

    @abstractmethod
    def delete_revision(self, revision_id: str) -> None:
        """Delete a model serving revision."""


def _blocking(
    method: Callable[Concatenate[AsyncRemoteRegistry, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[RemoteRegistry, P], R]:
    """The blocking twin of an ``AsyncRemoteRegistry`` method: same name, parameters and docstring."""

    @functools.wraps(method)
    def blocking(self: RemoteRegistry, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._run(method(self.aio, *args, **kwargs))

    return blocking


def _delegated(
    method: Callable[Concatenate[AsyncRemoteRegistry, P], R],
) -> Callable[Concatenate[RemoteRegistry, P], R]:
    """An ``AsyncRemoteRegistry`` method that does no I/O, called on the facade's ``aio``."""

    @functools.wraps(method)
    def delegated(self: RemoteRegistry, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(self.aio, *args, **kwargs)

    return delegated


class RemoteRegistry(ModelServingRegistry):
    """``ModelServingRegistry`` over a registry namespace or a local store (see ``AsyncRemoteRegistry``).

    Every public coroutine of ``AsyncRemoteRegistry`` is here as a blocking method made from it by
    ``_blocking``, so the two cannot drift (tests/registry/test_sync_parity.py checks it). Calls run on a
    private event loop in one thread, so connections stay pooled between calls.
    """

    def __init__(
        self,
        namespace: str | os.PathLike[str] | None = None,
        *,
        options: RegistryOptions | None = None,
        cache_dir: Path | None = None,
        concurrency: int = 8,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="msr-oci", daemon=True)
        self._thread.start()
        self.aio = AsyncRemoteRegistry(
            namespace, options=options, cache_dir=cache_dir, concurrency=concurrency
        )

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        if self._loop.is_running():
            self._run(self.aio.aclose())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> RemoteRegistry:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far to every registry (for tests and benchmarks)."""
        return self.aio.request_count

    @property
    def pinned_on_first_use(self) -> list[str]:
        """Repositories whose policy this object trusted on first use."""
        return self.aio.pinned_on_first_use

    # the proposal's interface
    create_revision = _blocking(AsyncRemoteRegistry.create_revision)
    get_revision = _blocking(AsyncRemoteRegistry.get_revision)
    list_revisions = _blocking(AsyncRemoteRegistry.list_revisions)
    list_summaries = _blocking(AsyncRemoteRegistry.list_summaries)
    update_revision = _blocking(AsyncRemoteRegistry.update_revision)
    delete_revision = _blocking(AsyncRemoteRegistry.delete_revision)

    # beyond the proposal
    list_names = _blocking(AsyncRemoteRegistry.list_names)
    build_index = _blocking(AsyncRemoteRegistry.build_index)
    versions = _blocking(AsyncRemoteRegistry.versions)
    history = _blocking(AsyncRemoteRegistry.history)
    update_metadata = _blocking(AsyncRemoteRegistry.update_metadata)
    removal_plan = _blocking(AsyncRemoteRegistry.removal_plan)
    archive = _blocking(AsyncRemoteRegistry.archive)
    unarchive = _blocking(AsyncRemoteRegistry.unarchive)
    list_archived = _blocking(AsyncRemoteRegistry.list_archived)
    delete_all_versions = _blocking(AsyncRemoteRegistry.delete_all_versions)
    set_alias = _blocking(AsyncRemoteRegistry.set_alias)
    remove_alias = _blocking(AsyncRemoteRegistry.remove_alias)
    list_aliases = _blocking(AsyncRemoteRegistry.list_aliases)
    alias_history = _blocking(AsyncRemoteRegistry.alias_history)
    forget_alias_record = _blocking(AsyncRemoteRegistry.forget_alias_record)
    rollback = _blocking(AsyncRemoteRegistry.rollback)
    fetch = _blocking(AsyncRemoteRegistry.fetch)
    pull = _blocking(AsyncRemoteRegistry.pull)
    copy = _blocking(AsyncRemoteRegistry.copy)
    export = _blocking(AsyncRemoteRegistry.export)
    import_archive = _blocking(AsyncRemoteRegistry.import_archive)
    render = _blocking(AsyncRemoteRegistry.render)
    diff = _blocking(AsyncRemoteRegistry.diff)
    locate = _delegated(AsyncRemoteRegistry.locate)
    revision_id = _delegated(AsyncRemoteRegistry.revision_id)

    # governance
    sign = _blocking(AsyncRemoteRegistry.sign)
    approve = _blocking(AsyncRemoteRegistry.approve)
    discover = _blocking(AsyncRemoteRegistry.discover)
    verify = _blocking(AsyncRemoteRegistry.verify)
    audit = _blocking(AsyncRemoteRegistry.audit)
    set_policy = _blocking(AsyncRemoteRegistry.set_policy)
    get_policy = _blocking(AsyncRemoteRegistry.get_policy)
    forget_policy = _delegated(AsyncRemoteRegistry.forget_policy)
