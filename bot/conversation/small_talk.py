"""Greetings, thanks and goodbyes: never a business intent.

A model trained on business intents alone (Banking77 has no "hello") routes "thank you so much" to its nearest
business intent, sometimes confidently. A message that is nothing but small talk is answered as small talk: with
the catalogue's own `greeting` / `thanks` / `goodbye` intent where it has one, else with a plain reply here.
"""
from __future__ import annotations

import re

KINDS = {   # whole-message phrases, after lower-casing and dropping punctuation and filler words
    "goodbye": ("bye", "bye bye", "goodbye", "good bye", "see you", "see ya", "have a nice day", "have a good day",
                "good night", "take care", "that is all", "thats all", "that's all", "nothing else"),
    "thanks": ("thanks", "thank you", "thank u", "thx", "ty", "cheers", "many thanks", "thanks a lot",
               "thank you very much", "thank you so much", "thanks so much", "much appreciated", "appreciate it",
               "great thanks", "perfect thanks", "ok thanks", "okay thanks", "ok thank you", "awesome thanks"),
    "greeting": ("hi", "hello", "hey", "hiya", "howdy", "yo", "greetings", "good morning", "good afternoon",
                 "good evening", "hi there", "hello there", "hey there", "anyone there", "is anyone there",
                 "hello anyone there"),
}
FILLER = {"so", "very", "much", "again", "guys", "team", "all", "everyone", "you", "for", "the", "help",
          "your", "and", "oh", "ok", "okay", "well", "a", "lot"}
REPLIES = {"greeting": "Hello! How can I help you today?",
           "thanks": "You're welcome! Is there anything else I can help with?",
           "goodbye": "Goodbye, and thanks for getting in touch!"}
_PHRASES = {phrase: kind for kind, phrases in KINDS.items() for phrase in phrases}


def small_talk(text: str) -> str | None:
    """"greeting", "thanks" or "goodbye" when the whole message is that (a goodbye wins over thanks in "thanks,
    bye"), else None: "hi, where is my order" is not small talk."""
    words = re.sub(r"[^\w\s']", " ", text.casefold()).split()
    if not words or len(words) > 8:
        return None
    found = set()
    rest = " ".join(words)
    for phrase in sorted(_PHRASES, key=len, reverse=True):   # longest first: "thank you so much" before "thank you"
        pattern = rf"(?<![\w']){re.escape(phrase)}(?![\w'])"
        if re.search(pattern, rest):
            found.add(_PHRASES[phrase])
            rest = re.sub(pattern, " ", rest)
    if not found or any(word not in FILLER for word in rest.split()):
        return None
    return next(kind for kind in ("goodbye", "thanks", "greeting") if kind in found)
