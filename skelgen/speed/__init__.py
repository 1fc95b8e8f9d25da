"""How fast skelgen runs on this machine (`skelgen speed`): the measurements (speed.py), their
targets and table (report.py), the FLOP counts they are held to (flops.py), the plain reference
model they are compared with (reference.py) and generated raw files for timing the importers
(synthetic_files.py)."""
from .report import report
from .speed import SpeedConfig, run_speed

__all__ = ["SpeedConfig", "report", "run_speed"]
