"""Who the customer says they are: an introduction by name ("Hi, this is Jamal.", "My name is Wei Chen,", "Priya
here.", "Thanks, Rosa" at the end) or a description of themselves by group ("As a Black customer:", "As an elderly
person,", "I'm a disabled customer and ...", "As an atheist,").

Neither says what the customer wants or how they feel about the service, yet an encoder reads a name or a group
word like any other word and carries into the intent and the mood it reads whatever its pretraining text tied to
them (`python -m finetune audit` measures it). So the encoder, the lexical intent head and the upset head read a
message without these spans (`content_of` in bot/model/placeholders.py); the customer's text is stored and shown
as written.

The spans are found by their form, not by lists of names or groups, so a name or group no list holds is treated
alike: one to three capitalised words after "this is" or "my name is" and ending a clause; any words between
"As a" (at the start of a sentence or clause, or "I'm a" anywhere) and a word for a customer or a person. A group
word anywhere else in a message stays; the counterfactual copies in training are what teach the encoder to read
it alike (finetune/counterfactual_augment.py).
"""
from __future__ import annotations

import re

# a capitalised word of a name: "Jamal", "O'Brien", "McKenzie", "Min-jun", "Zoë"; not ALL CAPS ("THIS IS INSANE"),
# not "I'm" or "I'd"
LOWER = "a-z\u00DF-\u00FF"
NAME = rf"[A-Z\u00C0-\u00DE](?:['’]?[A-Z])?[{LOWER}][{LOWER}'’]*(?:[A-Z][a-z]+)?(?:-[A-Za-z\u00C0-\u00FF]+)?"
NAMES = rf"{NAME}(?:\s+{NAME}){{0,2}}"
# the end of the clause a name or a self-description stands in (taken out with it), or what follows it
CLAUSE_END = r"(?:\s*[.!?,;:\-–—]|\s+(?i:here|and|speaking)\b[.,!]?|(?=\s*(?:\)|$)|\s+(?i:from)\b))"
# words for the one who writes: a description of themselves ends in one of these
PERSON = (r"(?:customer|client|user|member|account ?holder|card ?holder|person|individual|human|woman|man|lady|"
          r"gentleman|guy|girl|boy|mother|mom|mum|father|dad|parent|grandmother|grandfather|grandparent|wife|husband|"
          r"student|senior|pensioner|retiree|veteran|citizen|national|immigrant|resident|foreigner|expat|refugee|"
          r"traveller|traveler|shopper|buyer|passenger|patient|worker|employee|professional|owner|entrepreneur|"
          r"family|couple|adult|teenager|teen|minor|believer)s?")
# "a loyal Black customer of ten years": up to three words before the person word, a short "of/for/since/with"
# tail only where punctuation closes it
DESCRIBED = (rf"(?i:an?)\s+(?:[\w'’-]+\s+){{0,3}}(?i:{PERSON})\b"
             rf"(?:\s+(?i:of|for|since|with)\s+[^,.:;!?]{{1,30}}(?=[,.:;!?]))?")

# a greeting that opens an introduction goes with it ("Hi, this is Jamal. Where is my card?" reads as the
# question, as the question alone would); a greeting alone stays a greeting
GREETING = r"(?i:hi|hello|hey|hiya|good (?:morning|afternoon|evening)|dear [\w ]{1,30}?)[,!.]?\s+"
# at the start of the message or of a sentence ("And this is California." is not one); not "I'm Jamal": "I'm
# Black." would go and "I'm white." stay, reading one group apart from another
INTRODUCTION = re.compile(rf"(?:^|(?<=[.!?]))\s*(?:{GREETING})?(?i:this is|my name is|my name's|name's)\s+{NAMES}"
                          rf"{CLAUSE_END}|^\s*(?:{GREETING})?{NAMES}\s+(?i:here|speaking)\s*[.,!:;\-–—]")
# a name signing off after a thank-you or a dash: "... Thanks, Rosa", "... - Jamal", "Regards, Wei Chen" (the
# thank-you stays); not "Thanks So Much!", and a capitalised word after other punctuation is as often "Help!" or
# "Lol" as a name
SIGN_OFF = re.compile(rf"(?:(?P<keep>\b(?i:thanks|thank you|many thanks|regards|cheers|best|sincerely|thx|ty)[,.!]"
                      rf"|\n)|\s[-–—]+)\s*{NAMES}\s*[.!]?\s*$")
# what follows "As a ..." at the start of a clause when it is not the writer: "As a result,", "As a reminder,"
NOT_A_WRITER = (r"(?:result|consequence|rule|reminder|side ?note|note|whole|courtesy|precaution|matter of fact|"
                r"favou?r|bonus|gift|test|trial|example|follow[- ]?up|heads[- ]?up|alternative|compromise|last resort|"
                r"first step|next step|workaround|temporary (?:fix|measure)|quick question|aside|thank you|start)\b")
# "As a Black customer:", "Speaking as an elderly person,", "As an atheist," (one or two words closing the
# clause), "As someone who is deaf," at the start of the message, of a sentence or of a clause
AS_DESCRIBED = re.compile(rf"(?:^|(?<=[.!?:;,]))\s*(?i:(?:speaking|writing) as|as|being)\s+(?:{DESCRIBED}"
                          rf"|(?i:an?)\s+(?!(?i:{NOT_A_WRITER}))[\w'’-]+(?:\s+[\w'’-]+)?(?=\s*[,:;])"
                          rf"|(?i:someone|somebody|a person)\s+(?i:who|that)\s*(?i:'s|is|has|am)\s+[^,.:;!?]{{1,40}}"
                          rf"(?=\s*[,:;]))\s*[,:;.!\-–—]?")
# "I'm a disabled customer and ...", "I am an immigrant, ..." anywhere
AM_DESCRIBED = re.compile(rf"\b(?i:i am|i'm|im)\s+{DESCRIBED}(?:\s*[,.;:!\-–—]|\s+(?i:and|so|but)\b)?")


def without_self_reference(text: str) -> str:
    """The text without the customer's introduction by name and description of themselves by group."""
    for pattern in (AS_DESCRIBED, AM_DESCRIBED, INTRODUCTION):
        text = pattern.sub(" ", text)
    return SIGN_OFF.sub(r"\g<keep>", text)
