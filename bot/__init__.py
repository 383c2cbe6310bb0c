"""Helpline runtime: load a model directory, classify messages, answer from the catalogue."""
from .emotions import GOEMOTIONS_LABELS, SENTIMENTS
from .model import HelplineModel
from .prediction import OOS, Prediction

__all__ = ["GOEMOTIONS_LABELS", "OOS", "SENTIMENTS", "HelplineModel", "Prediction"]
