"""bf16 on a CPU with native bf16 (AMX): where the training step's time goes and what the
attention kernel costs (issue 17, BENCHMARKS.md 9g).

``--attention``: scaled dot-product attention alone, forward and backward (training) or forward
under no_grad (inference), for torch's flash and math kernels in fp32 and bf16, at the shapes of
the paper's size (batch 128, 8 heads, 65 tokens of 64) and the generator's (64, 4, 32 of 32).

Default: training steps of TAHAR at one size, side by side in one process (one step of each in
turn, so a noisy machine slows them alike; median after two warm-up steps): fp32; bf16 autocast
with torch's bf16 attention (skelgen before 9g); bf16 with attention in fp32 (skelgen since);
with ``--compile`` the last under torch.compile too. Same weights, data and augmentation:
equal losses mean the variants compute the same.

    python benchmarks/bf16_step.py --attention
    python benchmarks/bf16_step.py --size paper        # D = 512, T = 64, batch 128
    python benchmarks/bf16_step.py --size generator    # D = 128, T = 32, batch 64
    python benchmarks/bf16_step.py --products --size paper   # the step's products alone
"""
import argparse
import time
from unittest import mock

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

import skelgen.model as model_module
from skelgen.model import ModelConfig
import small_step  # benchmarks/, beside this script
from small_step import race

SIZES = {"paper": dict(dim=512, frames=64, heads=8, batch=128), "generator": dict(dim=128, frames=32, heads=4, batch=64)}


def attention_table():
    def timed(fn, reps=5):
        fn(), fn()
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - t) / reps * 1e3

    for size, s in SIZES.items():
        shape = (s["batch"], s["heads"], s["frames"] + 1, s["dim"] // s["heads"])
        for dtype in (torch.float32, torch.bfloat16):
            for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.MATH):
                q, k, v = (torch.randn(shape, dtype=dtype, requires_grad=True) for _ in range(3))

                def train():
                    with sdpa_kernel(backend):
                        F.scaled_dot_product_attention(q, k, v).sum().backward()

                def infer():
                    with sdpa_kernel(backend), torch.no_grad():
                        F.scaled_dot_product_attention(q, k, v)
                print(f"{size:>9} {str(dtype)[6:]:>8} {backend.name:>15}: forward + backward {timed(train):6.1f} ms, "
                      f"forward {timed(infer):6.1f} ms")


def products(s):
    """The step's matrix products (tokens x D by D x n, both ways round as the backward does)."""
    tokens, d = s["batch"] * s["frames"], s["dim"]
    for dtype in (torch.float32, torch.bfloat16):
        for m, k, n in ((tokens, d, 3 * d), (tokens, d, 4 * d), (tokens, 4 * d, d), (4 * d, tokens, d)):
            left, right = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
            for _ in range(3):
                left @ right
            t0 = time.perf_counter()
            for _ in range(20):
                left @ right
            print(f"{str(dtype)[6:]:>8} {m} x {k} by {k} x {n}: "
                  f"{2 * m * k * n * 20 / (time.perf_counter() - t0) / 1e9:.0f} GFLOP/s")


def bf16_attention(q, k, v, mask=None, dropout=0.0):
    """skelgen's attention before 9g: torch's kernel in the input's dtype."""
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)


def variant(s, x, bf16: bool, attention=None, compiled: bool = False):
    """small_step's variant at size ``s``; with ``attention``, skelgen's attention replaced by it."""
    step = small_step.variant(s["batch"], x, compiled, bf16, ModelConfig(in_dim=75, frames=s["frames"], dim=s["dim"],
                                                                         heads=s["heads"]), lr=1e-4)
    if attention is None:
        return step

    def patched() -> float:
        with mock.patch.object(model_module, "attention", attention):
            return step()
    return patched


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", choices=tuple(SIZES), default="paper")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--attention", action="store_true", help="the attention kernels alone")
    p.add_argument("--products", action="store_true", help="the step's matrix products alone")
    p.add_argument("--compile", action="store_true", help="also bf16 under torch.compile")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    s = SIZES[a.size]
    if a.attention:
        return attention_table()
    if a.products:
        return products(s)
    x = torch.randn(512, s["frames"], 1, 25, 3, generator=torch.Generator().manual_seed(1))
    variants = {"fp32": variant(s, x, False), "bf16, bf16 attention": variant(s, x, True, bf16_attention),
                "bf16, fp32 attention": variant(s, x, True)}
    if a.compile:
        variants["bf16, fp32 attention, compiled"] = variant(s, x, True, compiled=True)
        t0 = time.perf_counter()
        variants["bf16, fp32 attention, compiled"]()
        print(f"first compiled step (the compilation): {time.perf_counter() - t0:.1f} s")
    race(variants, a.steps, 2, s["batch"])


if __name__ == "__main__":
    main()
