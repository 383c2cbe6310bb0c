"""Whether a catalogue answers the intents its model routes to.

A model and a catalogue are chosen separately (HELPLINE_MODEL, HELPLINE_CATALOGUE). Served together without
matching, every message the catalogue has no entry for is handed to a person ("no answer in the catalogue for
activate_my_card"): the bot looks broken while each part works. The app says so loudly at start and on the
Model page, with the intents the catalogue lacks and what to do.
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.model.prediction import OOS
from intents import Catalogue

WARN_BELOW = 0.8     # share of the model's intents the catalogue answers under which the app warns
SHOWN = 5            # missing intents named in the warning


@dataclass(frozen=True)
class CatalogueFit:
    model_intents: int
    missing: tuple[str, ...]     # the model's intents the catalogue has no entry for

    @property
    def answered(self) -> int:
        return self.model_intents - len(self.missing)

    @property
    def share(self) -> float:
        return self.answered / self.model_intents if self.model_intents else 1.0

    def warning(self) -> str | None:
        """A sentence for the operator when the catalogue answers too few of the model's intents, else None."""
        if self.share >= WARN_BELOW:
            return None
        named = ", ".join(self.missing[:SHOWN]) + (f" and {len(self.missing) - SHOWN} more"
                                                   if len(self.missing) > SHOWN else "")
        return (f"The catalogue answers {self.answered} of the model's {self.model_intents} intents "
                f"({self.share:.0%}): messages routed to the others ({named}) are handed to a person. Serve the "
                "model with the catalogue it was trained for (HELPLINE_CATALOGUE), or add those intents to the "
                "catalogue (docs/catalogue.md).")


def catalogue_fit(intent_labels, catalogue: Catalogue) -> CatalogueFit:
    """How many of the model's intents (out-of-scope aside) the catalogue has an entry for."""
    labels = [label for label in intent_labels if label != OOS]
    return CatalogueFit(len(labels), tuple(label for label in labels if label not in catalogue))
