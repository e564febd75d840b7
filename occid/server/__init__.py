"""The Twisted edge."""

__all__: list[str] = []
