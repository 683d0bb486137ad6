"""Index folders on disk: built in a temporary folder under a lock, checksummed, renamed into place.

Both the assistant's index and the baseline's are such folders. A folder is trusted only through
its ``manifest.json``, written last, which records what the folder was built from and a SHA-256 of
every other file in it; anything missing, damaged or built from something else reads as "rebuild".
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["staging", "write_manifest", "read_manifest"]

MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def staging(target: Path) -> Iterator[Path]:
    """A fresh temporary folder beside ``target``; on success it replaces ``target`` in one rename.

    One build at a time per target, across processes. The temporary folder is created before the
    caller starts its (long) work, so an unwritable location fails at once. On any error, or if
    the process dies, ``target`` is left as it was.

    Raises:
        OSError: the folder cannot be created, written or renamed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
        try:
            yield tmp
            _swap_into_place(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            fcntl.flock(lock, fcntl.LOCK_UN)


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
