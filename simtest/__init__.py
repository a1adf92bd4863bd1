"""simtest: simulation-based safety testing for AV perception."""

__version__ = "0.1.0"
