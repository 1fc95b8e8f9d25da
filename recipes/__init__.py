"""The recipes, installed as the data package skelgen.recipes (see pyproject.toml)."""
