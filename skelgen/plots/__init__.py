"""Figures, in one style: ``skeletons`` draws sequences, ``charts`` draws results; ``style`` is
what they share (palette, headless figures, atomic saves)."""
