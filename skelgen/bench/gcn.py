"""The benchmark's graph classifier: a small spatial-temporal GCN in the spirit of ST-GCN++ and
CTR-GCN, its graph built from the layout's bones, so any layout works, a user's own included.

Input x (B, T, M, V, C), normalized and resampled. Each joint gets its coordinates and their
frame-to-frame velocity (2C channels); a BatchNorm over (M, V, 2C) (ST-GCN's data_bn) normalizes
them. Persons are folded into the batch, (B * M, 2C, T, V), as in ST-GCN. Six residual blocks
follow, each a spatial graph convolution (each graph partition's normalized adjacency plus a
learned offset, as ST-GCN++'s adaptive graph, mixes the joints; one weight matrix per partition
mixes the channels) and a
temporal convolution (kernel 5; 9 took 1.3x the time a step, 506k parameters), channels w, w, 2w, 2w, 4w,
4w (w = ``width``) and stride 2 at the first 2w and 4w blocks. Global average pooling over time
and joints, then the mean over persons, gives the penultimate features (B, 4w); dropout and one
linear layer give the logits. At w = 32: 333,370 parameters for NW-UCLA (334,266 before 10q's faster graph
convolution, which kept one bias per partition; BENCHMARKS.md 10a, 10q).

The graph (``layout_graph``) has three partitions as in ST-GCN's spatial strategy, by direction
along the bones: each joint to itself, from a joint's children inward to it, from its parent
outward to it.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..layouts import Layout


def layout_graph(layout: Layout) -> np.ndarray:
    """(3, V, V) adjacency of the layout's bones; ``A[k, w, v]`` weighs joint w's message to joint v.

    A[0]: identity; A[1]: child -> parent (inward); A[2]: parent -> child (outward). Partitions 1
    and 2 are normalized over each receiving joint's neighbours (columns sum to 1 where nonzero)."""
    v = layout.num_joints
    inward = np.zeros((v, v), np.float32)
    for child, parent in layout.bones:
        inward[child, parent] = 1.0  # child sends to its parent
    outward = inward.T.copy()

    def normalized(a):
        deg = a.sum(0, keepdims=True)
        return np.divide(a, deg, out=np.zeros_like(a), where=deg > 0)

    return np.stack([np.eye(v, dtype=np.float32), normalized(inward), normalized(outward)])


class GraphConv(nn.Module):
    """Spatial graph convolution: x (N, Cin, T, V) -> (N, Cout, T, V).

    Each partition's adjacency first mixes the joints, then one (1, K) convolution of stride K
    mixes channels and partitions: x @ A' lays the K mixes of a joint side by side on the last
    axis, (N, Cin, T, V * K), so no tensor is permuted. The same function as a 1x1 convolution to
    K * Cout channels followed by an einsum over partitions and joints, whose permutes were a
    third of a bf16 training step: with the NHWC weights below, the step is 1.28x faster alone on
    an AMX CPU and 1.8x in the whole NW-UCLA benchmark (BENCHMARKS.md 10q)."""

    def __init__(self, cin: int, cout: int, graph: torch.Tensor):
        super().__init__()
        self.register_buffer("graph", graph)                       # (K, V, V), fixed: the bones
        self.offset = nn.Parameter(torch.zeros_like(graph))          # learned, starts at the bones
        k = len(graph)
        self.conv = nn.Conv2d(cin, cout, (1, k), (1, k))
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        mix = (self.graph + self.offset).permute(1, 2, 0).reshape(v, -1)  # (V, V * K): column j*K + k is A[k, :, j]
        return self.bn(self.conv((x.reshape(-1, v) @ mix).view(n, c, t, -1)))


class Block(nn.Module):
    """Graph convolution, ReLU, temporal convolution, plus a residual: (N, Cin, T, V) -> (N, Cout, T / stride, V)."""

    def __init__(self, cin: int, cout: int, graph: torch.Tensor, stride: int = 1, kernel: int = 5):
        super().__init__()
        self.gcn = GraphConv(cin, cout, graph)
        self.tcn = nn.Sequential(nn.ReLU(inplace=True),
                                 nn.Conv2d(cout, cout, (kernel, 1), (stride, 1), (kernel // 2, 0)),
                                 nn.BatchNorm2d(cout))
        # The residual's stride is a slice before a plain 1x1 convolution: the same function, but
        # oneDNN's strided 1x1 convolution in channels-last with under 8 input channels corrupts
        # memory on AVX2 CPUs (torch 2.13, AMD EPYC: abort or segfault in the backward pass).
        self.stride = stride
        self.residual = (nn.Identity() if cin == cout and stride == 1 else
                         nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout)))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.tcn(self.gcn(x)) + self.residual(x[:, :, ::self.stride]))


class GCNClassifier(nn.Module):
    """x (B, T, M, V, C) -> logits (B, K); ``features`` gives the pooled (B, 4 * width)."""

    def __init__(self, layout: Layout, persons: int, channels: int, num_classes: int, width: int = 32,
                 dropout: float = 0.2):
        super().__init__()
        graph = torch.from_numpy(layout_graph(layout))
        cin, w = 2 * channels, width  # coordinates and velocity
        self.data_bn = nn.BatchNorm1d(persons * layout.num_joints * cin)
        plan = [(cin, w, 1), (w, w, 1), (w, 2 * w, 2), (2 * w, 2 * w, 1), (2 * w, 4 * w, 2), (4 * w, 4 * w, 1)]
        self.blocks = nn.Sequential(*(Block(a, b, graph, s) for a, b, s in plan))
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(4 * w, num_classes)
        # Channels-last (NHWC) weights make the convolutions' activations NHWC too: a training step
        # 1.1x faster than NCHW in bf16 and in fp32 (BENCHMARKS.md 10q).
        self.to(memory_format=torch.channels_last)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        b, t, m, v, c = x.shape
        vel = torch.cat([x[:, 1:] - x[:, :-1], torch.zeros_like(x[:, :1])], 1)
        h = torch.cat([x, vel], 4)                                          # (B, T, M, V, 2C)
        h = self.data_bn(h.flatten(2).transpose(1, 2))                       # (B, M*V*2C, T)
        h = h.view(b, m, v, 2 * c, t).permute(0, 1, 3, 4, 2).reshape(b * m, 2 * c, t, v)
        h = self.blocks(h).mean((2, 3))                                      # (B*M, 4w)
        return h.view(b, m, -1).mean(1)                                      # persons pooled: (B, 4w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.features(x)))
