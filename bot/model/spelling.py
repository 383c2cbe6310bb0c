"""Spelling: one typing slip in a word is put right before the encoder reads the message.

A subword encoder reads "actiavte my card" as pieces it never saw together, and training on slipped copies does not
teach it every slip (benchmarks/RESULTS.md, Typos, has what each costs). So a word that is neither a word of the
training messages nor a whole word of the encoder's own vocabulary is replaced by the most frequent training word
one edit away (a letter dropped, added, replaced, or two neighbours swapped: SymSpell's lookup at edit distance 1),
if there is one. Known words (also those of the emotion training texts: "lmao" is not a slip of an intent word),
numbers, words under three letters and words in other scripts are never touched, and a word with nothing one edit
away is left as written, so a name or a product the training data never saw passes unchanged.

Stored in the model directory as spelling.json (format_version 1): the training words with their counts (what a
slip may be corrected to) and the other known words (left alone). Fitted by `finetune train` (or `python -m
finetune spelling` for an existing model); a model directory without it reads messages as written.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

SPELLING_FILE = "spelling.json"
SPELLING_FORMAT_VERSION = 1
MIN_LENGTH = 3
MIN_OTHER_COUNT = 2   # a word of the other training texts seen once may itself be a slip
WORD = re.compile(r"[^\W\d_]+")   # a run of letters (any script; only ASCII words are corrected)


def words_of(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def word_counts(texts: Iterable[str]) -> Counter:
    """How often each word a slip could be taken for (ASCII, three letters or more) occurs in the texts."""
    return Counter(w for text in texts for w in words_of(text) if len(w) >= MIN_LENGTH and w.isascii())


def tokenizer_words(vocabulary: Iterable[str]) -> set[str]:
    """The whole words of a tokenizer's vocabulary: WordPiece tokens not marked as a word's continuation ("##"),
    SentencePiece and byte-level BPE tokens marked as a word's start ("▁", "Ġ")."""
    words = set()
    for token in vocabulary:
        if token.startswith("##"):
            continue
        word = token.lstrip("▁Ġ").lower()
        if word.isalpha():
            words.add(word)
    return words


class Spelling:
    def __init__(self, counts: dict[str, int], known: Iterable[str] = ()):
        self.counts = dict(counts)
        self.known = set(known) | set(self.counts)
        self._symspell = None

    @classmethod
    def build(cls, texts: Iterable[str], vocabulary: Iterable[str] = (), other_texts: Iterable[str] = ()) -> Spelling:
        """From the training messages (whose words a slip is corrected to), a tokenizer's vocabulary and the
        model's other training texts (its emotion data): their words seen at least twice are known words too, so
        the slang and names of how people write are read as written, not as the nearest intent word."""
        counts = word_counts(texts)
        others = {w for w, n in word_counts(other_texts).items() if n >= MIN_OTHER_COUNT}
        return cls(dict(counts), (tokenizer_words(vocabulary) | others) - set(counts))

    def lookup(self):
        if self._symspell is None:   # built on first use: loading a model stays fast
            from symspellpy import SymSpell

            self._symspell = SymSpell(max_dictionary_edit_distance=1)
            for word, count in self.counts.items():
                self._symspell.create_dictionary_entry(word, count)
        return self._symspell

    def corrected_word(self, word: str) -> str:
        lower = word.lower()
        if len(word) < MIN_LENGTH or not word.isascii() or lower in self.known:
            return word
        from symspellpy import Verbosity

        found = self.lookup().lookup(lower, Verbosity.TOP, max_edit_distance=1)
        if not found:
            return word
        best = found[0].term
        return best.upper() if word.isupper() else best.capitalize() if word[:1].isupper() else best

    def correct(self, text: str) -> str:
        return WORD.sub(lambda match: self.corrected_word(match.group()), text)

    def save(self, directory: Path) -> dict:
        data = {"format_version": SPELLING_FORMAT_VERSION, "words": self.counts,
                "known": sorted(self.known - set(self.counts))}
        (Path(directory) / SPELLING_FILE).write_text(json.dumps(data), encoding="utf-8")
        return {"words": len(self.counts), "known": len(data["known"])}

    @classmethod
    def load(cls, directory: Path, metadata: dict | None = None) -> Spelling | None:
        path = Path(directory) / SPELLING_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format_version") != SPELLING_FORMAT_VERSION:
            raise ValueError(f"{path}: format_version must be {SPELLING_FORMAT_VERSION}; refit it with "
                             f"`python -m finetune spelling --model {directory} --intent-data FILE`")
        if not isinstance(data.get("words"), dict) or not isinstance(data.get("known"), list):
            raise ValueError(f"{path}: needs 'words' (word -> count) and 'known' (a list of words)")
        return cls({str(w): int(c) for w, c in data["words"].items()}, map(str, data["known"]))
