"""The intent catalogue (versioned YAML) and its validating loader."""
from .catalogue import (
                        DEFAULT_CATALOGUE,
                        FORMAT_VERSION,
                        OOS,
                        PRIORITIES,
                        Catalogue,
                        CatalogueError,
                        Intent,
                        load_catalogue,
                        parse_catalogue,
)

__all__ = ["DEFAULT_CATALOGUE", "FORMAT_VERSION", "OOS", "PRIORITIES", "Catalogue", "CatalogueError", "Intent",
           "load_catalogue", "parse_catalogue"]
