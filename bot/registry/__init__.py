"""Model versions (versions.Registry: numbered versions, gated promotion, rollback) and background retrain jobs."""
from bot.registry.versions import (
    DEFAULT_TOLERANCE,
    GATED_METRICS,
    SHOWN_METRICS,
    Registry,
    RegistryError,
    is_registry,
)

__all__ = ["DEFAULT_TOLERANCE", "GATED_METRICS", "SHOWN_METRICS", "Registry", "RegistryError", "is_registry"]
