"""The home page, health check and service-wide pages."""
