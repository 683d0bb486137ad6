"""Index folders on disk: built in a temporary folder under a lock, checksummed, renamed into place.

Both the assistant's index and the baseline's are such folders. A folder is trusted only through
its ``manifest.json``, written last, which records what the folder was built from and a SHA-256 of
every other file in it; anything missing, damaged or built from something else reads as "rebuild".

A path that can never hold an index (a file, a dangling link, a folder of other things) is refused
before any work, and what a killed build leaves beside the target is removed by the next build.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

from qa.errors import IndexUnavailable

__all__ = ["staging", "write_manifest", "read_manifest", "check_location"]

MANIFEST = "manifest.json"
_FIX = "设置 QA_INDEX_DIR 或使用 --index-dir 指定另一个目录"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_location(target: Path, own_names: Collection[str] | None = None) -> None:
    """Refuse at once a path that can never hold an index folder, or whose replacement would
    delete someone's files; a missing folder (to be built) or an index folder is fine.

    Args:
        target: Where the index folder is, or will be.
        own_names: The names an index folder holds. When given, a folder without a manifest that
            holds anything else is someone's folder, not a damaged index, and is refused.

    Raises:
        IndexUnavailable: ``target`` is a file, a link to nothing, under something that is not a
            folder, or someone's folder; the message names the fix.
    """
    try:
        _check_location(target, own_names)
    except OSError:
        pass  # cannot even be looked at: the load fails and the build says why, in one line


def _check_location(target: Path, own_names: Collection[str] | None) -> None:
    if target.is_symlink() and not target.exists():
        raise IndexUnavailable(
            f"索引路径 {target} 是指向不存在位置({os.readlink(target)})的符号链接;"
            f"请创建它指向的目录、删除这个链接,或{_FIX}。"
        )
    if target.exists() and not target.is_dir():
        raise IndexUnavailable(f"索引路径 {target} 是一个文件,不是目录;请移走这个文件,或{_FIX}。")
    for parent in target.absolute().parents:
        if parent.is_symlink() and not parent.exists():
            raise IndexUnavailable(f"索引路径 {target} 的上级 {parent} 是指向不存在位置的符号链接;请{_FIX}。")
        if parent.exists():
            if not parent.is_dir():
                raise IndexUnavailable(f"索引路径 {target} 的上级 {parent} 不是目录;请{_FIX}。")
            break
    if own_names is None or not target.is_dir() or (target / MANIFEST).exists():
        return
    # A rebuild replaces the whole folder: never one that holds something other than an index.
    foreign = sorted(p.name for p in target.iterdir() if p.name not in own_names)
    if foreign:
        raise IndexUnavailable(
            f"索引路径 {target} 是一个目录,里面有不属于索引的 {'、'.join(foreign[:3])},重建会删掉它们;"
            "请设置 QA_INDEX_DIR 或使用 --index-dir 指定一个新的或空的目录。"
        )


@contextlib.contextmanager
def staging(target: Path, own_names: Collection[str] | None = None) -> Iterator[Path]:
    """A fresh temporary folder beside ``target``; on success it replaces ``target`` in one rename.

    One build at a time per target, across processes. The temporary folder is created before the
    caller starts its (long) work, so an unwritable location fails at once. On any error, or if
    the process dies, ``target`` is left as it was; what a killed build leaves behind is removed
    by the next one. A link to a folder stays a link: the folder it points to is replaced.

    Raises:
        IndexUnavailable: ``target`` can never hold an index (see ``check_location``, which gets
            ``own_names``).
        OSError: the folder cannot be created, written or renamed.
    """
    check_location(target, own_names)
    if target.is_symlink():
        target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _remove_leftovers(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
        try:
            yield tmp
            _swap_into_place(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_leftovers(target: Path) -> None:
    """Remove the temporary and set-aside folders of builds that died.

    Only a builder holding the lock creates them and the caller holds it now, so whoever made
    them is gone.
    """
    for prefix in (f".{target.name}.building-", f".{target.name}.old-"):
        for path in target.parent.glob(f"{glob.escape(prefix)}*"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()


def _swap_into_place(tmp: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        os.rename(target, old)
    try:
        os.rename(tmp, target)
    except OSError:
        if old is not None:  # the previous folder goes back: a failed build must not cost the working one
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_manifest(folder: Path, manifest: Mapping[str, object]) -> dict[str, object]:
    """Checksum every file in ``folder`` and write the manifest last; returns it as written."""
    files = {
        p.relative_to(folder).as_posix(): _sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    written = {**manifest, "files": files}
    (folder / MANIFEST).write_text(json.dumps(written, ensure_ascii=False, indent=2), encoding="utf-8")
    return written


def read_manifest(folder: Path, expected: Mapping[str, object]) -> dict[str, object] | None:
    """The folder's manifest if it matches ``expected`` and every file still has its checksum."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or any(manifest.get(k) != v for k, v in expected.items()):
            return None
        files = manifest.get("files")
        if not isinstance(files, dict) or not files:
            return None
        if any(_sha256(folder / name) != digest for name, digest in files.items()):
            return None
    except (OSError, ValueError, TypeError):
        return None  # missing, truncated or not JSON: rebuild
    return manifest
