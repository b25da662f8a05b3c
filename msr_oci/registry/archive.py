"""OCI-layout tarballs for air-gapped sites: written atomically, extracted without leaving the destination."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from msr_oci.oci.errors import InputError, UnsafePath

#: an archive holding more members than this is refused (a revision's layout holds a handful)
MAX_MEMBERS = 100_000


def write_layout_tar(layout_dir: Path, tar_path: Path) -> None:
    """Tar the layout directory's contents (``oci-layout`` first), through a temp file and a rename."""
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{tar_path.name}.", suffix=".part", dir=tar_path.parent)
    os.close(fd)
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            # lock and temp files are the writer's business, not content
            names = sorted(
                p
                for p in layout_dir.rglob("*")
                if not p.name.startswith(".") and not p.name.endswith(".lock")
            )
            names.sort(key=lambda p: p.name != "oci-layout")
            for path in names:
                info = tar.gettarinfo(str(path), arcname=path.relative_to(layout_dir).as_posix())
                # deterministic and anonymous: no owner names or times from this machine
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                if info.isfile():
                    with path.open("rb") as fh:
                        tar.addfile(info, fh)
                elif info.isdir():
                    tar.addfile(info)
        os.replace(tmp, tar_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _safe_member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if "\x00" in name or path.is_absolute() or ".." in path.parts or "\\" in name:
        raise UnsafePath(name, "archive members must be relative paths inside the archive")
    return path


def extract_layout_tar(tar_path: Path, destination: Path) -> None:
    """Extract regular files and directories only; links, devices and climbing names are refused."""
    try:
        tar = tarfile.open(tar_path, "r:*")  # noqa: SIM115 (opened here to map its error; closed below)
    except (OSError, tarfile.TarError) as exc:
        raise InputError(f"{tar_path}: not a readable tar archive ({exc})") from None
    with tar:
        for count, member in enumerate(tar, start=1):
            if count > MAX_MEMBERS:
                raise InputError(f"{tar_path}: more than {MAX_MEMBERS} members")
            relative = _safe_member_path(member.name)
            if relative == PurePosixPath("."):
                continue
            target = destination.joinpath(*relative.parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with source, target.open("wb") as fh:
                    shutil.copyfileobj(source, fh, 1024 * 1024)
            else:
                raise UnsafePath(member.name, "archives may hold only regular files and directories")
