"""envlayers."""
