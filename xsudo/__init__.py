"""xsudo: authenticated credential provisioning for Nordic nRF91 cellular modems."""

__version__ = "0.1.0"
