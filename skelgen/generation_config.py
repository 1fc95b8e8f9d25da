"""The settings of conditioned generation, one place for their defaults (the CLI, the sampler,
the benchmark and the library all read them from here). Light on purpose: no torch, so that
the command line can show the defaults without importing it. Strategies: skelgen.generate."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import SkelgenError, check_range
from .precision import check_precision

STRATEGIES = ("borrow", "shift", "sample", "interpolate", "gaussian")
LENGTHS = ("model", "source", "class")


@dataclass
class GenerationConfig:
    strategy: str = "borrow"    # chosen on NW-UCLA view 1 -> view 2 (BENCHMARKS.md 8i)
    noise_scale: float = 0.05  # std of the decoder's noise input, metres (the training noise std;
                               # 1.0 made outputs barely recognizable, see BENCHMARKS.md)
    temperature: float = 1.0   # covariance scale of the gaussian strategy
    novelty: float = 1.0       # borrow and shift: scale of the [CLS] move (in within-class standard
                               # deviations, times the calibrated reach); trades faithfulness (0: a copy) for novelty
    calibrate: bool = True     # borrow and shift: novelty in the data's own spacing: at 1, generated
                               # sequences lie as far from their nearest training sequence as training
                               # sequences lie from each other (generate.calibrated_reach; BENCHMARKS.md 8j)
    augment: bool = False      # then give each generated sequence classic augmentation (rotation up to
                               # 15 degrees, scale, 1 cm joint noise, temporal crop): the benchmark's
                               # "skelgen-<strategy>>classic", its best or level-best row on most data
                               # measured (BENCHMARKS.md 8j, 10m)
    length: str = "source"     # model: T frames; source: the source sequence's length; class: a random class length
    batch_size: int = 256
    precision: str = "fp32"    # of the decoder: fp32 gives the same sequences on every machine; bf16
                               # (or auto, where measured faster) decoded 2.2x faster on a CPU with
                               # native bf16, with sequences that differ by rounding (BENCHMARKS.md 9g)

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise SkelgenError(f"unknown strategy {self.strategy!r}; use one of {', '.join(STRATEGIES)}")
        if self.length not in LENGTHS:
            raise SkelgenError(f"unknown length mode {self.length!r}; use one of {', '.join(LENGTHS)}")
        fix = "give another value"  # NaN too: it would poison every output
        check_range("--noise-scale", self.noise_scale, 0, fix=fix)
        check_range("--temperature", self.temperature, 0, fix=fix)
        check_range("--novelty", self.novelty, 0, fix=fix)
        check_range("batch size", self.batch_size, 1, fix=fix)
        check_precision(self.precision, "--precision")
