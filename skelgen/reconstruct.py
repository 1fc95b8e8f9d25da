"""`skelgen reconstruct`: the paper's Figure 4 for one sample.

The sample is prepared as the model reads it (``evaluate.model_inputs``), its decoder input is
made as in training (the checkpoint recipe's augmentation and frame/joint masking, from a seeded
generator) and the model rebuilds the sequence. Written: ``PREFIX.npz`` (original,
decoder_input, reconstruction and model_output, the raw output, each (M, T, V, C) in the
normalized frame; mask (M, T, V), True = masked; the sample's index, id, label, the arch and the
seed) and ``PREFIX.png`` (encoder input, decoder input and reconstruction, the same frames in
three rows).

Both architectures work: TAHAR rebuilds from the clean sequence's [CLS] and the decoder input;
the MAE baseline sees only the decoder input's unmasked frames (so the first row is its target,
not what its encoder saw) and, like any MAE, is trained to predict masked positions only: its
reconstruction row shows its output at masked positions and the input elsewhere (the raw output
is ``model_output`` in the .npz). The figure's title says so.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .errors import SkelgenError
from .io.atomic import AtomicPath, check_output
from .io.dataset import SkeletonFile


def pick_sample(sf: SkeletonFile, index: int | None = None, sample_id: str | None = None) -> int:
    """The sample index ``index`` or ``sample_id`` names (the first sample when neither)."""
    if index is not None and sample_id is not None:
        raise SkelgenError("give --index or --id, not both")
    if sample_id is not None:
        ids = sf.ids
        if str(sample_id) not in ids:
            raise SkelgenError(f"{sf.path} has no sample with id {sample_id!r}; "
                               f"`skelgen info` lists the file, ids look like {ids[0]!r}" if ids else
                               f"{sf.path} has no samples")
        return ids.index(str(sample_id))
    index = 0 if index is None else int(index)
    if not 0 <= index < len(sf):
        raise SkelgenError(f"--index {index} is out of range; {sf.path} has {len(sf)} samples (0..{len(sf) - 1})")
    return index


def decoder_input(x: torch.Tensor, aug, seed: int):
    """The training decoder input of x (B, T, M, V, C) under the recipe's [augment] table ``aug``
    (recipe.AugmentConfig), as training builds it but never fully masked (the figure shows what
    the decoder reads): (x_dec, mask (B, T, M, V), True = masked)."""
    from dataclasses import replace

    from .augment import decoder_input as build
    return build(x, torch.Generator().manual_seed(seed), replace(aug, full_mask=0.0))


@torch.no_grad()
def run_model(model, x: torch.Tensor, x_dec: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The model's reconstruction (B, T, M, V, C) of x from the decoder input, either arch."""
    model.eval()
    return model.reconstruct(x, x_dec, mask).float()


def reconstruct(checkpoint, data, index: int | None = None, sample_id: str | None = None, *,
                out_prefix, seed: int = 0, overwrite: bool = False) -> dict:
    """Reconstruct one sample of ``data``; returns {"npz", "png", "index", "id", "label"}."""
    from .plots import skeletons
    from .checkpoint import check_compatible, load_model
    from .evaluate import model_inputs

    prefix = Path(out_prefix)
    if prefix.suffix in (".npz", ".png"):
        prefix = prefix.with_suffix("")
    npz_path, png_path = prefix.parent / f"{prefix.name}.npz", prefix.parent / f"{prefix.name}.png"
    for p in (npz_path, png_path):  # fail before any work
        check_output(p, overwrite)
    model, run = load_model(checkpoint)
    with SkeletonFile(data) as sf:
        if sf.layout.name == run.layout.name:
            check_compatible(run, sf.layout, sf.shape[1], str(data))
        i = pick_sample(sf, index, sample_id)
        x = torch.from_numpy(model_inputs(sf, [i], run))  # (1, T, M, V, C)
        label = sf.classes.label(int(sf.labels[i]))
        sid = sf.ids[i]
    if x.shape[-1] != 3:
        raise SkelgenError(f"reconstruction figures need 3D joints, the data has C={x.shape[-1]}")
    x_dec, mask = decoder_input(x, run.recipe.augment, seed)
    output = run_model(model, x, x_dec, mask)
    arch = run.model.arch
    recon, title = output, label
    if not model.sees_target:  # the MAE: trained at masked positions only, so show the input elsewhere
        recon = torch.where(mask[..., None], output, x)
        title = f"{label} · MAE (sees row 2's unmasked frames; row 3 = its output where masked)"
    arrays = {name: a[0].numpy().transpose(1, 0, 2, 3).astype(np.float32)  # (M, T, V, C)
              for name, a in (("original", x), ("decoder_input", x_dec), ("reconstruction", recon),
                              ("model_output", output))}
    arrays["mask"] = mask[0].numpy().transpose(1, 0, 2)
    with AtomicPath(npz_path, overwrite) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays, index=i, id=sid, label=label, arch=arch, seed=seed)
    skeletons.reconstruction_figure(arrays["original"], arrays["decoder_input"], arrays["reconstruction"],
                                    run.layout, png_path, title=title)
    return {"npz": npz_path, "png": png_path, "index": i, "id": sid, "label": label}
