"""The speed work: fast paths give the same results as the plain ones, the FLOP formulas count
what torch counts, and `skelgen speed` runs and reports every figure. Never timings."""
import json
import os
import subprocess
import sys

import torch
from click.testing import CliRunner
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from skelgen.speed import flops, report
from skelgen.speed.reference import ReferenceTAHAR, reference_loss
from skelgen.cli import main
from skelgen.model import ModelConfig, TAHAR
from skelgen.recipe import AugmentConfig
from skelgen.train import Objective, train_step

CFG = ModelConfig(in_dim=25 * 3, frames=12, dim=32, heads=4, enc_depth=2, dec_depth=2)


def test_cls_only_encoder_equals_full_encoder_outputs_and_gradients():
    """encode() computes the last encoder block for the [CLS] query alone; the result and every
    parameter gradient match the full encoder's [CLS] output, with and without padding."""
    torch.manual_seed(0)
    m = TAHAR(CFG)
    x, x_dec = torch.randn(3, 12, CFG.in_dim), torch.randn(3, 12, CFG.in_dim)
    for lengths in (None, torch.tensor([12, 7, 3])):
        grads = []
        for fast in (True, False):
            m.zero_grad()
            cls = m.encode(x, lengths) if fast else m.forward_encoder(x, lengths)[:, 0]
            out = m.decode(cls, x_dec, lengths)
            out.square().mean().backward()
            grads.append((cls.detach(), out.detach(), [p.grad.clone() for p in m.parameters()]))
        (c1, o1, g1), (c2, o2, g2) = grads
        torch.testing.assert_close(c1, c2, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(o1, o2, atol=1e-5, rtol=1e-5)
        for a, b in zip(g1, g2):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_bf16_autocast_loss_matches_fp32():
    torch.manual_seed(0)
    objective, aug, x = Objective(TAHAR(CFG)), AugmentConfig(), 0.3 * torch.randn(8, 12, 1, 25, 3)
    with torch.no_grad():
        fp32, bf16 = (train_step(objective, x, torch.Generator().manual_seed(1), aug, b, torch.device("cpu"))
                      for b in (False, True))
    assert bf16.dtype == torch.float32  # the loss itself is computed in fp32
    assert abs(bf16.item() - fp32.item()) <= 2e-2 * fp32.item()


def test_reference_model_shapes_and_loss():
    torch.manual_seed(0)
    ref = ReferenceTAHAR(CFG.in_dim, CFG.frames, CFG.dim, CFG.enc_depth, CFG.dec_depth, CFG.heads)
    x = torch.randn(3, 12, CFG.in_dim)
    assert ref(x, x).shape == (3, 12, CFG.in_dim)
    assert ref(x[:, :7], x[:, :7]).shape == (3, 7, CFG.in_dim)
    loss = reference_loss(ref, 0.3 * torch.randn(4, 12, 1, 25, 3), torch.Generator().manual_seed(0), AugmentConfig())
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in ref.parameters())


def test_flop_formulas_match_torch_flop_counter():
    """Forward FLOPs of both models and of the decoder, as torch counts its matrix products
    (the math attention backend, so attention's products are counted too)."""
    torch.manual_seed(0)
    m = TAHAR(CFG)
    ref = ReferenceTAHAR(CFG.in_dim, CFG.frames, CFG.dim, CFG.enc_depth, CFG.dec_depth, CFG.heads)
    x, b, t = torch.randn(3, 12, CFG.in_dim), 3, 12
    cases = [(lambda: m(x, x), flops.tahar_forward(CFG, t)), (lambda: ref(x, x), flops.reference_forward(CFG, t)),
             (lambda: m.decode(torch.randn(b, CFG.dim), x), flops.decoder_forward(CFG, t))]
    for run, expected in cases:
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            run()
        assert counter.get_total_flops() == b * expected
    assert flops.training_step(100, 4) == 1200


def test_every_fraction_is_taken_against_the_best_peak_probe():
    """A slow probe must not inflate the fractions: each is GFLOP/s over the higher of the peaks."""
    from skelgen.speed.speed import peak_fractions
    r = {"peaks": {"fp32": 200.0, "bf16": 50.0},
         "training": {"paper": {"dim": 512, "skelgen_fp32": {"gflops": 150.0}, "reference_bf16": {"gflops": 10.0}}},
         "generation": {"decoder_gflops": 100.0, "bf16": {"decoder_gflops": 40.0}}}
    peak_fractions(r)
    assert r["training"]["paper"]["skelgen_fp32"]["peak_fraction"] == 0.75
    assert r["training"]["paper"]["reference_bf16"]["peak_fraction"] == 0.2
    assert (r["generation"]["fp32_peak_fraction"], r["generation"]["bf16_peak_fraction"]) == (0.5, 2.0)
    assert r["generation"]["bf16"]["peak_fraction"] == 0.8


def test_speed_quick_reports_every_figure():
    result = CliRunner().invoke(main, ["speed", "--quick", "--json", "--synth-n", "20"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    assert set(r) >= {"machine", "config", "peaks", "training", "generator_estimate", "data", "generation",
                      "conversion", "synth_memory", "targets", "section_s", "wall_s"}
    assert r["machine"]["auto_precision"] in ("fp32", "bf16")
    assert set(r["training"]) == {"paper", "generator"}
    for size, t in r["training"].items():
        assert set(t) == {"frames", "dim", "heads", "depth", "skelgen_fp32", "reference_fp32", "skelgen_bf16",
                          "reference_bf16", "bf16_loss_rel_diff"}
        for row in (v for v in t.values() if isinstance(v, dict)):
            assert row["samples_per_s"] > 0 and row["gflops"] > 0 and row["peak_fraction"] > 0
        assert t["bf16_loss_rel_diff"] < 2e-2
    assert (r["training"]["paper"]["dim"], r["training"]["generator"]["dim"]) == (32, 16)  # --quick's sizes
    e = r["generator_estimate"]
    assert e["steps"] == 2500 and e["minutes"] > 0 and e["precision"] == r["machine"]["auto_precision"]
    assert r["peaks"]["fp32"] > 0 and r["peaks"]["bf16"] > 0
    assert len(r["peak_probes"]) == 2 and all(r["peaks"][k] == max(p[k] for p in r["peak_probes"]) for k in r["peaks"])
    assert r["generation"]["sequences"] == 8 and r["generation"]["decoder_gflops"] > 0
    from skelgen.precision import bf16_matmul_faster
    b = r["generation"]["bf16"]  # bf16 decoding is measured where it is native, else skipped
    assert (b["sequences"] == 8 and b["peak_fraction"] > 0) if bf16_matmul_faster() else b is None
    assert r["generation"]["calibration_s"] is None and r["config"]["calibrate"] is False  # --quick skips it
    assert {r["conversion"][k]["files"] for k in ("ntu", "nwucla")} == {3, 6}
    assert r["synth_memory"]["n"] == 20 and 0 < r["synth_memory"]["peak_rss_gb"] < 4
    assert 0 < r["data"]["fraction_of_step"]
    assert set(r["targets"]) == {"train_speedup", "generation_peak_fraction", "data_fraction", "synth_peak_gb"}
    assert all(set(v) == {"measured", "target", "pass"} for v in r["targets"].values())
    text = report(r)  # what the command prints without --json (a second run would double this test's time)
    assert "training, generator size" in text and "one benchmark generator (2500 steps" in text


def test_command_line_sets_openmp_waits_before_torch_loads():
    code = ("import os, sys\nfrom skelgen.cli import main\ntry:\n    main(['info', '--help'])\n"
            "except SystemExit:\n    pass\nfrom skelgen.runtime import thread_waits_in_effect\n"
            "print(repr(thread_waits_in_effect()), 'torch' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "False" and ("PASSIVE" in out.stdout or "GOMP_SPINCOUNT=10000" in out.stdout)
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["'OMP_WAIT_POLICY=ACTIVE'", "False"]  # a user's own setting stands


def test_openmp_threads_wait_passively_only_beside_other_running_work(tmp_path):
    from skelgen.runtime import others_running, wait_setting
    counts = {}
    for name, text in (("idle", "0.50 0.40 0.30 1/80 123"), ("busy", "1.90 1.40 1.30 3/80 123"), ("odd", "?")):
        (tmp_path / name).write_text(text + "\n")
        counts[name] = others_running(str(tmp_path / name))
    assert counts == {"idle": 0, "busy": 2, "odd": None} and others_running(str(tmp_path / "absent")) is None
    assert wait_setting(0) == ("GOMP_SPINCOUNT", "10000")  # only us: spin briefly
    assert wait_setting(2) == wait_setting(None) == ("OMP_WAIT_POLICY", "PASSIVE")  # beside others, or unknown
