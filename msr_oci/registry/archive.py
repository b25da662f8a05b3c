"""OCI-layout tarballs for air-gapped sites: written atomically; import extracts only what manifests reach."""

from __future__ import annotations

import lzma
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, cast

from msr_oci.errors import (
    ContentTooLarge,
    InputError,
    IntegrityError,
    SizeMismatch,
    UnsafePath,
    writing,
)
from msr_oci.oci.content import (
    MAX_MANIFEST_SIZE,
    MEDIA_TYPE_IMAGE_INDEX,
    Descriptor,
    ImageIndex,
    is_manifest_media_type,
    parse_manifest,
    successors,
)
from msr_oci.oci.digest import Digester, parse_digest
from msr_oci.oci.layout import BLOBS_DIR, INDEX_FILE, LAYOUT_FILE
from msr_oci.oci.target import CHUNK_SIZE
from msr_oci.oci.tempfiles import atomic_file

#: an archive holding more members than this is refused (a revision's layout holds a handful)
MAX_MEMBERS = 100_000
#: pax and GNU long-name headers are a few hundred bytes; tarfile would read a bigger one whole
MAX_HEADER_MEMBER = 1024 * 1024
_HEADER_TYPES = frozenset(
    {
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    }
)


def write_layout_tar(layout_dir: Path, tar_path: Path) -> None:
    """Tar the layout directory's contents (``oci-layout`` first), through a temp file and a rename."""
    with (
        atomic_file(tar_path) as fh,
        # the writer has what tarfile uses of a file (write, tell); its errors name tar_path
        tarfile.open(fileobj=cast("IO[bytes]", fh), mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        # lock and temp files are the writer's business, not content
        names = sorted(
            p for p in layout_dir.rglob("*") if not p.name.startswith(".") and not p.name.endswith(".lock")
        )
        names.sort(key=lambda p: p.name != "oci-layout")
        for path in names:
            info = tar.gettarinfo(str(path), arcname=path.relative_to(layout_dir).as_posix())
            # deterministic and anonymous: no owner names or times from this machine
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if info.isfile():
                with path.open("rb") as source:
                    tar.addfile(info, source)
            elif info.isdir():
                tar.addfile(info)


def _safe_member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if "\x00" in name or path.is_absolute() or ".." in path.parts or "\\" in name:
        raise UnsafePath(name, "archive members must be relative paths inside the archive")
    return path


class _OversizedHeader(tarfile.TarError):
    pass


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses header members (pax, GNU long names) over ``MAX_HEADER_MEMBER`` before tarfile reads them.

    tarfile reads such a member whole into memory while listing, so one declaring gigabytes would
    exhaust memory before any of our checks ran.
    """

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _HEADER_TYPES and self.size > MAX_HEADER_MEMBER:
            raise _OversizedHeader(
                f"a tar header member declares {self.size} bytes (the limit is {MAX_HEADER_MEMBER})"
            )
        member: tarfile.TarInfo = super()._proc_member(tarfile_)  # type: ignore[misc]
        return member


def _list_members(tar: tarfile.TarFile, tar_path: Path) -> dict[str, tarfile.TarInfo]:
    """Regular files by normalised name; unsafe names, links, devices and repeated names are refused."""
    files: dict[str, tarfile.TarInfo] = {}
    for count, member in enumerate(tar, start=1):
        if count > MAX_MEMBERS:
            raise InputError(f"{tar_path}: more than {MAX_MEMBERS} members")
        relative = _safe_member_path(member.name)
        if member.isdir() or relative == PurePosixPath("."):
            continue
        if not member.isfile():
            raise UnsafePath(member.name, "archives may hold only regular files and directories")
        name = relative.as_posix()
        if name in files:
            raise InputError(f"{tar_path}: the member {name} appears twice", hint="re-export the archive")
        files[name] = member
    return files


class _ArchiveReader:
    """Reads what an OCI-layout tarball's index.json reaches, each member bounded by its descriptor."""

    def __init__(self, tar: tarfile.TarFile, tar_path: Path) -> None:
        self.tar = tar
        self.tar_path = tar_path
        self.members = _list_members(tar, tar_path)

    def member(self, name: str, what: str) -> tarfile.TarInfo:
        member = self.members.get(name)
        if member is None:
            raise InputError(
                f"{self.tar_path}: the archive has no {name} ({what})",
                hint="it is not a complete OCI-layout archive; export it again",
            )
        return member

    def read_small(self, name: str, what: str) -> bytes:
        member = self.member(name, what)
        if member.size > MAX_MANIFEST_SIZE:
            raise ContentTooLarge(f"{self.tar_path}: {name} ({member.size} bytes)", MAX_MANIFEST_SIZE)
        return self._read(self._open(member), MAX_MANIFEST_SIZE + 1)

    def blob_member(self, descriptor: Descriptor, referrer: str) -> tarfile.TarInfo:
        algorithm, encoded = parse_digest(descriptor.digest)
        name = f"{BLOBS_DIR}/{algorithm}/{encoded}"
        member = self.member(name, f"referenced by {referrer}")
        if member.size != descriptor.size:
            raise SizeMismatch(
                descriptor.size, member.size, f"{self.tar_path}: {name} (referenced by {referrer})"
            )
        return member

    def copy(self, member: tarfile.TarInfo, descriptor: Descriptor, target: Path) -> None:
        """Copy exactly ``descriptor.size`` bytes, hashing them; nothing stays behind unless they verify."""
        digester = Digester.for_digest(descriptor.digest)
        source = self._open(member)
        with writing(target):  # reads raise InputError (``_read``), so an OSError here is a write
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with target.open("wb") as fh:
                    remaining = descriptor.size
                    while remaining > 0 and (chunk := self._read(source, min(CHUNK_SIZE, remaining))):
                        digester.update(chunk)
                        fh.write(chunk)
                        remaining -= len(chunk)
                digester.verify(descriptor.digest, descriptor.size, f"{self.tar_path}: {member.name}")
            except BaseException:
                target.unlink(missing_ok=True)
                raise

    def _read(self, source: IO[bytes], size: int) -> bytes:
        try:
            return source.read(size)
        except (OSError, EOFError, zlib.error, lzma.LZMAError, tarfile.TarError) as exc:
            raise InputError(f"{self.tar_path}: the archive is damaged or cut short ({exc})") from None

    def _open(self, member: tarfile.TarInfo) -> IO[bytes]:
        source = self.tar.extractfile(member)
        assert source is not None  # a regular file (checked when listed)
        return source


def extract_layout_tar(tar_path: Path, destination: Path) -> None:
    """Extract the OCI layout an archive holds: ``oci-layout``, ``index.json`` and only the blobs they reach.

    Every manifest index.json lists is read (at most 4 MiB, verified), then the blobs manifests point
    to, each exactly as large as its descriptor says and verified while copied. Other members are
    never written: an archive cannot fill the disk with content no manifest names, and a member whose
    size disagrees with its descriptor is refused before any byte of it is copied. Blobs are copied in
    archive order, so a compressed archive is decompressed a bounded number of times.
    """
    try:
        with tarfile.open(tar_path, "r:*", tarinfo=_BoundedTarInfo) as tar:
            _extract(_ArchiveReader(tar, tar_path), destination)
    except _OversizedHeader as exc:
        raise InputError(
            f"{tar_path}: {exc}", hint="this is not an archive msr export or skopeo writes"
        ) from None
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        # our own writes raise StorageError; an OSError here is the archive (gzip's BadGzipFile is one)
        raise InputError(f"{tar_path}: not a readable tar archive, or damaged or cut short ({exc})") from None


def _extract(reader: _ArchiveReader, destination: Path) -> None:
    tar_path = reader.tar_path
    wanted = {LAYOUT_FILE: "the OCI layout marker", INDEX_FILE: "the list of manifests"}
    in_order = sorted(wanted, key=lambda name: reader.member(name, wanted[name]).offset_data)
    small = {name: reader.read_small(name, wanted[name]) for name in in_order}
    try:
        index = parse_manifest(small[INDEX_FILE], MEDIA_TYPE_IMAGE_INDEX)
    except IntegrityError as exc:
        raise InputError(f"{tar_path}: {INDEX_FILE} is not an image index ({exc.message})") from None
    assert isinstance(index, ImageIndex)
    seen: set[str] = set()
    blobs: list[tuple[Descriptor, tarfile.TarInfo]] = []
    level = [(entry, INDEX_FILE) for entry in index.manifests]
    # one level of the graph at a time, each in archive order: a compressed archive is then read
    # forward once per level instead of rewound for every manifest
    while level:
        manifests: list[tuple[Descriptor, tarfile.TarInfo]] = []
        for descriptor, referrer in level:
            if descriptor.digest in seen:
                continue
            seen.add(descriptor.digest)
            member = reader.blob_member(descriptor, referrer)
            if not is_manifest_media_type(descriptor.media_type):
                blobs.append((descriptor, member))
            elif descriptor.size > MAX_MANIFEST_SIZE:
                raise ContentTooLarge(f"{tar_path}: manifest {descriptor.digest}", MAX_MANIFEST_SIZE)
            else:
                manifests.append((descriptor, member))
        level = []
        for descriptor, member in sorted(manifests, key=lambda pair: pair[1].offset_data):
            target = _blob_path(destination, descriptor.digest)
            reader.copy(member, descriptor, target)
            children = successors(parse_manifest(target.read_bytes(), descriptor.media_type))
            level += [(child, f"manifest {descriptor.digest}") for child in children]
    _check_free_space(destination, sum(d.size for d, _ in blobs), tar_path)
    for descriptor, member in sorted(blobs, key=lambda pair: pair[1].offset_data):
        reader.copy(member, descriptor, _blob_path(destination, descriptor.digest))
    for name, data in small.items():
        with writing(destination / name):
            (destination / name).write_bytes(data)


def _blob_path(root: Path, digest: str) -> Path:
    algorithm, encoded = parse_digest(digest)  # validated: nothing but [0-9a-f] reaches the path
    return root / BLOBS_DIR / algorithm / encoded


def _check_free_space(directory: Path, needed: int, tar_path: Path) -> None:
    free = shutil.disk_usage(directory).free
    if needed > free:
        raise InputError(
            f"{tar_path}: its revisions need {needed} bytes to stage in {directory.parent}, "
            f"which has {free} free",
            hint="free space there or point TMPDIR at a larger file system",
        )
