"""The built-in demo dataset: procedural skeletons for eight NTU RGB+D actions.

This data is *procedural*: a kinematic stick figure whose joint angles follow a hand-written motion
program per class, posed by forward kinematics on the NTU25 tree. It is not recorded motion and
says nothing about how well a method works on real skeletons. It exists so that every command,
the tutorials and the tests run in seconds with no download.

Each sample varies body proportions (+-10 %), duration (``frames/2 .. frames``), timing, speed,
amplitude, handedness for some actions, resting posture, stray arm gestures, a slow turn and a step,
viewpoint (+-45 degrees about the vertical, 2.5-3.5 m from the sensor, a slightly tilted camera
about 1 m above the floor), sensor jitter (about 1 cm) and rare hand-tracking slips. Coordinates
are Kinect camera space in metres (y up, z away from the sensor, right-handed), one person, zero
beyond each sample's length. The same seed gives identical arrays.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import SkelgenError
from .io.atomic import check_output, check_space
from .io.dataset import DatasetWriter, sample_bytes
from .layouts import NTU25

DEMO_CLASSES = (("A008", "sitting down"), ("A009", "standing up"), ("A010", "clapping"),
                ("A023", "hand waving"), ("A024", "kicking something"), ("A027", "jump up"),
                ("A038", "salute"), ("A043", "falling"))

_J = {name: i for i, name in enumerate(NTU25.joints)}
L, R = 1, -1  # side signs: +x is the body's left in the body frame (x left, y up, z forward)

# Offsets from the parent joint of a 1.75 m person in the body frame, metres (left side; the
# right side mirrors x).
_REST = {"spine_mid": (0, .27, 0), "spine_shoulder": (0, .22, 0), "neck": (0, .07, 0),
         "head": (0, .15, .02), "shoulder": (.17, -.03, 0), "elbow": (0, -.28, 0),
         "wrist": (0, -.25, 0), "hand": (0, -.07, 0), "hand_tip": (0, -.07, 0),
         "thumb": (0, -.05, .04), "hip": (.08, -.06, 0), "knee": (0, -.42, 0),
         "ankle": (0, -.40, 0), "foot": (0, -.05, .11)}


def _offset(joint: str):
    part, _, side = joint.rpartition("_")
    if side in ("left", "right"):
        return np.multiply(_REST[part], (L if side == "left" else R, 1, 1))
    return _REST.get(joint, (0, 0, 0))  # the root's is zero


_OFFSETS = np.array([_offset(j) for j in NTU25.joints])  # (V, 3)
# Segment group of each bone (0 trunk, 1 arm, 2 leg): its length varies with the group.
_SEGMENT = np.array([1 if n.split("_")[0] in ("elbow", "wrist", "hand", "thumb") else
                     2 if n.split("_")[0] in ("knee", "ankle", "foot") else 0 for n in NTU25.joints])
_HANDS = np.array([[_J[f"{j}_{side}"] for j in ("wrist", "hand", "hand_tip", "thumb")]
                   for side in ("left", "right")])


def _depth(j):
    return 0 if NTU25.parents[j] < 0 else 1 + _depth(NTU25.parents[j])


_ORDER = sorted(range(NTU25.num_joints), key=_depth)  # parents before children


def _euler(a: np.ndarray) -> np.ndarray:
    """Rotation matrices Ry(a1) @ Rz(a2) @ Rx(a0) for angles (..., 3) in radians -> (..., 3, 3)."""
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a[..., 0]), np.zeros_like(a[..., 0])
    rx = np.stack([one, zero, zero, zero, c[..., 0], -s[..., 0], zero, s[..., 0], c[..., 0]], -1)
    ry = np.stack([c[..., 1], zero, s[..., 1], zero, one, zero, -s[..., 1], zero, c[..., 1]], -1)
    rz = np.stack([c[..., 2], -s[..., 2], zero, s[..., 2], c[..., 2], zero, zero, zero, one], -1)
    shape = a.shape[:-1] + (3, 3)
    return ry.reshape(shape) @ rz.reshape(shape) @ rx.reshape(shape)


def _forward_kinematics(bones: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Joint positions (n, T, V, 3) from bone offsets (n, V, 3) and local angles (n, T, V, 3).

    A joint's rotation turns the bones to its children; the root's turns the whole body.
    """
    local = _euler(angles)
    world = np.empty_like(local)
    pos = np.zeros(angles.shape)
    for j in _ORDER:
        p = NTU25.parents[j]
        if p < 0:
            world[:, :, j] = local[:, :, j]
            continue
        pos[:, :, j] = pos[:, :, p] + (world[:, :, p] @ bones[:, None, j, :, None])[..., 0]
        world[:, :, j] = world[:, :, p] @ local[:, :, j]
    return pos


class _Pose:
    """Joint angles (n, T, V, 3), set in body terms and degrees: flex swings a limb forward, abd
    out to the side, turn outward about the vertical, knee bends the shin back, lean tips the
    trunk forward, nod the head. Values are scalars, (n, 1) per sample or (n, T) per frame;
    calls add up."""

    def __init__(self, n, t):
        self.a = np.zeros((n, t, NTU25.num_joints, 3))
        self.busy = {L: 0.0, R: 0.0}  # per arm, 0..1: how much the action overrides its rest pose

    def _add(self, joint, x=0.0, y=0.0, z=0.0):
        for k, v in enumerate((x, y, z)):
            self.a[:, :, _J[joint], k] += np.radians(v)

    def arm(self, s, flex=0.0, abd=0.0, turn=0.0, elbow=0.0, elbow_abd=0.0, wrist=0.0):
        side = "left" if s == L else "right"
        self._add(f"shoulder_{side}", x=-flex, y=s * turn, z=s * abd)
        self._add(f"elbow_{side}", x=-elbow, z=s * elbow_abd)
        self._add(f"wrist_{side}", x=-wrist)

    def leg(self, s, flex=0.0, abd=0.0, knee=0.0, flat=1.0):
        side = "left" if s == L else "right"
        self._add(f"hip_{side}", x=-flex, z=s * abd)
        self._add(f"knee_{side}", x=knee)
        # flat=1 keeps the foot level with the floor, as a planted foot is
        self._add(f"ankle_{side}", x=flat * (np.asarray(flex) - knee))

    def trunk(self, lean=0.0, nod=0.0):
        for joint in ("spine_mid", "spine_shoulder"):  # the lean splits over the upper spine
            self._add(joint, x=np.asarray(lean) / 2)
        self._add("neck", x=nod)

    def body(self, pitch=0.0, roll=0.0, turn=0.0):
        self._add("spine_base", x=pitch, y=turn, z=roll)


def _ramp(u, a, b):
    """0 before a, 1 after b, smooth in between."""
    v = np.clip((u - a) / (b - a), 0, 1)
    return v * v * (3 - 2 * v)


def _bump(u, a, b):
    """0 outside [a, b], rising smoothly to 1 at its middle."""
    return np.sin(np.pi * np.clip((u - a) / (b - a), 0, 1)) ** 2


def _side(r, n, p_right):
    return np.where(r.random((n, 1)) < p_right, R, L)


# -- motion programs: action progress u (n, T) in 0..1 -> angles in the pose. They return the
# planted joints (n or 1, k) and an extra height of the whole body (n, T) or None.
_FEET = np.array([[_J["ankle_left"], _J["ankle_right"]]])


def _sit_down(p: _Pose, u, r):
    n = len(u)
    down = _ramp(u, .1, .9)
    hip, knee = r.uniform(65, 95, (n, 1)), r.uniform(65, 100, (n, 1))  # seat heights
    for s in (L, R):
        p.leg(s, flex=hip * down, knee=knee * down)
        p.arm(s, flex=25 * down + 20 * _bump(u, .1, .8), elbow=40 * down)  # hands to the lap
    p.trunk(lean=r.uniform(25, 45, (n, 1)) * _bump(u, .1, .8) + 10 * down)
    return _FEET, None


def _stand_up(p, u, r):
    return _sit_down(p, 1 - u, r)


def _clapping(p, u, r):
    n = len(u)
    up = _ramp(u, 0, .2) * (1 - _ramp(u, .8, 1))
    claps = r.integers(3, 7, (n, 1))
    gap = .5 + .5 * np.cos(2 * np.pi * claps * np.clip((u - .2) / .6, 0, 1))  # 0 when hands meet
    flex = r.uniform(35, 75, (n, 1))
    for s in (L, R):
        p.busy[s] = up
        p.arm(s, flex=flex * up, turn=up * (-9 + r.uniform(15, 30, (n, 1)) * gap),  # -9: palms meet
              elbow=up * 60, elbow_abd=up * -25)
    return _FEET, None


def _waving(p, u, r):
    n = len(u)
    s = _side(r, n, .8)
    up = _ramp(u, 0, .2) * (1 - _ramp(u, .8, 1))
    waves = r.uniform(2, 5, (n, 1))
    swing = r.uniform(15, 30, (n, 1)) * np.sin(2 * np.pi * waves * np.clip((u - .2) / .6, 0, 1))
    for side in (L, R):
        on = p.busy[side] = (s == side) * up  # only the waving arm moves
        p.arm(side, abd=on * r.uniform(60, 110, (n, 1)), flex=on * 20, elbow_abd=on * (75 + swing))
    return _FEET, None


def _kicking(p, u, r):
    n = len(u)
    s = _side(r, n, .75)
    wind, kick = _bump(u, .15, .45), _bump(u, .35, .75)
    amp = r.uniform(.5, 1.15, (n, 1))
    for side in (L, R):
        on = (s == side) * 1.0
        p.leg(side, flex=on * amp * (80 * kick - 25 * wind), knee=on * 80 * wind + (1 - on) * 10 * kick,
              flat=1 - on)
        p.arm(side, flex=(1 - on) * 25 * kick, abd=20 * kick)  # arms balance the swing
    p.trunk(lean=-15 * kick)
    return np.where(s == L, _J["ankle_right"], _J["ankle_left"]), None  # the standing foot


def _jump(p, u, r):
    n = len(u)
    crouch = _bump(u, .05, .42) + .8 * _bump(u, .58, .92)
    flight = np.clip((u - .38) / .22, 0, 1)
    height = r.uniform(.05, .4, (n, 1)) * 4 * flight * (1 - flight)
    depth = r.uniform(.4, 1.1, (n, 1))
    for s in (L, R):
        p.leg(s, flex=55 * depth * crouch, knee=85 * depth * crouch)
        p.arm(s, flex=-40 * _bump(u, .05, .4) + 150 * _bump(u, .3, .6), abd=10)
    p.trunk(lean=30 * depth * crouch)
    return _FEET, height


def _salute(p, u, r):
    n = len(u)
    up = _ramp(u, .15, .35) * (1 - _ramp(u, .7, .9))
    p.busy[R] = up
    # fingertips at the right brow, elbow out to the side (angles fitted to the rest skeleton)
    p.arm(R, abd=up * r.uniform(58, 66, (n, 1)), flex=up * 60, elbow=up * r.uniform(138, 146, (n, 1)),
          elbow_abd=up * -23)
    return _FEET, None


def _falling(p, u, r):
    n = len(u)
    back = r.random((n, 1)) < .35  # a third fall backwards, onto the seat, then the back
    buckle, fall = _ramp(u, .2, .5), _ramp(u, .3, .8)
    for s in (L, R):
        p.busy[s] = reach = _ramp(u, .35, .65)  # arms reach out to break the fall
        p.leg(s, flex=40 * buckle * np.where(back, 1.5, 1 - fall), flat=0,
              knee=60 * buckle * np.where(back, 1, 1 - .7 * fall))
        p.arm(s, flex=np.where(back, 40, 90) * reach, abd=15 * fall, elbow=30 * reach)
    p.trunk(nod=np.where(back, 30, -25) * fall)  # the head is held up, off the floor
    p.body(pitch=np.where(back, -1, 1) * r.uniform(60, 90, (n, 1)) * fall,
           roll=r.uniform(-15, 15, (n, 1)) * fall)
    return _FEET, None


_PROGRAMS = (_sit_down, _stand_up, _clapping, _waving, _kicking, _jump, _salute, _falling)


def _make_class(k: int, n: int, frames: int, seed: int):
    """n samples of class k: (n, T, V, 3) camera coordinates and (n,) lengths."""
    r = np.random.default_rng([seed, k])  # one stream per class
    lengths = r.integers(frames // 2, frames + 1, n)
    t = np.arange(frames)[None, :]
    clip = np.minimum(t / lengths[:, None], 1)  # (n, T) time through the clip, 0..1
    start = r.uniform(0, .3, (n, 1)) * lengths[:, None]  # the action fills 40-100 % of the clip
    end = lengths[:, None] - r.uniform(0, .3, (n, 1)) * lengths[:, None]
    u = np.clip((t - start) / (end - start), 0, 1) ** r.uniform(.7, 1.4, (n, 1))  # uneven speed

    pose = _Pose(n, frames)
    rest = {s: dict(abd=r.uniform(3, 25, (n, 1)), flex=r.uniform(-10, 20, (n, 1)),
                    elbow=r.uniform(5, 60, (n, 1)), wrist=r.uniform(-10, 20, (n, 1))) for s in (L, R)}
    for s in (L, R):  # this person's stance and a little breathing sway
        pose.leg(s, abd=r.uniform(0, 6, (n, 1)))
    sway = np.sin(2 * np.pi * r.uniform(.01, .03, (n, 1)) * t + r.uniform(0, 2 * np.pi, (n, 1)))
    pose.trunk(lean=r.uniform(-5, 8, (n, 1)) + 2 * sway, nod=r.uniform(-10, 10, (n, 1)))
    pose.body(turn=r.uniform(-25, 25, (n, 1)) * clip)  # people drift round as they act
    anchor, lift = _PROGRAMS[k](pose, u, r)
    for s in (L, R):  # resting arms, faded out while the action drives them, and now and then
        free = 1 - pose.busy[s]  # an unrelated gesture (scratch, adjust clothes) as in recordings
        pose.arm(s, **{key: free * v for key, v in rest[s].items()})
        mid, width = r.uniform(.1, .9, (n, 1)), r.uniform(.15, .4, (n, 1))
        g = free * _bump(clip, mid - width / 2, mid + width / 2) * (r.random((n, 1)) < .3)
        pose.arm(s, flex=g * r.uniform(20, 90, (n, 1)), abd=g * r.uniform(0, 40, (n, 1)),
                 elbow=g * r.uniform(20, 110, (n, 1)))

    # Proportions: overall height, each segment group's length, and the width of shoulders/hips.
    scale = r.uniform(.9, 1.1, (n, 1, 1)) * r.uniform(.95, 1.05, (n, 3, 1))[:, _SEGMENT]
    bones = _OFFSETS * scale * np.where(np.arange(3) == 0, r.uniform(.9, 1.1, (n, 1, 1)), 1)
    x = _forward_kinematics(bones, pose.a)

    # Plant the feet: anchor joints keep their place on the floor, nothing goes below it.
    anchor = np.broadcast_to(anchor, (n, anchor.shape[1]))
    ground = np.take_along_axis(x, anchor[:, None, :, None], 2).mean(2, keepdims=True)  # (n, T, 1, 3)
    x[..., [0, 2]] -= ground[..., [0, 2]]
    x[..., 1] -= x[..., 1].min(2, keepdims=True) - .03
    if lift is not None:
        x[..., 1] += lift[:, :, None]
    x[..., [0, 2]] += r.uniform(-.2, .2, (n, 1, 1, 2)) * clip[..., None, None]  # a step or two

    # View: the person faces the sensor (+-45 degrees), 2.5-3.5 m away, floor ~1 m below it.
    zero = np.zeros(n)
    yaw = _euler(np.stack([zero, np.pi + np.radians(r.uniform(-45, 45, n)), zero], -1))
    x = x @ yaw.transpose(0, 2, 1)[:, None]
    x += np.stack([r.uniform(-.5, .5, n), -r.uniform(.8, 1.2, n), r.uniform(2.5, 3.5, n)],
                  -1)[:, None, None]
    tilt = _euler(np.stack([np.radians(r.uniform(-5, 5, n)), zero, zero], -1))  # rarely level
    x = x @ tilt.transpose(0, 2, 1)[:, None]
    x += r.normal(0, 1, x.shape) * r.uniform(.005, .015, (n, 1, 1, 1))  # sensor jitter
    slip = (r.random((n, frames, 2, 1, 1)) < .02) * r.normal(0, .05, (n, frames, 2, 1, 3))
    x[:, :, _HANDS] += slip  # hands are where a depth sensor's tracking slips most
    x[t[0] >= lengths[:, None]] = 0
    return x.astype(np.float32), lengths


def _train_counts(n_train: int, imbalance: float | None) -> np.ndarray:
    """Training samples per class: all n_train, or falling exponentially from n_train (first class)
    to n_train / imbalance (last class)."""
    k = len(DEMO_CLASSES)
    if imbalance is None:
        return np.full(k, n_train)
    if imbalance < 1:
        raise SkelgenError(f"imbalance is the ratio of the largest to the smallest class, >= 1; "
                           f"got {imbalance}")
    return np.maximum(1, np.round(n_train * float(imbalance) ** (-np.arange(k) / (k - 1)))).astype(int)


def make_demo(n_per_class: int = 60, frames: int = 80, seed: int = 0, imbalance: float | None = None,
              test_fraction: float = 0.25) -> dict[str, np.ndarray]:
    """The demo dataset in memory.

    Each class has ``round(n_per_class * test_fraction)`` test samples and the rest for training;
    ``imbalance`` thins the training part exponentially (see ``_train_counts``), the test split
    stays balanced. The test samples of a class are the same whatever ``imbalance`` is.

    Returns x (N, 1, frames, 25, 3) float32, length (N,) int64 in frames/2..frames, label (N,)
    int64, id (N,) str, train and test (sorted sample indices).
    """
    n_test = int(round(n_per_class * test_fraction))
    if frames < 8 or n_per_class < 2 or not 0 < n_test < n_per_class:
        raise SkelgenError(f"make_demo needs frames >= 8 and a test_fraction that leaves both splits "
                           f"some of the {n_per_class} samples per class (got frames={frames}, "
                           f"test_fraction={test_fraction})")
    xs, lengths, labels, ids, test = [], [], [], [], []
    for k, n_train in enumerate(_train_counts(n_per_class - n_test, imbalance)):
        x, length = _make_class(k, n_per_class, frames, seed)  # all, so draws don't depend on counts
        x, length = x[: n_test + n_train], length[: n_test + n_train]
        start = sum(map(len, xs))
        xs.append(x[:, None])
        lengths.append(length)
        labels.append(np.full(len(x), k))
        ids += [f"demo-{DEMO_CLASSES[k][0]}-{i:04d}" for i in range(len(x))]
        test.append(start + np.arange(n_test))  # the first n_test of each class's stream
    n = sum(map(len, xs))
    test = np.concatenate(test)
    return {"x": np.concatenate(xs), "length": np.concatenate(lengths).astype(np.int64),
            "label": np.concatenate(labels).astype(np.int64), "id": np.array(ids),
            "train": np.setdiff1d(np.arange(n), test), "test": test}


def write_demo(path: str | Path, n_per_class: int = 60, frames: int = 80, seed: int = 0,
               imbalance: float | None = None, test_fraction: float = 0.25,
               overwrite: bool = False) -> Path:
    """``make_demo`` written as a skelgen dataset file (layout ntu25, frame raw, metres) with
    ``train`` and ``test`` splits. Returns the path."""
    check_output(path, overwrite)  # before the seconds of making the data, not after
    if seed < 0:
        raise SkelgenError(f"--seed must be 0 or more, not {seed}; give another seed")
    check_space(path, n_per_class * len(DEMO_CLASSES) * sample_bytes(1, frames, NTU25.num_joints))
    d = make_demo(n_per_class, frames, seed, imbalance, test_fraction)
    codes, names = zip(*DEMO_CLASSES)
    provenance = [{"source": "skelgen-demo", "procedural": True, "seed": seed} for _ in d["id"]]
    with DatasetWriter(path, NTU25, codes, names, max_frames=frames, max_persons=1, frame="raw",
                       units="m", overwrite=overwrite, expected_samples=len(d["id"])) as w:
        # synthetic=False: "synthetic" marks model-generated samples; these play the real data
        w.append(d["x"], d["length"], d["label"], d["id"], provenance=provenance)
        w.set_split("train", d["train"])
        w.set_split("test", d["test"])
    return Path(path)
