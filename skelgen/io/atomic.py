"""Write outputs under a temporary name and rename on success, so no half-written file ever
appears under the final name (an interrupted or failed run leaves nothing behind)."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..errors import SkelgenError


def check_output(path: str | Path, overwrite: bool = False) -> Path:
    """Refuse an output path that exists (unless ``overwrite``) or whose folder is unusable."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise SkelgenError(f"{path} already exists; pass --overwrite to replace it or choose another --out")
    parent = path.parent
    if not parent.is_dir():
        raise SkelgenError(f"output folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise SkelgenError(f"output folder {parent} is not writable; choose another --out")
    return path


def check_folder(path: str | Path) -> Path:
    """Refuse an output folder that is a file or cannot be created or written; creates nothing,
    so a command can check before its work and create the folder only when it writes."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SkelgenError(f"{path} is a file; give a folder for --out")
    existing = next(p for p in (path, *path.parents) if p.exists())  # the folder mkdir would write in
    if not existing.is_dir():
        raise SkelgenError(f"cannot create folder {path}: {existing} is a file; choose another --out")
    if not os.access(existing, os.W_OK):
        raise SkelgenError(f"output folder {existing} is not writable; choose another --out")
    return path


def make_folder(path: str | Path) -> Path:
    """``check_folder``, then create it (and its parents)."""
    path = check_folder(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SkelgenError(f"cannot create folder {path} ({e.strerror}); choose another --out") from None
    return path


class AtomicPath:
    """A temporary file beside ``path``: ``commit()`` renames it into place, ``abort()`` deletes it.
    As a context manager it commits when the block succeeds and aborts otherwise."""

    def __init__(self, path: str | Path, overwrite: bool = False):
        self.path = check_output(path, overwrite)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)

    def commit(self) -> Path:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        self.commit() if exc_type is None else self.abort()
        return False
