"""Settings classes for each environment; see settings.py."""

from config.settings import ConfigurationError, load_config

__all__ = ["ConfigurationError", "load_config"]
