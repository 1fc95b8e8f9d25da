"""Does synthetic data help a classifier? The downstream benchmark (run.py), its classifier,
scenarios, training-set methods and the ACTOR/MDM generation-quality protocol."""
from .quality import quality_report
from .run import run_benchmark

__all__ = ["run_benchmark", "quality_report"]
