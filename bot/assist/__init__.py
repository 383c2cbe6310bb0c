"""Agent assist: suggested replies (suggest.py) with replies as templates (templates.py)."""
