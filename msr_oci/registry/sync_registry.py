"""The proposal's synchronous ``ModelServingRegistry`` interface, and ``RemoteRegistry``: a thin facade
that runs ``AsyncRemoteRegistry`` on a private event loop (so connections stay pooled between calls)."""

from __future__ import annotations

import asyncio
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from msr_oci.oci.remote import RegistryOptions
from msr_oci.registry.alias_log import AliasEntry
from msr_oci.registry.async_registry import AsyncRemoteRegistry, FetchedRevision, SortOrder
from msr_oci.registry.diff import DiffEntry
from msr_oci.registry.render import DeploymentIds, RenderTarget
from msr_oci.revision import ModelServingRevision

if TYPE_CHECKING:
    from msr_oci.governance.audit import AuditEvent
    from msr_oci.governance.bundles import SigningMaterial
    from msr_oci.governance.evaluation import Verdict
    from msr_oci.governance.policy_store import StoredPolicy
    from msr_oci.registry.governance import AttachedAttestation, Discovery, PolicyChoice

T = TypeVar("T")


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


class RemoteRegistry(ModelServingRegistry):
    """``ModelServingRegistry`` over a registry namespace or a local store (see ``AsyncRemoteRegistry``)."""

    def __init__(
        self,
        namespace: str | os.PathLike[str] | None = None,
        *,
        options: RegistryOptions | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="msr-oci", daemon=True)
        self._thread.start()
        self.aio = AsyncRemoteRegistry(namespace, options=options, cache_dir=cache_dir)

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
        return self.aio.request_count

    # the proposal's interface
    def create_revision(
        self, revision: ModelServingRevision, *, overwrite: bool = False, any_version: bool = False
    ) -> str:
        return self._run(self.aio.create_revision(revision, overwrite=overwrite, any_version=any_version))

    def get_revision(
        self,
        revision_id: str,
        *,
        with_aliases: bool = True,
        devel: bool = False,
        policy: PolicyChoice | None = None,
        stage: str | None = None,
    ) -> ModelServingRevision:
        return self._run(
            self.aio.get_revision(
                revision_id, with_aliases=with_aliases, devel=devel, policy=policy, stage=stage
            )
        )

    def list_revisions(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        sort: SortOrder = "semver",
        reverse: bool = False,
        verify: bool = False,
    ) -> list[ModelServingRevision]:
        return self._run(self.aio.list_revisions(filters, sort=sort, reverse=reverse, verify=verify))

    def build_index(self, name: str) -> int:
        return self._run(self.aio.build_index(name))

    def update_revision(self, revision_id: str, revision: ModelServingRevision) -> str:
        return self._run(self.aio.update_revision(revision_id, revision))

    def delete_revision(self, revision_id: str) -> None:
        self._run(self.aio.delete_revision(revision_id))

    # beyond the proposal
    def archive(self, revision_id: str) -> list[str]:
        return self._run(self.aio.archive(revision_id))

    def versions(self, name: str) -> list[str]:
        return self._run(self.aio.versions(name))

    def history(self, revision_id: str) -> list[ModelServingRevision]:
        return self._run(self.aio.history(revision_id))

    def set_alias(
        self, name: str, alias: str, version: str, *, policy: PolicyChoice | None = None
    ) -> AliasEntry:
        return self._run(self.aio.set_alias(name, alias, version, policy=policy))

    def remove_alias(self, name: str, alias: str) -> AliasEntry:
        return self._run(self.aio.remove_alias(name, alias))

    def list_aliases(self, name: str) -> dict[str, AliasEntry]:
        return self._run(self.aio.list_aliases(name))

    def alias_history(self, name: str, alias: str) -> list[AliasEntry]:
        return self._run(self.aio.alias_history(name, alias))

    def rollback(
        self, name: str, alias: str, to_version: str | None = None, *, policy: PolicyChoice | None = None
    ) -> AliasEntry:
        return self._run(self.aio.rollback(name, alias, to_version, policy=policy))

    def fetch(
        self, revision_ref: str, *, policy: PolicyChoice | None = None, stage: str | None = None
    ) -> FetchedRevision:
        return self._run(self.aio.fetch(revision_ref, policy=policy, stage=stage))

    def pull(
        self,
        revision_ref: str,
        destination: Path,
        *,
        policy: PolicyChoice | None = None,
        stage: str | None = None,
    ) -> ModelServingRevision:
        return self._run(self.aio.pull(revision_ref, destination, policy=policy, stage=stage))

    def diff(self, a: str, b: str) -> list[DiffEntry]:
        return self._run(self.aio.diff(a, b))

    def render(
        self, revision_ref: str, target: RenderTarget, ids: DeploymentIds | None = None
    ) -> dict[str, Any]:
        return self._run(self.aio.render(revision_ref, target, ids))

    # governance
    def sign(self, revision_ref: str, material: SigningMaterial) -> AttachedAttestation:
        return self._run(self.aio.sign(revision_ref, material))

    def approve(
        self,
        revision_ref: str,
        stage: str,
        material: SigningMaterial,
        *,
        approver: str | None = None,
        comment: str | None = None,
    ) -> AttachedAttestation:
        return self._run(self.aio.approve(revision_ref, stage, material, approver=approver, comment=comment))

    def discover(self, revision_ref: str, *, policy: PolicyChoice | None = None) -> Discovery:
        return self._run(self.aio.discover(revision_ref, policy=policy))

    def verify(self, revision_ref: str, *, policy: PolicyChoice, stage: str | None = None) -> Verdict:
        return self._run(self.aio.verify(revision_ref, policy=policy, stage=stage))

    def audit(self, name: str) -> list[AuditEvent]:
        return self._run(self.aio.audit(name))

    def set_policy(
        self, name: str, data: bytes, materials: list[SigningMaterial], *, source: str = "policy"
    ) -> StoredPolicy:
        return self._run(self.aio.set_policy(name, data, materials, source=source))

    def get_policy(self, name: str) -> StoredPolicy:
        return self._run(self.aio.get_policy(name))

    def forget_policy(self, name: str) -> bool:
        return self.aio.forget_policy(name)
