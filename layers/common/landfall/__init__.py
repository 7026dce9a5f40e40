"""Landfall's runtime library: everything a Lambda function runs besides its handler."""

__version__ = "0.1.0"
