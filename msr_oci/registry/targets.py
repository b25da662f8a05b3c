"""Where content lives: the namespace, and one pooled ``Target`` per repository it touches.

Connections are pooled per registry host and stores per root; ``gather`` bounds how many jobs run at
once. Every collaborator of ``AsyncRemoteRegistry`` reaches content through this one object.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from msr_oci.errors import NameUnknown, NotFoundError
from msr_oci.oci import Reference, Target
from msr_oci.oci.layout import LocalStore
from msr_oci.oci.remote import Registry, RegistryOptions
from msr_oci.registry.namespace import Namespace
from msr_oci.registry.refs import RepositoryTags, RevisionRef, classify_tags

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")


class Targets:
    def __init__(
        self, namespace: str | os.PathLike[str] | None, options: RegistryOptions | None, concurrency: int
    ) -> None:
        self.namespace = Namespace.parse(namespace)
        self.options = options
        self.concurrency = concurrency
        self._registries: dict[str, Registry] = {}
        self._stores: dict[Path, LocalStore] = {}
        self._targets: dict[tuple[str | None, str], Target] = {}

    async def aclose(self) -> None:
        for target in self._targets.values():
            await target.aclose()
        for registry in self._registries.values():
            await registry.aclose()
        self._targets.clear()
        self._registries.clear()

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far to every registry (for tests and benchmarks)."""
        return sum(r.request_count for r in self._registries.values())

    def store(self) -> LocalStore:
        root = self.namespace.store_root
        assert root is not None
        if root not in self._stores:
            self._stores[root] = LocalStore(root)
        return self._stores[root]

    def registry(self, host: str) -> Registry:
        if host not in self._registries:
            self._registries[host] = Registry(host, self.options)
        return self._registries[host]

    def target(self, ref: Reference) -> Target:
        """The content store holding ``ref``'s repository (``ref`` already located in the namespace)."""
        key = (ref.registry, ref.repository)
        if key not in self._targets:
            if ref.registry is None:
                self._targets[key] = self.store().repository(ref.repository)
            else:
                self._targets[key] = self.registry(ref.registry).repository(ref.repository)
        return self._targets[key]

    def locate(self, ref: str | Reference | RevisionRef) -> Reference:
        """A reference made absolute in the namespace (``name:1.0.0+b.5`` names the tag ``1.0.0_b.5``)."""
        if isinstance(ref, Reference):
            return self.namespace.locate(ref)
        if isinstance(ref, str):
            ref = RevisionRef.parse(ref)
        return ref.locate(self.namespace)

    def repository_ref(self, name: str) -> Reference:
        """The repository of the revision ``name`` in the namespace."""
        return self.namespace.locate(Reference(repository=name))

    @staticmethod
    def revision_id(ref: Reference, digest: str) -> str:
        return str(Reference(repository=ref.repository, registry=ref.registry, digest=digest))

    async def repositories(self) -> list[str]:
        """Repository paths in the namespace's store or registry catalog."""
        if self.namespace.registry is None:
            return self.store().repositories()
        return [r async for r in self.registry(self.namespace.registry).catalog()]

    async def tags(self, target: Target) -> list[str]:
        try:
            return [tag async for tag in target.list_tags()]
        except NameUnknown:
            return []

    async def scan(self, target: Target) -> RepositoryTags:
        """The repository's tags sorted into versions and aliases (one tag list request)."""
        return classify_tags(await self.tags(target))

    async def pointing_at(self, target: Target, tags: Iterable[str], digest: str) -> list[str]:
        """Those of ``tags`` that currently point at ``digest`` (one request per tag, concurrent)."""
        candidates = list(tags)

        async def points_here(tag: str) -> bool:
            try:
                return (await target.resolve(tag)).digest == digest
            except NotFoundError:
                return False

        hits = await self.gather(points_here(tag) for tag in candidates)
        return [tag for tag, hit in zip(candidates, hits, strict=True) if hit]

    async def gather(self, jobs: Iterable[Awaitable[T]], *, limit: int | None = None) -> list[T]:
        """Run jobs concurrently, at most ``limit`` (default ``concurrency``) at once, results in order."""
        slots = asyncio.Semaphore(limit or self.concurrency)

        async def bounded(job: Awaitable[T]) -> T:
            async with slots:
                return await job

        pending = list(jobs)
        tasks = [asyncio.ensure_future(bounded(job)) for job in pending]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            # stop the siblings and let them clean up (temp files) before the error reaches the caller
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for job in pending:  # jobs cancelled before they started were never awaited
                if inspect.iscoroutine(job):
                    job.close()
            raise


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Run two jobs together; when one fails, the other is stopped (and cleaned up) first."""
    tasks = (asyncio.ensure_future(first), asyncio.ensure_future(second))
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            await cancel(task)
        raise
    return tasks[0].result(), tasks[1].result()


async def cancel(task: asyncio.Future[Any]) -> None:
    """Stop a task and wait until it has cleaned up."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
