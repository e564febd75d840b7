"""The twisted.web resource tree serving OCCI."""
