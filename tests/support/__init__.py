"""Test support kit: tiny wheels, fixture workspaces, installer isolation (see conftest.py)."""
