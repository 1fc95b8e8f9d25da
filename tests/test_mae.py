"""skelgen.mae: the MAE-style baseline's encoder sees only unmasked frames, its batching with
different numbers of visible frames is exact, it learns, and it trains through `pretrain`."""
import numpy as np
import pytest
import torch

from skelgen.errors import SkelgenError
from skelgen.mae import MAEBaseline, visible_frames
from skelgen.architectures import build_model
from skelgen.model import ModelConfig

B, T, M, V, C = 4, 12, 1, 5, 3


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: a second thread only adds contention on a shared machine (10x slower here)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny(**kw):
    torch.manual_seed(0)
    cfg = ModelConfig(in_dim=M * V * C, frames=T, dim=32, enc_depth=2, dec_depth=2, heads=4, arch="mae", **kw)
    return MAEBaseline(cfg).eval()


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, M, V, C, generator=g)
    frame = torch.zeros(B, T, dtype=torch.bool)
    frame[0, [1, 2, 5]] = True           # samples keep 9, 12, 4 and 0 visible frames
    frame[2, :8] = True
    frame[3, :] = True
    joint = torch.zeros(B, T, M, V, dtype=torch.bool)
    joint[1, :, :, 2] = True              # a joint-masked sample: every frame stays visible
    mask = frame[:, :, None, None].expand(B, T, M, V) | joint
    x_dec = x.masked_fill(mask[..., None], 0.0)
    return x, x_dec, mask


def test_visible_frames_are_frames_masked_everywhere():
    _, _, mask = batch()
    vis = visible_frames(mask, B, T)
    assert vis.sum(1).tolist() == [9, 12, 4, 0]
    assert vis[1].all()  # joint masking alone hides no frame
    assert visible_frames(None, B, T).all()
    lengths = torch.tensor([T, 6, T, T])
    assert visible_frames(mask, B, T, lengths).sum(1).tolist() == [9, 6, 4, 0]


def test_shapes_and_decode_refuses():
    model = tiny()
    x, x_dec, mask = batch()
    assert model.encode(x.flatten(2)).shape == (B, 32)
    assert model.reconstruct(x, x_dec, mask).shape == x.shape
    enc, order, count = model.encode_visible(x_dec.flatten(2), visible_frames(mask, B, T))
    assert enc.shape == (B, 1 + 12, 32) and count.tolist() == [9, 12, 4, 0]
    assert (order[0, :9] == torch.tensor([0, 3, 4, 6, 7, 8, 9, 10, 11])).all()  # visible, in time order
    loss = model.forward_loss(x, x_dec, mask)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert torch.isfinite(model.forward_loss(x, x, None))  # no masking: every frame visible
    with pytest.raises(SkelgenError, match="cannot generate"):
        model.decode(torch.zeros(1, 32), x_dec.flatten(2)[:1])


def test_encoder_never_sees_masked_frames():
    model = tiny()
    x, x_dec, mask = batch()
    frame = ~visible_frames(mask, B, T)
    poisoned = x_dec.clone()
    poisoned[frame] = 1e3 * torch.randn(int(frame.sum()), M, V, C)
    with torch.no_grad():
        a, b = model.forward_loss(x, x_dec, mask), model.forward_loss(x, poisoned, mask)
        ra, rb = model.reconstruct(x, x_dec, mask), model.reconstruct(x, poisoned, mask)
    assert torch.equal(a, b) and torch.equal(ra, rb)
    # ... while a visible frame does matter (the check above is not vacuous)
    changed = x_dec.clone()
    changed[0, 0] += 1.0
    with torch.no_grad():
        assert not torch.allclose(model.reconstruct(x, changed, mask)[0], ra[0])


def test_batched_equals_one_by_one():
    """Different visible counts per sample (9, 12, 4, 0) and padded lengths batch exactly."""
    model = tiny()
    x, x_dec, mask = batch()
    lengths = torch.tensor([T, 10, 7, T])
    with torch.no_grad():
        together = model.reconstruct(x, x_dec, mask, lengths)
        for i in range(B):
            alone = model.reconstruct(x[i: i + 1], x_dec[i: i + 1], mask[i: i + 1], lengths[i: i + 1])
            torch.testing.assert_close(together[i, : lengths[i]], alone[0, : lengths[i]], atol=1e-5, rtol=1e-4)


def test_bf16_autocast_runs():
    model = tiny().train()
    x, x_dec, mask = batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model.forward_loss(x, x_dec, mask)
    loss.backward()
    assert torch.isfinite(loss)


def test_overfits_a_few_sequences():
    """Four sequences, a fixed frame mask: the masked frames are learnt (loss falls over 10x)."""
    torch.manual_seed(0)
    t = torch.linspace(0, 2 * np.pi, T)
    phase = torch.arange(V * C).float()
    x = torch.stack([torch.sin(t[:, None] * (1 + k) + phase) for k in range(4)]).view(4, T, M, V, C)
    model = tiny().train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    frame = torch.rand(4, T, generator=torch.Generator().manual_seed(0)) < 0.5
    mask = frame[:, :, None, None].expand(4, T, M, V)
    losses = []
    for _ in range(80):
        loss = model.forward_loss(x, x.masked_fill(mask[..., None], 0.0), mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.1 * losses[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny demo data and a 1-epoch run of each arch: {"data": path, "mae": ckpt, "tahar": ckpt}."""
    from skelgen.demo import write_demo
    from skelgen.recipe import Recipe
    from skelgen.train import pretrain

    root = tmp_path_factory.mktemp("runs")
    out = {"data": write_demo(root / "demo.h5", n_per_class=8, frames=32)}
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # pretrain records runs/latest.json in the working folder: keep it out of the repo
        for arch in ("mae", "tahar"):
            r = Recipe()
            for key, value in {"model.arch": arch, "model.dim": 32, "model.heads": 4, "train.epochs": 1,
                               "train.batch_size": 16, "data.frames": 16, "train.precision": "fp32"}.items():
                r.set(key, value)
            out[arch] = pretrain(r, str(out["data"]), root / arch, show_progress=False)
    torch.set_num_threads(n)
    return out


def test_build_model_and_pretrain_one_epoch(runs):
    from skelgen.checkpoint import load_model
    from skelgen.evaluate import embed
    from skelgen.train import read_log

    assert isinstance(build_model(ModelConfig(in_dim=15, frames=8, dim=32, heads=4, arch="mae")), MAEBaseline)
    rows = read_log(runs["mae"].parent)
    assert len(rows) == 1 and np.isfinite(rows[0]["loss"])
    model, state = load_model(runs["mae"])
    assert isinstance(model, MAEBaseline) and state.model.arch == "mae"
    assert embed(model, torch.randn(3, 16, 1, 25, 3)).shape == (3, 32)


@pytest.mark.parametrize("arch", ["tahar", "mae"])
def test_reconstruct_writes_arrays_and_figure(runs, tmp_path, arch):
    from PIL import Image

    from skelgen.io.dataset import SkeletonFile
    from skelgen.reconstruct import reconstruct

    with SkeletonFile(runs["data"]) as sf:
        sid = sf.ids[9]
    r = reconstruct(runs[arch], runs["data"], sample_id=sid, out_prefix=tmp_path / "rec", seed=3)
    assert r["index"] == 9 and r["label"].startswith("A009")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.npz", "rec.png"]
    d = np.load(r["npz"])
    for key in ("original", "decoder_input", "reconstruction", "model_output"):
        assert d[key].shape == (1, 16, 25, 3) and np.isfinite(d[key]).all()
    assert d["mask"].shape == (1, 16, 25) and str(d["arch"]) == arch
    masked = d["mask"][..., None]
    assert not d["decoder_input"][np.broadcast_to(masked, d["decoder_input"].shape)].any()
    if arch == "mae":  # unmasked positions show the input, masked ones the model's output
        np.testing.assert_array_equal(np.where(masked, d["model_output"], d["original"]), d["reconstruction"])
    with Image.open(r["png"]) as im:
        assert im.format == "PNG"
    again = reconstruct(runs[arch], runs["data"], index=9, out_prefix=tmp_path / "again", seed=3)
    np.testing.assert_array_equal(np.load(again["npz"])["reconstruction"], d["reconstruction"])  # seeded
    with pytest.raises(SkelgenError, match="already exists"):
        reconstruct(runs[arch], runs["data"], index=0, out_prefix=tmp_path / "rec")
    with pytest.raises(SkelgenError, match="out of range"):
        reconstruct(runs[arch], runs["data"], index=10_000, out_prefix=tmp_path / "x")
    with pytest.raises(SkelgenError, match="no sample with id"):
        reconstruct(runs[arch], runs["data"], sample_id="nope", out_prefix=tmp_path / "x")
