"""Every output goes through here: written under a temporary name and renamed on success, so no
half-written file ever appears under the final name; never onto a file the command reads; refused
before the work when the disk cannot hold it; and a full disk is one clear line, not a crash.

Inputs: the files a command reads (data, checkpoint, recipe) are recorded with ``note_input`` while
an ``inputs_guarded()`` block runs (the CLI runs every command in one); an output that resolves,
through symlinks, relative paths or hard links, to one of them is refused, first when it is
checked and again just before the rename, which no code path can skip.

Temporary files are named ``.NAME.PID.XXXX.partial``: a run killed with SIGKILL cannot remove its
own, so the next run that writes NAME removes those whose process is gone.
"""
from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..errors import SkelgenError

MB = 1 << 20
_inputs: contextvars.ContextVar[dict | None] = contextvars.ContextVar("skelgen_inputs", default=None)


# -- inputs ------------------------------------------------------------------------------------
@contextlib.contextmanager
def inputs_guarded():
    """Record the inputs read inside the block (an inner block shares its outer block's record)."""
    if _inputs.get() is not None:
        yield
        return
    token = _inputs.set({})
    try:
        yield
    finally:
        _inputs.reset(token)


def guarded(fn):
    """Run ``fn`` inside ``inputs_guarded()``: for library functions that read and write files."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with inputs_guarded():
            return fn(*args, **kwargs)
    return wrapper


def _identity(path: Path):
    with contextlib.suppress(OSError):
        st = path.stat()
        return st.st_dev, st.st_ino
    return None


def note_input(path: str | Path) -> Path:
    """Record ``path`` as read by the running command, so that no output may replace it."""
    inputs = _inputs.get()
    if inputs is not None and path is not None:
        inputs[Path(path).resolve()] = _identity(Path(path))
    return Path(path)


def _check_not_input(path: Path):
    real, ident = path.resolve(), _identity(path)
    for source, source_ident in (_inputs.get() or {}).items():
        if real == source or (ident is not None and ident == source_ident):
            same = "" if Path(path).absolute() == source else f" ({source})"
            raise SkelgenError(f"{path} is an input of this command{same}; writing there would destroy it, "
                               f"choose another --out")


# -- checks before the work ----------------------------------------------------------------------
def check_output(path: str | Path, overwrite: bool = False, not_input: bool = True) -> Path:
    """Refuse an output path that is an input (with ``not_input``), a folder, exists (unless
    ``overwrite``), or whose folder is unusable."""
    path = Path(path)
    if not_input:
        _check_not_input(path)
    if path.is_dir():
        raise SkelgenError(f"{path} is a folder; give a file name for --out")
    if path.exists() and not overwrite:
        raise SkelgenError(f"{path} already exists; pass --overwrite to replace it or choose another --out")
    parent = path.parent
    if not parent.is_dir():
        raise SkelgenError(f"output folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK) or _virtual(parent):
        raise SkelgenError(f"output folder {parent} is not writable; choose another --out")
    return path


def _virtual(folder: Path) -> bool:
    """/proc and /sys take no files, whatever their permission bits say (root passes os.access)."""
    parts = folder.resolve().parts
    return len(parts) > 1 and parts[1] in ("proc", "sys")


def check_folder(path: str | Path) -> Path:
    """Refuse an output folder that is a file or cannot be created or written; creates nothing,
    so a command can check before its work and create the folder only when it writes."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SkelgenError(f"{path} is a file; give a folder for --out")
    existing = next(p for p in (path, *path.parents) if p.exists())  # the folder mkdir would write in
    if not existing.is_dir():
        raise SkelgenError(f"cannot create folder {path}: {existing} is a file; choose another --out")
    if not os.access(existing, os.W_OK) or _virtual(existing):
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


def _device(folder: Path) -> Path:
    """The mount point holding ``folder``: what a user frees space on."""
    folder = folder.resolve()
    while not os.path.ismount(folder) and folder != folder.parent:
        folder = folder.parent
    return folder


def no_space(folder: str | Path, needed: int) -> SkelgenError:
    return SkelgenError(f"no space left on {_device(Path(folder))}: needed about {max(1, -(-needed // MB))} MB; "
                        f"free some space or choose another --out")


def check_space(path: str | Path, needed: int):
    """Refuse, before the work, an output of about ``needed`` bytes that the disk cannot hold
    (this also refuses absurd requests, such as 10**12 sequences)."""
    folder = Path(path).parent
    with contextlib.suppress(OSError):
        if needed > shutil.disk_usage(folder).free:
            free = shutil.disk_usage(folder).free
            raise SkelgenError(f"no space left on {_device(folder)}: needed about {-(-needed // MB)} MB, "
                               f"{free / MB:.1f} MB free; free some space, ask for less, or choose another --out")


_filled = False  # a write failed on a full disk where no exception could carry it (a destructor)


def note_disk_full():
    global _filled
    _filled = True


def disk_filled() -> bool:
    """Whether a write failed on a full disk inside a destructor since this process started."""
    return _filled


def disk_full(exc: BaseException, folder: str | Path) -> bool:
    """Whether ``exc`` came from a full disk. HDF5 and torch report ENOSPC in their own words, so
    a write error on a folder with (almost) no free space counts too."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if not isinstance(exc, (OSError, RuntimeError)):
        return False
    text = str(exc)
    if "No space left" in text or "errno = 28" in text:
        return True
    with contextlib.suppress(OSError):
        return shutil.disk_usage(folder).free < MB
    return False


# -- stale temporary files -----------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process
    return True


def remove_stale(path: Path):
    """Remove the temporary files that killed runs left for ``path``; report those of unknown owner."""
    removed, unknown = 0, []
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.partial*"):
        pid = tmp.name[len(path.name) + 2:].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                removed += tmp.stat().st_size
                tmp.unlink()
        elif not pid.isdigit():
            unknown.append(tmp.name)
    if removed:
        print(f"skelgen: removed a killed run's temporary files for {path} ({removed / MB:.0f} MB)", file=sys.stderr)
    if unknown:
        print(f"skelgen: {path.parent} holds temporary files of an older or other run ({', '.join(unknown)}); "
              f"delete them if no skelgen is writing there", file=sys.stderr)


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


# -- the atomic write ----------------------------------------------------------------------------
class AtomicPath:
    """A temporary file beside ``path``: ``commit()`` renames it into place, ``abort()`` deletes it.
    As a context manager it commits when the block succeeds and aborts otherwise.

    ``expected``: about how many bytes will be written; refused before the work if the disk
    lacks them, and named in the error if the disk fills anyway. ``updates_input``: the file is
    read and replaced on purpose (a resumed run's checkpoint), so it may be an input. ``suffix``
    ends the temporary name, for writers that choose the format by the file's extension."""

    def __init__(self, path: str | Path, overwrite: bool = False, expected: int = 0, updates_input: bool = False,
                 suffix: str = ""):
        self.updates_input = updates_input
        self.path = check_output(path, overwrite, not updates_input)
        self.expected = int(expected)
        remove_stale(self.path)
        check_space(self.path, self.expected)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.{os.getpid()}.", suffix=".partial" + suffix,
                                       dir=self.path.parent)
        except OSError as e:
            raise SkelgenError(f"cannot write in {self.path.parent} ({e.strerror}); choose another --out") from None
        os.close(fd)
        self.tmp = Path(tmp)

    def commit(self) -> Path:
        try:
            if not self.updates_input:
                _check_not_input(self.path)  # the last word: whatever path led here, never onto an input
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)

    def fail(self, exc: BaseException | None = None):
        """``abort()``; where ``exc`` came from a full disk, raise the one-line error in its place."""
        written = self.tmp.stat().st_size if self.tmp.exists() else 0
        self.abort()
        if exc is not None and disk_full(exc, self.path.parent):
            raise no_space(self.path.parent, max(self.expected, written)) from None

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.fail(exc)
        return False
