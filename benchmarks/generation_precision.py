"""Decoder throughput at the paper's size (D = 512, T = 64, ntu25), fp32 against bf16 autocast:
the cost of synth's decoding step per precision. bf16 uses a small batch because on CPUs
without native bf16 it is emulated and slow.

    python benchmarks/generation_precision.py
"""
import time

import torch

from skelgen.architectures import build_model
from skelgen.model import ModelConfig


def decode_rate(model, batch: int, bf16: bool) -> float:
    """Sequences per second of one decoder pass over ``batch`` [CLS] embeddings (after a warm-up)."""
    cls, x = torch.randn(batch, model.cfg.dim), torch.zeros(batch, model.cfg.frames, model.cfg.in_dim)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        model.decode(cls[:2], x[:2])
        start = time.perf_counter()
        model.decode(cls, x)
        return batch / (time.perf_counter() - start)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = build_model(ModelConfig(in_dim=75, frames=64, dim=512)).eval()
    for name, batch, bf16 in (("fp32", 256, False), ("bf16", 16, True)):
        print(f"{name}: batch {batch}, {decode_rate(model, batch, bf16):.1f} sequences/s")
    print("load average", open("/proc/loadavg").read().split()[0])
