"""A repository in a remote OCI registry (distribution-spec v1.1) as a ``Target``.

``Registry`` owns one pooled HTTP client per host (see ``transport.py``); ``RemoteRepository`` speaks
the protocol: blobs (monolithic streamed or chunked uploads, cross-repository mounts), manifests,
tags with pagination, referrers with the fallback tag scheme, and deletion.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from types import TracebackType

import httpx

from msr_oci.errors import (
    BlobUnknown,
    ContentTooLarge,
    DigestMismatch,
    InputError,
    IntegrityError,
    InvalidManifest,
    ManifestUnknown,
    MsrOciError,
    NetworkError,
    NotFoundError,
)
from msr_oci.oci.auth import repository_scope
from msr_oci.oci.content import (
    EMPTY_DESCRIPTOR,
    EMPTY_JSON,
    MANIFEST_MEDIA_TYPES,
    MAX_MANIFEST_SIZE,
    MEDIA_TYPE_IMAGE_INDEX,
    MEDIA_TYPE_IMAGE_MANIFEST,
    Descriptor,
    ImageIndex,
    ImageManifest,
    is_manifest_media_type,
    parse_manifest,
    referrer_descriptor,
)
from msr_oci.oci.digest import Digester, digest_bytes, is_digest, parse_digest, verify_bytes
from msr_oci.oci.download import DIRECT_THRESHOLD, download
from msr_oci.oci.reference import Reference, validate_repository, validate_tag
from msr_oci.oci.responses import error_from_response, registry_errors
from msr_oci.oci.target import Content, ProgressCallback, Target, iter_content, verified_stream
from msr_oci.oci.tempfiles import staged_file
from msr_oci.oci.transport import RegistryOptions, Transport, read_capped, same_origin

__all__ = ["Registry", "RegistryOptions", "RemoteRepository", "open_repository"]

MANIFEST_ACCEPT = ", ".join(sorted(MANIFEST_MEDIA_TYPES))
#: tag pagination stops here even if the registry keeps sending ``Link`` headers
MAX_TAG_PAGES = 10_000
OCTET_STREAM = "application/octet-stream"
#: a manifest PUT answered DIGEST_INVALID is sent again this often in all (see ``_put_manifest``)
MANIFEST_PUT_ATTEMPTS = 3
#: blobs up to this size go up in one request where the registry allows (``POST ?digest=`` with the
#: body), without asking first whether they exist: one request either way. Registries without the
#: feature answer 202 and the blob follows in a PUT; Go servers (distribution) drain an unread body up
#: to 256 KiB and drop the connection past it, so larger bodies are never sent speculatively
SINGLE_REQUEST_LIMIT = 256 * 1024
#: the throwaway manifest ``untag`` re-points a tag at before deleting it by digest
PLACEHOLDER_ARTIFACT_TYPE = "application/vnd.msr-oci.untag-placeholder.v1+json"
PLACEHOLDER_NONCE = "io.msr-oci.untag.nonce"


class Registry:
    """One registry host: a pooled connection, credentials and a request counter."""

    def __init__(self, host: str, options: RegistryOptions | None = None) -> None:
        self.host = host
        self.options = options or RegistryOptions()
        self.transport = Transport(host, self.options)
        #: whether the registry completes a blob upload in one POST (None: not known yet)
        self.single_request_uploads: bool | None = None

    @property
    def request_count(self) -> int:
        """Every HTTP request sent so far, token requests and redirects included."""
        return self.transport.request_count

    def repository(self, name: str) -> RemoteRepository:
        return RemoteRepository(self, name)

    def catalog(self, *, last: str | None = None, page_size: int | None = None) -> AsyncIterator[str]:
        """Repository names (``GET /v2/_catalog``), paged like tags; the registry may restrict it."""
        scopes = ("registry:catalog:*",)
        return _paged_names(
            self.transport, "/v2/_catalog", "repositories", scopes, f"catalog of {self.host}", page_size, last
        )

    async def ping(self) -> None:
        """Check the registry speaks the distribution API and accepts our credentials."""
        response = await self.transport.request("GET", "/v2/", scopes=())
        if response.status_code != 200:
            raise error_from_response(response, f"registry {self.host}")

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> Registry:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def open_repository(reference: str | Reference, options: RegistryOptions | None = None) -> RemoteRepository:
    """The repository a reference names, on a registry of its own (closed with the repository)."""
    ref = Reference.parse(reference) if isinstance(reference, str) else reference
    if ref.registry is None:
        raise InputError(f"{ref} names the local store, not a registry", hint="prefix it with host[:port]/")
    repository = RemoteRepository(Registry(ref.registry, options), ref.repository)
    repository.owns_registry = True
    return repository


def _media_type(response: httpx.Response) -> str:
    return str(response.headers.get("Content-Type", "")).split(";", 1)[0].strip()


def _declared_media_type(data: bytes, what: str) -> str:
    """The ``mediaType`` a manifest declares, for registries that answer without a Content-Type."""
    try:
        value = json.loads(data)
    except ValueError:  # UnicodeDecodeError included
        raise InvalidManifest(f"{what} is not JSON") from None
    declared = value.get("mediaType") if isinstance(value, dict) else None
    return declared if isinstance(declared, str) else ""


def _fallback_tag(digest: str) -> str:
    algorithm, encoded = parse_digest(digest)
    return f"{algorithm}-{encoded}"


def _next_link(header: str) -> str | None:
    """The target of ``rel="next"`` in a ``Link`` header."""
    for part in header.split(","):
        target, _, params = part.partition(";")
        if "next" in params.replace('"', "").replace(" ", "").split("rel=", 1)[-1].split(";")[0]:
            target = target.strip()
            if target.startswith("<") and target.endswith(">"):
                return target[1:-1]
    return None


#: the content whose digest ``check_deletable`` asks to delete (no manifest has it)
_DELETE_PROBE = b"msr-oci: may this repository delete manifests?"


class RemoteRepository(Target):
    def __init__(self, registry: Registry, name: str) -> None:
        self.registry = registry
        self.name = validate_repository(name)
        self.owns_registry = False
        self._transport = registry.transport
        self._pull = (repository_scope(name, "pull"),)
        self._push = (repository_scope(name, "pull", "push"),)
        self._delete = (repository_scope(name, "delete"),)
        # read-modify-write of a fallback referrers index is serialised per subject in this process
        self._fallback_locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"RemoteRepository({self.registry.host}/{self.name})"

    def __str__(self) -> str:
        return f"{self.registry.host}/{self.name}"

    def expect_push(self) -> None:
        """Ask for pull and push rights on every request from now on: the token a push needs then
        serves its reads too (one token request instead of two)."""
        self._pull = self._push

    async def aclose(self) -> None:
        if self.owns_registry:
            await self.registry.aclose()

    def _path(self, kind: str, reference: str) -> str:
        return f"/v2/{self.name}/{kind}/{reference}"

    # ---- manifests ----------------------------------------------------------------------------------

    def _check_reference(self, reference: str) -> str:
        if is_digest(reference):
            return reference
        return validate_tag(reference, f"{self}:{reference}")

    async def resolve(self, reference: str) -> Descriptor:
        self._check_reference(reference)
        response = await self._transport.request(
            "HEAD", self._path("manifests", reference), scopes=self._pull, headers={"Accept": MANIFEST_ACCEPT}
        )
        if response.status_code != 200:
            raise error_from_response(response, f"manifest {self}:{reference}", ManifestUnknown)
        digest = response.headers.get("Docker-Content-Digest")
        size = response.headers.get("Content-Length")
        if not digest or not size or not size.isdigit() or not is_digest(digest):
            descriptor, _ = await self._get_manifest(reference)
            return descriptor
        if is_digest(reference) and digest != reference:
            raise DigestMismatch(reference, digest, f"manifest {self}")
        return Descriptor(media_type=_media_type(response), digest=digest, size=int(size))

    async def _get_manifest(self, reference: str) -> tuple[Descriptor, bytes]:
        """GET a manifest by tag or digest, capped at 4 MiB and verified."""
        what = f"manifest {self}:{reference}"
        headers = {"Accept": MANIFEST_ACCEPT}
        async with self._transport.stream(
            "GET", self._path("manifests", reference), scopes=self._pull, headers=headers
        ) as response:
            if response.status_code != 200:
                raise error_from_response(response, what, ManifestUnknown)
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > MAX_MANIFEST_SIZE:
                raise ContentTooLarge(what, MAX_MANIFEST_SIZE)
            data = await read_capped(response, MAX_MANIFEST_SIZE)
            if len(data) > MAX_MANIFEST_SIZE:
                raise ContentTooLarge(what, MAX_MANIFEST_SIZE)
            announced = response.headers.get("Docker-Content-Digest")
            media_type = _media_type(response)
        if is_digest(reference):
            verify_bytes(data, reference, None, what)
            digest = reference
        else:
            if announced and not is_digest(announced):
                # the registry's garbage, not the caller's input: an integrity failure
                raise IntegrityError(
                    f"{what}: the registry sent an invalid Docker-Content-Digest {announced!r}"
                )
            digest = digest_bytes(data, parse_digest(announced)[0] if announced else "sha256")
            if announced and announced != digest:
                raise DigestMismatch(announced, digest, what)
        if not media_type or media_type == OCTET_STREAM:
            media_type = _declared_media_type(data, what)
        return Descriptor(media_type=media_type, digest=digest, size=len(data)), data

    async def fetch_manifest(self, reference: str) -> tuple[Descriptor, ImageManifest | ImageIndex, bytes]:
        self._check_reference(reference)
        descriptor, data = await self._get_manifest(reference)
        return descriptor, parse_manifest(data, descriptor.media_type), data

    async def _put_manifest(self, descriptor: Descriptor, data: bytes, reference: str) -> httpx.Response:
        what = f"manifest {self}:{reference}"
        if len(data) > MAX_MANIFEST_SIZE:
            raise ContentTooLarge(what, MAX_MANIFEST_SIZE)
        verify_bytes(data, descriptor.digest, descriptor.size, what)
        for attempt in range(MANIFEST_PUT_ATTEMPTS):
            response = await self._transport.request(
                "PUT",
                self._path("manifests", reference),
                scopes=self._push,
                headers={"Content-Type": descriptor.media_type},
                body=data,
            )
            # the bytes were verified above, so DIGEST_INVALID is the registry's own transient state:
            # distribution's filesystem driver rewrites a blob link non-atomically while another client
            # uploads the same blob, and a manifest check reading it then sees an empty digest
            transient = response.status_code == 400 and any(
                e.get("code") == "DIGEST_INVALID" for e in registry_errors(response)
            )
            if not transient or attempt == MANIFEST_PUT_ATTEMPTS - 1:
                break
            await asyncio.sleep(0.05 * (attempt + 1))
        if response.status_code not in (200, 201):
            raise error_from_response(response, what, ManifestUnknown)
        announced = response.headers.get("Docker-Content-Digest")
        if announced and announced != descriptor.digest:
            raise DigestMismatch(descriptor.digest, announced, f"{what} (registry's Docker-Content-Digest)")
        return response

    async def push_manifest(self, descriptor: Descriptor, data: bytes, tag: str | None = None) -> None:
        """PUT a manifest, by tag in one request when ``tag`` is given; keeps the referrers fallback."""
        if tag is not None:
            validate_tag(tag, f"{self}:{tag}")
        response = await self._put_manifest(descriptor, data, tag or descriptor.digest)
        manifest = parse_manifest(data, descriptor.media_type)
        if manifest.subject is not None and "OCI-Subject" not in response.headers:
            await self._fallback_update(manifest.subject, add=referrer_descriptor(descriptor, manifest))

    async def tag(self, descriptor: Descriptor, tag: str) -> None:
        validate_tag(tag, f"{self}:{tag}")
        _, data = await self._get_manifest(descriptor.digest)
        await self._put_manifest(descriptor, data, tag)

    async def untag(self, tag: str) -> None:
        """Delete one tag.

        DELETE of a manifest by tag is optional in the distribution-spec. Registries without it (CNCF
        distribution 2.8 answers 400/405) delete manifests only by digest, which removes every tag on the
        manifest. So the tag is first re-pointed at a unique throwaway manifest that nothing else can
        carry, and that manifest is deleted by digest: only this tag goes, the old manifest stays.
        """
        validate_tag(tag, f"{self}:{tag}")
        await self.resolve(tag)  # ManifestUnknown when there is no such tag: nothing is created then
        response = await self._transport.request("DELETE", self._path("manifests", tag), scopes=self._delete)
        if response.status_code in (200, 202):
            return
        codes = {str(e.get("code")) for e in registry_errors(response)}
        if response.status_code in (400, 405) and codes & {
            "DIGEST_INVALID",
            "UNSUPPORTED",
            "MANIFEST_INVALID",
        }:
            if response.status_code == 405:
                # a registry with deletion disabled says the same: the placeholder would take the
                # tag and then stay, so find out before the tag moves
                await self.check_deletable()
            await self._untag_through_placeholder(tag)
            return
        raise error_from_response(response, f"tag {self}:{tag}", ManifestUnknown)

    async def check_deletable(self) -> None:
        """Raise ``DeletionDisabled`` (exit 8) if this registry refuses deletes, changing nothing.

        Asks to delete a manifest no one can have pushed (the digest of a fixed probe text): a
        registry that deletes answers 404 (202 would do too), one with deletion disabled 405."""
        probe = digest_bytes(_DELETE_PROBE)
        response = await self._transport.request(
            "DELETE", self._path("manifests", probe), scopes=self._delete
        )
        if response.status_code in (200, 202, 404):
            return
        raise error_from_response(response, f"manifest {self}@{probe}", ManifestUnknown)

    async def _untag_through_placeholder(self, tag: str) -> None:
        placeholder = ImageManifest(
            artifact_type=PLACEHOLDER_ARTIFACT_TYPE,
            config=EMPTY_DESCRIPTOR,
            layers=[EMPTY_DESCRIPTOR],
            annotations={PLACEHOLDER_NONCE: uuid.uuid4().hex},
        )
        data = placeholder.to_bytes()
        descriptor = Descriptor.from_bytes(
            MEDIA_TYPE_IMAGE_MANIFEST, data, artifact_type=PLACEHOLDER_ARTIFACT_TYPE
        )
        if not await self.exists(EMPTY_DESCRIPTOR):
            await self.push(EMPTY_DESCRIPTOR, EMPTY_JSON)
        await self.push_manifest(descriptor, data, tag=tag)
        await self.delete(descriptor)

    # ---- blobs and generic content ------------------------------------------------------------------

    def _kind(self, descriptor: Descriptor) -> str:
        return "manifests" if is_manifest_media_type(descriptor.media_type) else "blobs"

    @asynccontextmanager
    async def _fetch(self, descriptor: Descriptor) -> AsyncIterator[AsyncIterator[bytes]]:
        kind = self._kind(descriptor)
        headers = {"Accept": MANIFEST_ACCEPT} if kind == "manifests" else {}
        what = f"{kind[:-1]} {self}@{descriptor.digest}"
        async with self._transport.stream(
            "GET", self._path(kind, descriptor.digest), scopes=self._pull, headers=headers
        ) as response:
            if response.status_code != 200:
                raise error_from_response(response, what, BlobUnknown if kind == "blobs" else ManifestUnknown)
            yield verified_stream(descriptor, response.aiter_bytes(), what)

    def fetch(self, descriptor: Descriptor) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        return self._fetch(descriptor)

    async def fetch_to_file(
        self, descriptor: Descriptor, path: Path, *, progress: ProgressCallback | None = None
    ) -> None:
        """Large blobs straight from the socket into the file (``download.py``); the rest, and
        whatever that path does not take, through ``Target.fetch_to_file``."""
        direct = (
            descriptor.size >= DIRECT_THRESHOLD
            and self._kind(descriptor) == "blobs"
            and self._transport.direct_downloads
        )
        if direct and await self._download_direct(descriptor, path, progress):
            return
        await super().fetch_to_file(descriptor, path, progress=progress)

    async def _download_direct(
        self, descriptor: Descriptor, path: Path, progress: ProgressCallback | None
    ) -> bool:
        transport = self._transport
        with staged_file(path) as staged:
            async with transport.slot():
                digester = Digester.for_digest(descriptor.digest)
                done = await download(
                    transport.url(self._path("blobs", descriptor.digest)),
                    origin=transport.base_url,
                    authorization=await transport.auth.header_for(self._pull),
                    size=descriptor.size,
                    digester=digester,
                    destination=staged.path,
                    ssl_context=transport.ssl_context,
                    timeout=transport.options.timeout,
                    user_agent=transport.options.user_agent,
                    count_request=transport.count_request,
                    progress=progress,
                )
            if done:
                digester.verify(descriptor.digest, descriptor.size, f"blob {self}@{descriptor.digest}")
            staged.keep = done  # not done: the registry would not serve it directly; nothing is kept
        return done

    async def exists(self, descriptor: Descriptor) -> bool:
        kind = self._kind(descriptor)
        headers = {"Accept": MANIFEST_ACCEPT} if kind == "manifests" else {}
        response = await self._transport.request(
            "HEAD", self._path(kind, descriptor.digest), scopes=self._pull, headers=headers
        )
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise error_from_response(response, f"{kind[:-1]} {self}@{descriptor.digest}")

    async def push(
        self,
        descriptor: Descriptor,
        content: Content,
        *,
        progress: ProgressCallback | None = None,
        mount_from: str | None = None,
    ) -> None:
        if is_manifest_media_type(descriptor.media_type):
            data = content if isinstance(content, bytes) else await _read_small(content, descriptor)
            await self.push_manifest(descriptor, data)
            return
        location: httpx.URL | None = None
        min_chunk = 0
        replayable = isinstance(content, bytes | Path)
        if descriptor.size <= SINGLE_REQUEST_LIMIT and replayable and mount_from is None:
            assert isinstance(content, bytes | Path)
            # small: uploading costs one request, like asking whether it is there
            if self.registry.single_request_uploads is not False:
                location = await self._upload_in_one_request(descriptor, content, progress)
                if location is None:
                    return
        elif await self.exists(descriptor):
            return
        if mount_from is not None:
            mounted, location, min_chunk = await self._start_upload(descriptor, mount_from)
            if mounted:
                return
        if location is None:
            _, location, min_chunk = await self._start_upload(None, None)
        assert location is not None
        if self.registry.options.chunk_size:
            await self._upload_chunked(descriptor, content, location, progress, min_chunk)
        else:
            await self._upload_monolithic(descriptor, content, location, progress)

    async def _upload_in_one_request(
        self, descriptor: Descriptor, content: bytes | Path, progress: ProgressCallback | None
    ) -> httpx.URL | None:
        """``POST ?digest=`` with the blob: ``None`` when the registry took it, else a location to PUT it
        to: the upload the registry opened instead (it ignored the body: distribution 2.8), or a new
        one after a refusal. Either way this registry's uploads are POST + PUT from then on."""
        url = self._transport.url(f"/v2/{self.name}/blobs/uploads/").copy_merge_params(
            {"digest": descriptor.digest}
        )
        response = await self._transport.request(
            "POST",
            url,
            scopes=self._push,
            headers={"Content-Type": OCTET_STREAM, "Content-Length": str(descriptor.size)},
            body=self._body(descriptor, content, None),
        )
        if response.status_code == 201:
            self.registry.single_request_uploads = True
            await self._finish_upload(descriptor, response)
            if progress is not None:
                progress(descriptor.size)
            return None
        self.registry.single_request_uploads = False
        location = response.headers.get("Location")
        if response.status_code == 202 and location:
            return response.url.join(location)
        _, opened, _ = await self._start_upload(None, None)
        return opened

    async def mount(self, descriptor: Descriptor, from_repository: str) -> bool:
        """Cross-repository mount; ``False`` means the registry declined and the caller must upload."""
        mounted, location, _ = await self._start_upload(descriptor, from_repository)
        if not mounted and location is not None:
            # abandon the upload session the registry opened instead (best effort: it expires anyway)
            with contextlib.suppress(MsrOciError):
                await self._transport.request("DELETE", location, scopes=self._push)
        return mounted

    async def _start_upload(
        self, descriptor: Descriptor | None, from_repository: str | None
    ) -> tuple[bool, httpx.URL | None, int]:
        """POST an upload (or a mount); returns (mounted, upload location, minimum chunk length)."""
        url = self._transport.url(f"/v2/{self.name}/blobs/uploads/")
        scopes: tuple[str, ...] = self._push
        if descriptor is not None and from_repository is not None:
            validate_repository(from_repository)
            url = url.copy_merge_params({"mount": descriptor.digest, "from": from_repository})
            scopes = (*scopes, repository_scope(from_repository, "pull"))
        response = await self._transport.request("POST", url, scopes=scopes, headers={"Content-Length": "0"})
        if response.status_code == 201 and descriptor is not None:
            return True, None, 0
        location = response.headers.get("Location")
        if response.status_code != 202 or not location:
            raise error_from_response(response, f"blob upload to {self}", NotFoundError)
        min_chunk = response.headers.get("OCI-Chunk-Min-Length", "0")
        return False, response.url.join(location), int(min_chunk) if min_chunk.isdigit() else 0

    def _body(
        self, descriptor: Descriptor, content: Content, progress: ProgressCallback | None
    ) -> Callable[[], AsyncIterator[bytes]]:
        """A body factory: a fresh verified stream per attempt (a one-shot stream can be sent once)."""
        sent = False

        async def stream() -> AsyncIterator[bytes]:
            nonlocal sent
            if sent and not isinstance(content, bytes | Path):
                raise NetworkError(f"cannot resend a one-shot stream for blob {descriptor.digest} to {self}")
            sent = True
            async for chunk in verified_stream(
                descriptor, iter_content(content), f"upload {descriptor.digest}"
            ):
                if progress is not None:
                    progress(len(chunk))
                yield chunk

        return stream

    async def _finish_upload(self, descriptor: Descriptor, response: httpx.Response) -> None:
        if response.status_code not in (201, 204):
            raise error_from_response(response, f"blob {self}@{descriptor.digest}", NotFoundError)
        announced = response.headers.get("Docker-Content-Digest")
        if announced and announced != descriptor.digest:
            raise DigestMismatch(
                descriptor.digest, announced, f"blob {self} (registry's Docker-Content-Digest)"
            )

    async def _upload_monolithic(
        self, descriptor: Descriptor, content: Content, location: httpx.URL, progress: ProgressCallback | None
    ) -> None:
        response = await self._transport.request(
            "PUT",
            location.copy_merge_params({"digest": descriptor.digest}),
            scopes=self._push,
            headers={"Content-Type": OCTET_STREAM, "Content-Length": str(descriptor.size)},
            body=self._body(descriptor, content, progress),
            replayable=isinstance(content, bytes | Path),
        )
        await self._finish_upload(descriptor, response)

    async def _upload_chunked(
        self,
        descriptor: Descriptor,
        content: Content,
        location: httpx.URL,
        progress: ProgressCallback | None,
        min_chunk: int,
    ) -> None:
        size = max(self.registry.options.chunk_size or 0, min_chunk, 1)
        offset = 0
        async for piece in _rechunk(self._body(descriptor, content, progress)(), size):
            response = await self._transport.request(
                "PATCH",
                location,
                scopes=self._push,
                headers={
                    "Content-Type": OCTET_STREAM,
                    "Content-Range": f"{offset}-{offset + len(piece) - 1}",
                    "Content-Length": str(len(piece)),
                },
                body=piece,
                replayable=False,
            )
            next_location = response.headers.get("Location")
            if response.status_code != 202 or not next_location:
                raise error_from_response(response, f"chunk at {offset} of blob {descriptor.digest}")
            location = response.url.join(next_location)
            offset += len(piece)
        response = await self._transport.request(
            "PUT",
            location.copy_merge_params({"digest": descriptor.digest}),
            scopes=self._push,
            headers={"Content-Length": "0"},
            body=b"",
        )
        await self._finish_upload(descriptor, response)

    async def delete(self, descriptor: Descriptor) -> None:
        kind = self._kind(descriptor)
        subject: Descriptor | None = None
        if kind == "manifests":
            # learn the subject first: deleting a referrer must also update the fallback index
            _, data = await self._get_manifest(descriptor.digest)
            subject = parse_manifest(data, descriptor.media_type).subject
        response = await self._transport.request(
            "DELETE", self._path(kind, descriptor.digest), scopes=self._delete
        )
        if response.status_code not in (200, 202):
            what = f"{kind[:-1]} {self}@{descriptor.digest}"
            raise error_from_response(response, what, BlobUnknown if kind == "blobs" else ManifestUnknown)
        if subject is not None:
            await self._fallback_update(subject, remove=descriptor.digest)

    # ---- tags ---------------------------------------------------------------------------------------

    def list_tags(self, *, last: str | None = None, page_size: int | None = None) -> AsyncIterator[str]:
        """Tags after ``last`` in lexical order, following ``Link`` pages on this registry's origin only.

        A repository the registry does not know has no tags (an empty listing, not an error).
        """
        path = f"/v2/{self.name}/tags/list"
        return _paged_names(self._transport, path, "tags", self._pull, f"tag list of {self}", page_size, last)

    # ---- referrers ----------------------------------------------------------------------------------

    async def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        url = self._transport.url(self._path("referrers", subject.digest))
        if artifact_type:
            url = url.copy_merge_params({"artifactType": artifact_type})
        response = await self._transport.request(
            "GET", url, scopes=self._pull, headers={"Accept": MEDIA_TYPE_IMAGE_INDEX}
        )
        if response.status_code == 200 and _media_type(response) == MEDIA_TYPE_IMAGE_INDEX:
            found = list(ImageIndex.model_validate_json(response.content).manifests)
        elif response.status_code in (400, 404, 405):
            # no referrers API: read the fallback tag the clients maintain
            found = (await self._fallback_index(subject))[1]
        else:
            raise error_from_response(response, f"referrers of {self}@{subject.digest}", ManifestUnknown)
        if artifact_type:
            found = [d for d in found if d.artifact_type == artifact_type]
        return found

    async def _fallback_index(self, subject: Descriptor) -> tuple[Descriptor | None, list[Descriptor]]:
        try:
            descriptor, data = await self._get_manifest(_fallback_tag(subject.digest))
        except ManifestUnknown:
            return None, []
        except NotFoundError:
            return None, []
        index = parse_manifest(data, descriptor.media_type)
        if descriptor.digest == subject.digest or not isinstance(index, ImageIndex):
            # the tag names the subject itself (seen on GitLab), not a referrers list
            return None, []
        return descriptor, list(index.manifests)

    async def _fallback_update(
        self, subject: Descriptor, *, add: Descriptor | None = None, remove: str | None = None
    ) -> None:
        """Read-modify-write the fallback referrers index of ``subject``; drop the replaced index."""
        lock = self._fallback_locks.setdefault(subject.digest, asyncio.Lock())
        async with lock:
            old, entries = await self._fallback_index(subject)
            digests = {d.digest for d in entries}
            if add is not None and add.digest not in digests:
                entries.append(add)
            elif remove is not None and remove in digests:
                entries = [d for d in entries if d.digest != remove]
            else:
                return
            tag = _fallback_tag(subject.digest)
            if entries or old is None:
                data = ImageIndex(manifests=entries).to_bytes()
                new = Descriptor.from_bytes(MEDIA_TYPE_IMAGE_INDEX, data)
                await self._put_manifest(new, data, tag)
            if old is not None:
                await self._delete_quietly(old, keep_if_disabled=not entries, tag=tag)

    async def _delete_quietly(self, old: Descriptor, *, keep_if_disabled: bool, tag: str) -> None:
        """Drop a replaced fallback index; with deletion disabled, an emptied one becomes an empty index."""
        response = await self._transport.request(
            "DELETE", self._path("manifests", old.digest), scopes=self._delete
        )
        if response.status_code in (200, 202, 404):
            return
        if keep_if_disabled:
            data = ImageIndex(manifests=[]).to_bytes()
            await self._put_manifest(Descriptor.from_bytes(MEDIA_TYPE_IMAGE_INDEX, data), data, tag)


async def _paged_names(
    transport: Transport,
    path: str,
    key: str,
    scopes: tuple[str, ...],
    what: str,
    page_size: int | None,
    last: str | None,
) -> AsyncIterator[str]:
    """Names from a paginated list (``?n=&last=`` and ``Link: <...>; rel="next"``), same origin only."""
    params: dict[str, str] = {}
    if page_size is not None:
        params["n"] = str(page_size)
    if last is not None:
        params["last"] = last
    url = transport.url(path).copy_merge_params(params)
    seen: set[str] = set()
    for page in range(MAX_TAG_PAGES):
        seen.add(str(url))
        response = await transport.request("GET", url, scopes=scopes)
        if response.status_code == 404 and page == 0:
            return
        if response.status_code != 200:
            raise error_from_response(response, what, NotFoundError)
        try:
            names = sorted(str(name) for name in response.json().get(key) or [])
        except (ValueError, AttributeError, TypeError):
            raise IntegrityError(f"{what} is not a JSON object with {key!r}") from None
        # registries that ignore n/last (distribution 2.8) send everything unsorted in one page
        for name in names:
            if last is None or name > last:
                yield name
        link = _next_link(response.headers.get("Link", ""))
        if link is None:
            return
        url = url.join(link)
        if not same_origin(url, transport.base_url):
            raise IntegrityError(f"{what} links to another origin ({url.host}); refusing it")
        if str(url) in seen:
            raise IntegrityError(f"{what} links back to a page already read")
    raise IntegrityError(f"{what} has more than {MAX_TAG_PAGES} pages")


async def _read_small(content: Content, descriptor: Descriptor) -> bytes:
    if descriptor.size > MAX_MANIFEST_SIZE:
        raise ContentTooLarge(f"manifest {descriptor.digest}", MAX_MANIFEST_SIZE)
    parts = [chunk async for chunk in verified_stream(descriptor, iter_content(content), "manifest")]
    return b"".join(parts)


async def _rechunk(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """Regroup a stream into pieces of exactly ``size`` bytes (the last may be shorter)."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)
