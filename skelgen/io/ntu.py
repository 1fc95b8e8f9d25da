"""NTU RGB+D 60/120 importer: the ``.skeleton`` text files named ``SsssCcccPpppRrrrAaaa.skeleton``.

A file is: the frame count; per frame a body count; per body a line of 10 fields (body id first),
a line ``25``, then 25 joint lines of 12 values of which we keep x y z (camera metres). Bodies are
tracked by id, the most active (summed per-joint variance over time) fills slot 0, bodies that
never share a frame with a slot are merged into it, at most two slots are kept (as in the
CTR-GCN/2s-AGCN preparation), and frames with no kept body are dropped.

Two parsers: a vectorized one for files as the Kinect SDK writes them (single spaces, one line
ending throughout), and a line-by-line reference that defines the format, reads anything else
and names the line at fault. They agree wherever the fast one answers (tests/test_fuzz.py).
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import signal
from pathlib import Path

import numpy as np

from ..errors import SkelgenError
from ..layouts import NTU25
from .dataset import DatasetWriter

ACTIONS = (  # A001..A060 are NTU RGB+D 60; NTU RGB+D 120 adds A061..A120
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup", "throw",
    "sitting down", "standing up (from sitting position)", "clapping", "reading", "writing", "tear up paper",
    "wear jacket", "take off jacket", "wear a shoe", "take off a shoe", "wear on glasses", "take off glasses",
    "put on a hat/cap", "take off a hat/cap", "cheer up", "hand waving", "kicking something",
    "reach into pocket", "hopping (one foot jumping)", "jump up", "make a phone call/answer phone",
    "playing with phone/tablet", "typing on a keyboard", "pointing to something with finger",
    "taking a selfie", "check time (from watch)", "rub two hands together", "nod head/bow", "shake head",
    "wipe face", "salute", "put the palms together", "cross hands in front (say stop)", "sneeze/cough",
    "staggering", "falling", "touch head (headache)", "touch chest (stomachache/heart pain)",
    "touch back (backache)", "touch neck (neckache)", "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm", "punching/slapping other person", "kicking other person",
    "pushing other person", "pat on back of other person", "point finger at the other person",
    "hugging other person", "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball", "tennis bat swing",
    "juggling table tennis balls", "hush (quite)", "flick hair", "thumb up", "thumb down", "make ok sign",
    "make victory sign", "staple book", "counting money", "cutting nails", "cutting paper (using scissors)",
    "snapping fingers", "open bottle", "sniff (smell)", "squat down", "toss a coin", "fold paper",
    "ball up paper", "play magic cube", "apply cream on face", "apply cream on hand back", "put on bag",
    "take off bag", "put something into a bag", "take something out of a bag", "open a box",
    "move heavy objects", "shake fist", "throw up cap/hat", "hands up (both hands)", "cross arms",
    "arm circles", "arm swings", "running on the spot", "butt kicks (kick backward)", "cross toe touch",
    "side kick", "yawn", "stretch oneself", "blow nose", "hit other person with something",
    "wield knife towards other person", "knock over other person (hit with body)",
    "grab other person's stuff", "shoot at other person with a gun", "step on foot", "high-five",
    "cheers and drink", "carry something with other person", "take a photo of other person",
    "follow other person", "whisper in other person's ear", "exchange things with other person",
    "support somebody with hand", "finger-guessing game (playing rock-paper-scissors)",
)
CODES = tuple(f"A{a:03d}" for a in range(1, 121))
XSUB_TRAIN_60 = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
XSUB_TRAIN_120 = XSUB_TRAIN_60 + (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80,
                                  81, 82, 83, 84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
_NAME = re.compile(r"^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})\.skeleton$")
_JOINTS, _BODY_LINES = 25, 27  # per body: header line, joint-count line, 25 joint lines
_MAX_BODIES = 64  # Kinect tracks 6; a larger count is a corrupt file, not a crowd


class NoBodyError(SkelgenError):
    """The file is well formed but holds no tracked body (the dataset lists such files)."""


def read_skeleton(path) -> np.ndarray:
    """The two kept bodies of one file: (M=2, T, 25, 3) float32, slot 1 zero for one person."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SkelgenError(f"cannot read {path}: {e.strerror or e}") from None
    parsed = _parse_fast(raw)
    ids, frames, xyz, lines = parsed if parsed is not None else _parse_reference(raw, path)
    with np.errstate(over="ignore"):
        xyz = xyz.astype(np.float32)  # a finite 1e300 becomes inf here, and is refused with NaN
    bad = ~np.isfinite(xyz).all(axis=2)
    if bad.any():
        occ, joint = np.argwhere(bad)[0]
        raise SkelgenError(f"{path}: line {lines[occ] + 3 + joint}: coordinates are NaN or infinite; "
                           f"the file is damaged, re-extract it from the dataset archive")
    return _two_actors(ids, frames, xyz, path)


def _fail(path, line, what):
    raise SkelgenError(f"{path}: line {line}: {what}; the file is not a valid NTU .skeleton file "
                       f"(truncated or edited?), re-extract it from the dataset archive")


def _whole(tok: bytes) -> int | None:
    """A count or body id: plain ASCII digits, short enough for ``int`` to be instant."""
    return int(tok) if len(tok) <= 24 and tok.isdigit() else None


def _xyz(fields: list[bytes]) -> list[float] | None:
    """x y z of a joint line, None unless it has 12 fields and the first three are numbers."""
    try:
        return [float(v) for v in fields[:3]] if len(fields) == 12 else None
    except ValueError:
        return None


def _parse_reference(raw: bytes, path):
    """Line-by-line parser: the definition of the format, and the one that names a bad line.
    Returns body ids, frame index per body, xyz (n, 25, 3) and each body's header line index."""
    lines = raw.split(b"\n")
    n = len(lines) - (lines[-1].strip() == b"")
    ids, frames, rows, heads = [], [], [], []

    def count(i, what):
        tok = lines[i].split() if i < n else []
        if len(tok) != 1 or _whole(tok[0]) is None:
            _fail(path, i + 1, f"expected {what} (one whole number), found {lines[i][:40]!r}"
                  if i < n else f"the file ends where {what} should be")
        return int(tok[0])

    num_frames, i = count(0, "the frame count"), 1
    for f in range(num_frames):
        bodies = count(i, f"the body count of frame {f + 1}")
        if bodies > _MAX_BODIES:
            _fail(path, i + 1, f"{bodies} bodies in one frame")
        i += 1
        for _ in range(bodies):
            head = lines[i].split() if i < n else []
            if len(head) != 10 or _whole(head[0]) is None:
                _fail(path, i + 1, "expected a body line of 10 fields starting with the body id")
            if count(i + 1, "the joint count") != _JOINTS:
                _fail(path, i + 2, f"expected {_JOINTS} joints")
            for j in range(i + 2, i + 2 + _JOINTS):
                xyz = _xyz(lines[j].split()) if j < n else None
                if xyz is None:
                    _fail(path, j + 1, f"expected a joint line of 12 numbers, found {lines[j][:60]!r}"
                          if j < n else "the file ends inside a body")
                rows.append(xyz)
            ids.append(int(head[0]))
            frames.append(f)
            heads.append(i)
            i += _BODY_LINES
    if any(line.strip() for line in lines[i:]):
        _fail(path, i + 1, f"unexpected content after the {num_frames} frames the file announces")
    return ids, frames, np.array(rows, np.float64).reshape(-1, _JOINTS, 3), heads


def _parse_fast(raw: bytes):
    """Vectorized parser for canonical files (single spaces, no tabs); None where anything is
    unusual, so the reference parser decides. Same result as ``_parse_reference`` otherwise."""
    if not raw or raw[-1] != 10:
        return None
    b = np.frombuffer(raw, np.uint8)
    blank = np.flatnonzero(b <= 32)  # one pass finds newlines, spaces, carriage returns and the rest
    kind = b[blank]
    ends, sp, cr = blank[kind == 10], blank[kind == 32], blank[kind == 13]
    if len(ends) + len(sp) + len(cr) != len(blank):
        return None  # tabs, NULs or other control bytes
    if len(cr):  # CRLF files: every line, and nowhere else
        if len(cr) != len(ends) or (cr + 1 != ends).any():
            return None
        ends = cr
    starts = np.concatenate(([0], (ends + 1 + (len(cr) > 0))[:-1]))
    S, E, n = starts.tolist(), ends.tolist(), len(ends)
    ids, frames, heads = [], [], []
    num_frames, i = _whole(raw[S[0]:E[0]]), 1
    for f in range(num_frames or 0):  # the walk: one step per frame and body, in Python
        bodies = _whole(raw[S[i]:E[i]]) if i < n else None
        if bodies is None or bodies > _MAX_BODIES or i + 1 + _BODY_LINES * bodies > n:
            return None
        for k in range(i + 1, i + 1 + _BODY_LINES * bodies, _BODY_LINES):
            body = _whole(raw[S[k]:raw.find(b" ", S[k], E[k])])
            if body is None:
                return None
            ids.append(body)
            frames.append(f)
            heads.append(k)
        i += 1 + _BODY_LINES * bodies
    if num_frames is None or i != n:  # trailing lines, even blank ones, go the careful way
        return None
    if not heads:
        return ids, frames, np.zeros((0, _JOINTS, 3)), heads
    h = np.asarray(heads)
    jc, joint = h + 1, (h[:, None] + 2 + np.arange(_JOINTS)).ravel()
    s, e = starts[joint], ends[joint]
    lo, hi = np.concatenate([s, starts[h]]), np.concatenate([e, ends[h]])
    fields = np.searchsorted(sp, hi) - np.searchsorted(sp, lo)  # spaces per joint and body line
    if (np.diff(sp).min(initial=2) == 1 or (fields != np.repeat([11, 9], [len(s), len(h)])).any()
            or (b[s] == 32).any() or (b[e - 1] == 32).any() or (b[ends[h] - 1] == 32).any()
            or (ends[jc] - starts[jc] != 2).any() or (b[starts[jc]] != 50).any()
            or (b[np.minimum(starts[jc] + 1, len(b) - 1)] != 53).any()):
        return None  # not exactly single-space separated 12 (joint) and 10 (body) fields, or not "25"
    k = np.searchsorted(sp, s)  # x y z: line start to the third space
    xyz = _decimals(b, np.stack([s, sp[k] + 1, sp[k + 1] + 1], 1).ravel(),
                    np.stack([sp[k], sp[k + 1], sp[k + 2]], 1).ravel(), raw)
    return None if xyz is None else (ids, frames, xyz.reshape(-1, _JOINTS, 3), heads)


_P10 = 10.0 ** np.arange(23)
_CHAR = np.zeros((256, 2), np.float32)  # per byte: (digit value, kind: digit 0, '.' 1, '-' 32, other 1024)
_CHAR[:, 1], _CHAR[48:58, 0], _CHAR[48:58, 1], _CHAR[46, 1], _CHAR[45, 1] = 1024, np.arange(10), 0, 1, 32
_CHAR_PAIR = _CHAR.view(np.float64).ravel()  # one 8-byte gather fetches both


def _weights(width: int) -> np.ndarray:
    """(2 * width, 4): right-aligned columns to (digits above 10**7, digits below, kind count,
    kind by place); every partial sum stays an integer below 2**24, so float32 is exact."""
    w = np.zeros((width, 2, 4), np.float32)
    place = width - 1 - np.arange(width)
    low = place < 7
    w[low, 0, 1], w[~low, 0, 0] = 10.0 ** place[low], 10.0 ** (place[~low] - 7)
    w[:, 1, 2], w[:, 1, 3] = 1, place
    return w.reshape(2 * width, 4)


def _decimals(b, start, end, raw) -> np.ndarray | None:
    """float() of the tokens ``raw[start:end]``: plain decimals (``-12.345``) vectorized and exact
    (an integer below 2**53 divided by an exact power of ten); others through ``float``."""
    length = end - start
    width = int(min(length.max(), 14, end.min()))
    col = np.arange(width)
    c = np.lib.stride_tricks.sliding_window_view(b, width)[end - width]  # right-aligned; then
    c[col < width - length[:, None]] = 48  # left-padded with '0', which adds nothing
    pairs, w = _CHAR_PAIR[c].view(np.float32), _weights(width)
    # in blocks: one big float32 matmul makes OpenBLAS start threads, which costs more than it gains
    sums = np.concatenate([pairs[i: i + 1024] @ w for i in range(0, len(pairs), 1024)])
    whole = sums[:, 0].astype(np.float64) * 1e7 + sums[:, 1]  # the dot counts as a 0 digit here
    count, place = sums[:, 2].astype(np.int64), sums[:, 3].astype(np.int64)
    other, minus, dots = count >> 10, count >> 5 & 31, count & 31
    neg = b[start] == 45
    ndig = length - dots - neg
    plain = ((other == 0) & (dots <= 1) & (minus == neg) & (place >> 5 == (length - 1) * neg)
             & (length <= width) & (ndig >= 1) & (ndig <= 14))
    frac = (place & 31) * plain  # digits after the dot
    right = np.fmod(whole, _P10[frac])
    out = np.where(dots > 0, (whole - right) / 10 + right, whole) / _P10[frac]
    out[neg] = -out[neg]
    for t in np.flatnonzero(~plain):
        try:
            out[t] = float(raw[start[t]:end[t]])
        except ValueError:
            return None
    return out


def _two_actors(ids, frames, xyz, path) -> np.ndarray:
    """Group rows by body id and fill two actor slots, most active first: (2, T, 25, 3)."""
    if not ids:
        raise NoBodyError(f"{path}: no body in any frame; such files are skipped")
    bodies: dict[int, list[int]] = {}
    for r, body in enumerate(ids):
        bodies.setdefault(body, []).append(r)
    rows = list(bodies.values())  # in order of first appearance, which breaks ties
    motion = [xyz[r].reshape(len(r), -1).var(0, dtype=np.float64).sum() for r in rows]
    slots: list[list[int]] = [[], []]
    for b in sorted(range(len(rows)), key=lambda b: -motion[b]):
        span = {frames[r] for r in rows[b]}
        for slot in slots:  # join the first slot it never overlaps in time
            if not span & {frames[r] for r in slot}:
                slot.extend(rows[b])
                break
    present = np.unique([frames[r] for slot in slots for r in slot])
    where = np.searchsorted(present, frames)
    out = np.zeros((2, len(present), _JOINTS, 3), np.float32)
    for m, slot in enumerate(slots):
        out[m, where[slot]] = xyz[slot]
    return out


def _frame_count(path: Path) -> int:
    """The announced frame count (line 1), read without parsing the file: sizes the dataset."""
    try:
        with open(path, "rb") as f:
            tok, size = f.readline(64).strip(), path.stat().st_size
    except OSError as e:
        raise SkelgenError(f"cannot read {path}: {e.strerror or e}") from None
    if _whole(tok) is None or int(tok) > size // 2:  # every frame takes at least two bytes
        _fail(path, 1, f"expected the frame count (a whole number up to {size // 2}), "
                       f"found {tok[:40]!r}")
    return int(tok)


def _read_or_none(path: Path) -> np.ndarray | None:
    try:
        return read_skeleton(path)
    except NoBodyError:
        return None


def _quiet_worker():
    """A forked parser keeps the parent's stop handlers, which turn the pool's closing SIGTERM into
    a KeyboardInterrupt traceback; the parent alone answers Ctrl-C and ends the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def _readers(workers: int):
    """``read(paths)``: the skeletons in order (None where no body), from ``workers`` processes.
    The pool starts before the dataset file opens, so no worker inherits an open HDF5 file."""
    if workers <= 1:
        yield lambda paths: map(_read_or_none, paths)
        return
    with multiprocessing.Pool(workers, _quiet_worker) as pool:
        yield lambda paths: pool.imap(_read_or_none, paths, chunksize=8)


def convert_ntu(folder, out, benchmark: str = "ntu60", overwrite: bool = False, progress=None,
                workers: int | None = None) -> dict:
    """Write the ``.skeleton`` files of ``folder`` (searched recursively) to a dataset file with
    ``xsub_*`` and ``xview_*`` (ntu60) or ``xset_*`` (ntu120) train/test splits; returns counts.
    ntu60 keeps setups 1-17 and actions A001-A060 and counts other files as skipped. ``workers``
    processes parse (default: one per CPU up to 8, for 64 files or more; 1 parses in-process)."""
    if benchmark not in ("ntu60", "ntu120"):
        raise SkelgenError(f"unknown NTU benchmark {benchmark!r}; use ntu60 or ntu120")
    folder, classes = Path(folder), 60 if benchmark == "ntu60" else 120
    named = sorted(folder.rglob("*.skeleton")) if folder.is_dir() else []
    if not named:
        raise SkelgenError(f"{folder}: no NTU .skeleton files found; point at the nturgb+d_skeletons folder")
    parsed = [(p, [int(g) for g in m.groups()]) for p in named if (m := _NAME.match(p.name))]
    files = [(p, g) for p, g in parsed if 1 <= g[4] <= classes and (classes == 120 or g[0] <= 17)]
    if not files:
        raise SkelgenError(f"{folder}: no file is named like S001C001P001R001A001.skeleton for {benchmark}")
    max_frames = max(max(_frame_count(p) for p, _ in files), 1)
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if len(files) >= 64 else 1
    kept, empty, batch = [], 0, []
    with _readers(workers) as read, DatasetWriter(
            out, NTU25, CODES[:classes], ACTIONS[:classes], max_frames=max_frames, max_persons=2,
            frame="raw", units="m", overwrite=overwrite) as w:
        def flush():
            frames = max((sk.shape[1] for *_, sk in batch), default=1)  # the writer pads the rest
            x = np.zeros((len(batch), 2, frames, _JOINTS, 3), np.float32)
            for k, (_, _, sk) in enumerate(batch):
                x[k, :, : sk.shape[1]] = sk
            w.append(x, [sk.shape[1] for *_, sk in batch], [g[4] - 1 for _, g, _ in batch],
                     [p.stem for p, *_ in batch],
                     provenance=[{"source": "ntu-rgb+d", "file": p.name} for p, *_ in batch])
            kept.extend(g for _, g, _ in batch)
            batch.clear()

        skeletons = read([p for p, _ in files])
        for (p, g), sk in zip(progress(files) if progress else files, skeletons):
            if sk is None:
                empty += 1
            else:
                batch.append((p, g, sk))
            if len(batch) == 256:
                flush()
        flush()
        if not kept:
            raise SkelgenError(f"{folder}: none of the {len(files)} files holds a body")
        setup, camera, performer = np.array(kept).T[:3]
        train = {"xsub": np.isin(performer, XSUB_TRAIN_60 if classes == 60 else XSUB_TRAIN_120)}
        train.update({"xview": camera != 1} if classes == 60 else {"xset": setup % 2 == 0})
        counts = {}
        for name, is_train in train.items():
            for part, mask in (("train", is_train), ("test", ~is_train)):
                w.set_split(f"{name}_{part}", np.flatnonzero(mask))
                counts[f"{name}_{part}"] = int(mask.sum())
    return {"samples": len(kept), "skipped_no_body": empty,
            "skipped_other_benchmark": len(parsed) - len(files),
            "skipped_unnamed": len(named) - len(parsed), **counts}
