"""occid: an OCCI gateway to Amazon EC2 for grid users with X.509 proxies and VOMS."""

__version__ = "0.1.0"
