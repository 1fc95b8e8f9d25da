"""`python -m skelgen` is the `skelgen` command; `torchrun -m skelgen pretrain ...` launches it
distributed (torchrun runs a module with -m)."""
from .cli import main

main(prog_name="skelgen")
