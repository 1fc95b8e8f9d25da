"""Skeleton layouts as data: joint names, parents and the landmarks preprocessing needs.

A layout is defined once here (or in a small TOML/JSON file for your own joint set) and every
other module asks it for joints by role (``layout.landmark("spine_mid")``), never by number.
"""
from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SkelgenError

# The roles preprocessing and plotting use; a layout maps each to one of its joint names.
LANDMARKS = ("spine_base", "spine_mid", "shoulder_left", "shoulder_right")


@dataclass(frozen=True)
class Layout:
    """A skeleton: ``joints[i]`` has parent ``parents[i]`` (-1 for the root)."""

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    landmarks: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if len(self.joints) != len(self.parents):
            raise SkelgenError(f"layout {self.name!r}: {len(self.joints)} joints but "
                               f"{len(self.parents)} parents; give one parent per joint")
        if len(set(self.joints)) != len(self.joints):
            raise SkelgenError(f"layout {self.name!r}: joint names must be unique")
        for i, p in enumerate(self.parents):
            if not -1 <= p < len(self.joints) or p == i:
                raise SkelgenError(f"layout {self.name!r}: joint {self.joints[i]!r} has parent {p}, "
                                   f"which is not a joint index (use -1 for the root)")
        for i in range(len(self.joints)):  # every chain of parents must end at a root
            j, steps = i, 0
            while j != -1 and steps <= len(self.joints):
                j, steps = self.parents[j], steps + 1
            if j != -1:
                raise SkelgenError(f"layout {self.name!r}: the parents of joint {self.joints[i]!r} form a cycle; "
                                   f"each chain of parents must end at a root (-1)")
        missing = [r for r in LANDMARKS if self.landmarks.get(r) not in self.joints]
        if missing:
            raise SkelgenError(f"layout {self.name!r}: landmarks {missing} must name joints of the layout")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        return self.joints.index(joint)

    def landmark(self, role: str) -> int:
        """Joint index for a role in ``LANDMARKS``."""
        return self.joints.index(self.landmarks[role])

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(child, parent) index pairs, for drawing."""
        return [(i, p) for i, p in enumerate(self.parents) if p >= 0]

    def feature_parents(self, persons: int, channels: int) -> list[int]:
        """For a frame flattened (M, V, C) -> F: each feature's parent feature, the same person's
        and coordinate's at the joint's parent (its own for a root), so that ``x - x[..., p]``
        gives the bone vectors (model.streams)."""
        v = self.num_joints
        return [(m * v + (self.parents[j] if self.parents[j] >= 0 else j)) * channels + c
                for m in range(persons) for j in range(v) for c in range(channels)]

    def to_dict(self) -> dict:
        return {"name": self.name, "joints": list(self.joints), "parents": list(self.parents),
                "landmarks": dict(self.landmarks)}

    @classmethod
    def from_dict(cls, d: dict) -> "Layout":
        try:
            return cls(str(d["name"]), tuple(map(str, d["joints"])), tuple(int(p) for p in d["parents"]),
                       {str(k): str(v) for k, v in d.get("landmarks", {}).items()})
        except SkelgenError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise SkelgenError(f"layout description is malformed ({e}); it needs name, joints, "
                               f"parents and landmarks") from None


def _layout(name, spec, landmarks):
    names = [j for j, _ in spec]
    return Layout(name, tuple(names), tuple(-1 if p is None else names.index(p) for _, p in spec), landmarks)


# Kinect v2 / NTU RGB+D, in the dataset's joint order (1-based numbers in ANCHORS.md).
NTU25 = _layout("ntu25", [
    ("spine_base", None), ("spine_mid", "spine_base"), ("neck", "spine_shoulder"), ("head", "neck"),
    ("shoulder_left", "spine_shoulder"), ("elbow_left", "shoulder_left"), ("wrist_left", "elbow_left"),
    ("hand_left", "wrist_left"),
    ("shoulder_right", "spine_shoulder"), ("elbow_right", "shoulder_right"), ("wrist_right", "elbow_right"),
    ("hand_right", "wrist_right"),
    ("hip_left", "spine_base"), ("knee_left", "hip_left"), ("ankle_left", "knee_left"), ("foot_left", "ankle_left"),
    ("hip_right", "spine_base"), ("knee_right", "hip_right"), ("ankle_right", "knee_right"),
    ("foot_right", "ankle_right"),
    ("spine_shoulder", "spine_mid"), ("hand_tip_left", "hand_left"), ("thumb_left", "wrist_left"),
    ("hand_tip_right", "hand_right"), ("thumb_right", "wrist_right"),
], {"spine_base": "spine_base", "spine_mid": "spine_mid",
    "shoulder_left": "shoulder_left", "shoulder_right": "shoulder_right"})

# Kinect v1 in the SDK's joint order, which NW-UCLA keeps. Datasets stored in another order (MSR
# Action3D has its own) need a layout file in their order; `convert` warns when data looks scrambled.
KINECT20 = _layout("kinect20", [
    ("hip_center", None), ("spine", "hip_center"), ("shoulder_center", "spine"), ("head", "shoulder_center"),
    ("shoulder_left", "shoulder_center"), ("elbow_left", "shoulder_left"), ("wrist_left", "elbow_left"),
    ("hand_left", "wrist_left"),
    ("shoulder_right", "shoulder_center"), ("elbow_right", "shoulder_right"), ("wrist_right", "elbow_right"),
    ("hand_right", "wrist_right"),
    ("hip_left", "hip_center"), ("knee_left", "hip_left"), ("ankle_left", "knee_left"), ("foot_left", "ankle_left"),
    ("hip_right", "hip_center"), ("knee_right", "hip_right"), ("ankle_right", "knee_right"),
    ("foot_right", "ankle_right"),
], {"spine_base": "hip_center", "spine_mid": "spine",
    "shoulder_left": "shoulder_left", "shoulder_right": "shoulder_right"})

BUILTIN = {layout.name: layout for layout in (NTU25, KINECT20)}

# For each kinect20 joint, the ntu25 joint at the same body place (cross-dataset work).
NTU25_TO_KINECT20 = {
    "hip_center": "spine_base", "spine": "spine_mid", "shoulder_center": "spine_shoulder", "head": "head",
    **{f"{part}_{side}": f"{part}_{side}"
       for side in ("left", "right")
       for part in ("shoulder", "elbow", "wrist", "hand", "hip", "knee", "ankle", "foot")},
}


# The inverse, with the joints Kinect v1 lacks taken from their nearest neighbour.
KINECT20_TO_NTU25 = {**{v: k for k, v in NTU25_TO_KINECT20.items()},
                     "neck": "shoulder_center", "hand_tip_left": "hand_left", "thumb_left": "hand_left",
                     "hand_tip_right": "hand_right", "thumb_right": "hand_right"}
_MAPS = {("ntu25", "kinect20"): NTU25_TO_KINECT20, ("kinect20", "ntu25"): KINECT20_TO_NTU25}


def get_layout(name_or_path: str | Path) -> Layout:
    """A built-in layout by name, or a user layout from a ``.toml`` / ``.json`` file."""
    if str(name_or_path) in BUILTIN:
        return BUILTIN[str(name_or_path)]
    path = Path(name_or_path)
    if path.suffix in (".toml", ".json") and path.is_file():
        try:
            text = path.read_text()
            d = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as e:
            raise SkelgenError(f"cannot read layout file {path}: {e}") from None
        return Layout.from_dict(d)
    raise SkelgenError(f"unknown layout {str(name_or_path)!r}; use one of {sorted(BUILTIN)} "
                       f"or a .toml/.json file with name, joints, parents and landmarks")


def joint_map(src: Layout, dst: Layout) -> list[int]:
    """Indices into ``src`` joints giving ``dst`` joints, so ``x[..., joint_map(a, b), :]`` converts."""
    if src.name == dst.name:
        return list(range(src.num_joints))
    if (src.name, dst.name) in _MAPS:
        table = _MAPS[src.name, dst.name]
        return [src.index(table[j]) for j in dst.joints]
    raise SkelgenError(f"no joint mapping from layout {src.name!r} to {dst.name!r}; "
                       f"known: ntu25 <-> kinect20")
