"""occid: an OCCI gateway to Amazon EC2 for grid users with X.509 proxies and VOMS."""

__version__ = "0.1.0"

#: The ``Server`` header of every response (OCCI requires the versions it speaks).
SERVER_HEADER = f"occid/{__version__} OCCI/1.1 OCCI/1.2"
