"""Screen ideas for a better [CLS] (issue 19) at the benchmark generator's size, before any of
them becomes a recipe key: a TAHAR at D = 128, 4 heads, 2 + 2 blocks, batch 64, a fixed number of
optimizer steps (peak lr 2e-3, 4 % warmup, cosine), every decoder input fully masked (the
``skelgen-nw-ucla`` setting), pretrained on the ``train`` split without labels, then scored by
1-NN (cosine) on [CLS]:
    val:  fitted on ``val_train``, scored on ``val_test`` (NW-UCLA view 1 -> view 2): to choose;
    test: fitted on ``train``, scored on ``test``: reported, never used to choose.
``--raw`` scores the prepared skeletons themselves (flattened), the floor a [CLS] should beat.

Ideas (each off by default):
    --rot R --scale S   the encoder sees a rotated (up to R rad about each axis), scaled copy
    --crop C            ... and a random temporal crop of C..1 of the frames, resampled, drawn
                        anew at every step (pyskl's UniformSample spirit)
    --target clean      the decoder rebuilds the clean sequence, not the augmented one the
                        encoder saw (so [CLS] must undo the augmentation: implicit invariance)
    --agree W           plus W x (1 - cosine) between the batch-centred [CLS] of two augmented
                        views of each sequence (a view-agreement term)
    --vicreg W          plus W x a VICReg term (invariance, variance, covariance; weights 25, 25,
                        1, divided by 51) on a projector's outputs (128 -> 512 -> 512, GELU) for
                        two augmented views: unlike --agree, [CLS] itself need not be invariant,
                        only what the projector keeps of it
    --shear H           ... and sheared: each coordinate plus U(-H, H) times each other one
                        (SkeletonCLR's and AimCLR's shear), on both views
    --drop P            ... and each joint of each view zeroed in every frame with probability P
                        (AimCLR's extreme spatial augmentation), on --vicreg's second view
                        only (the first is rebuilt)
    --jitter S          ... and N(0, S^2) noise on every coordinate, on the second view only
    --projector P       the projector's width for --vicreg (512 unless given)
    --streams jbm       model.streams: the inputs carry joints, bones (joint minus parent)
                        and motion (frame differences); the output stays joints
    --decoder fixed     the decoder's blocks, norm and positions stay at their random start; only
                        its output layer learns (Predict & Cluster's "fixed weights": a decoder
                        that cannot learn the motion itself leaves it all to [CLS])
    --smooth K          the decoder rebuilds the sequence smoothed over time (a K-frame moving
                        average, K odd): [CLS] need not carry the sensor's frame-to-frame jitter
    --motion-loss W     plus W x the same loss on frame differences (the motion), so that [CLS]
                        spends more of itself on how the body moves than on its pose
    --wd-groups W       weight decay W on weight matrices only, none on biases, norms, the
                        positional embeddings and [CLS] (nanoGPT's and MAE's groups); else 0.01 on all

    python benchmarks/representation_screen.py --data runs/nw-ucla.h5 --raw
    python benchmarks/representation_screen.py --data runs/nw-ucla.h5 --name base
    python benchmarks/representation_screen.py --data runs/nw-ucla.h5 --name crop --crop 0.7
    python benchmarks/representation_screen.py --data runs/nw-ucla.h5 --name vic0.1 --rot 0.3 --scale 0.1 \
        --crop 0.7 --vicreg 0.1

One JSON row per run on stdout (and appended to ``--results``).
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

from skelgen.augment import augment, shear, temporal_crop
from skelgen.evaluate import knn_predict
from skelgen.io.dataset import SkeletonFile
from skelgen.model import TAHAR, ModelConfig, reconstruction_loss, vicreg_loss
from skelgen.preprocess import prepare_file


def one_nn(train_x, train_y, test_x, test_y) -> float:
    return float((knn_predict(train_x, train_y, test_x) == test_y).mean() * 100)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--name", default="run")
    p.add_argument("--raw", action="store_true", help="score the prepared skeletons, train nothing")
    p.add_argument("--steps", type=int, default=2500)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--rot", type=float, default=0.0)
    p.add_argument("--scale", type=float, default=0.0)
    p.add_argument("--crop", type=float, default=1.0)
    p.add_argument("--shear", type=float, default=0.0)
    p.add_argument("--projector", type=int, default=512)
    p.add_argument("--drop", type=float, default=0.0)
    p.add_argument("--jitter", type=float, default=0.0)
    p.add_argument("--target", choices=("view", "clean"), default="view")
    p.add_argument("--agree", type=float, default=0.0)
    p.add_argument("--vicreg", type=float, default=0.0)
    p.add_argument("--streams", choices=("j", "jb", "jm", "jbm"), default="j")
    p.add_argument("--wd-groups", type=float, default=None)
    p.add_argument("--smooth", type=int, default=1)
    p.add_argument("--motion-loss", type=float, default=0.0)
    p.add_argument("--decoder", choices=("learned", "fixed"), default="learned")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--results", default="representation_screen.jsonl")
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    sf = SkeletonFile(a.data)
    splits = {}
    for split in ("train", "test", "val_train", "val_test"):
        idx = sf.indices(split)
        splits[split] = torch.from_numpy(prepare_file(sf, idx, a.frames)), sf.labels[idx]  # (n, T, M, V, C)
    if a.raw:
        flat = {k: (x.flatten(1).numpy(), y) for k, (x, y) in splits.items()}
        row = {"name": "raw", "data": a.data, "val": one_nn(*flat["val_train"], *flat["val_test"]),
               "test": one_nn(*flat["train"], *flat["test"])}
        print(json.dumps(row))
        return

    x_train = splits["train"][0]
    n, t, m, v, c = x_train.shape
    names = {"j": "joints", "jb": "joints+bones", "jm": "joints+motion", "jbm": "joints+bones+motion"}
    streams = names[a.streams]  # model.streams
    torch.manual_seed(a.seed)
    model = TAHAR(ModelConfig(in_dim=m * v * c, frames=t, dim=128, heads=4, streams=streams,
                              parents=sf.layout.feature_parents(m, c) if "bones" in streams else [],
                              projector=a.projector if a.vicreg > 0 else 0))
    if a.decoder == "fixed":
        for part in (*model.decoder.parameters(), *model.dec_norm.parameters(), model.dec_pos):
            part.requires_grad_(False)
    if a.wd_groups is None:
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    else:
        matrices = [p_ for n_, p_ in model.named_parameters() if p_.dim() == 2 and "pos" not in n_]
        others = [p_ for n_, p_ in model.named_parameters() if not (p_.dim() == 2 and "pos" not in n_)]
        opt = torch.optim.AdamW([{"params": matrices, "weight_decay": a.wd_groups},
                                 {"params": others, "weight_decay": 0.0}], lr=2e-3)
    gen = torch.Generator().manual_seed(a.seed)

    def view(x, second=False):
        if a.rot > 0 or a.scale > 0:
            x = augment(x, gen, rotate=a.rot, scale=a.scale, noise_prob=0.0)
        if a.shear > 0:
            x = shear(x, gen, a.shear)
        if second and a.jitter > 0:
            x = x + torch.randn(x.shape, generator=gen) * a.jitter
        if second and a.drop > 0:
            keep = torch.rand(len(x), 1, 1, x.shape[3], 1, generator=gen) >= a.drop
            x = x * keep
        return temporal_crop(x, gen, a.crop) if a.crop < 1 else x

    warm, t0 = a.steps // 25, time.time()
    for s in range(a.steps):
        lr = 2e-3 * s / warm if s < warm else 1e-3 * (1 + math.cos(math.pi * (s - warm) / (a.steps - warm)))
        for group in opt.param_groups:
            group["lr"] = lr
        x = x_train[torch.randint(0, n, (64,), generator=gen)]
        seen = view(x)
        z = model.encode(seen.flatten(2))
        recon = model.decode(z, torch.zeros(len(x), t, m * v * c)).view_as(x)
        target = seen if a.target == "view" else x
        if a.smooth > 1:  # moving average over time, edges padded with the end frames
            pad = torch.cat([target[:, :1].expand(-1, a.smooth // 2, -1, -1, -1), target,
                             target[:, -1:].expand(-1, a.smooth // 2, -1, -1, -1)], 1)
            target = pad.unfold(1, a.smooth, 1).mean(-1)
        loss = reconstruction_loss(recon, target)
        if a.motion_loss > 0:
            loss = loss + a.motion_loss * reconstruction_loss(recon.diff(dim=1), target.diff(dim=1))
        if a.agree > 0:
            z2 = model.encode(view(x).flatten(2))
            mu = torch.cat([z, z2]).mean(0, keepdim=True)
            loss = loss + a.agree * (1 - F.cosine_similarity(z - mu, z2 - mu, dim=-1)).mean()
        if a.vicreg > 0:
            other = model.encode(view(x, second=True).flatten(2))
            loss = loss + a.vicreg * vicreg_loss(model.projector(z), model.projector(other))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if s % 500 == 0:
            print(f"step {s} loss {loss.item():.4f} {time.time() - t0:.0f} s", file=sys.stderr, flush=True)

    model.eval()
    with torch.no_grad():
        emb = {k: (torch.cat([model.encode(x[i:i + 256].flatten(2)) for i in range(0, len(x), 256)]).numpy(), y)
               for k, (x, y) in splits.items()}
    row = {"name": a.name, "data": a.data, "args": vars(a), "val": one_nn(*emb["val_train"], *emb["val_test"]),
           "test": one_nn(*emb["train"], *emb["test"]), "minutes": round((time.time() - t0) / 60, 1)}
    print(json.dumps(row))
    with open(a.results, "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
