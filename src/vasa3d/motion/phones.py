"""The ARPAbet phone set: classes, places of articulation and the pronouncing dictionary.

The dictionary is the CMU Pronouncing Dictionary that ships inside the pocketsphinx
wheel (BSD-style licence); words it lacks are spelled out by a small set of letter rules.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
STOPS = frozenset("P B T D K G".split())
AFFRICATES = frozenset("CH JH".split())
FRICATIVES = frozenset("F V TH DH S Z SH ZH HH".split())
NASALS = frozenset("M N NG".split())
LIQUIDS = frozenset("L R".split())
GLIDES = frozenset("W Y".split())
VOICED = frozenset("B D G JH V DH Z ZH M N NG L R W Y".split()) | VOWELS
BILABIAL = frozenset("P B M".split())
LABIODENTAL = frozenset("F V".split())
ALL_PHONES = VOWELS | STOPS | AFFRICATES | FRICATIVES | NASALS | LIQUIDS | GLIDES
SILENCE = "SIL"

FUNCTION_WORDS = frozenset(
    "a an the i me my we our you your he him his she her it its they them their am is are was were be been "
    "to of in on at by for from with as and or but if so that this than then do does did not no can will "
    "would could should may might must have has had".split())

_DIGITS = "zero one two three four five six seven eight nine".split()

_LETTER_RULES: list[tuple[str, list[str]]] = [
    ("tch", ["CH"]), ("sch", ["S", "K"]), ("ch", ["CH"]), ("sh", ["SH"]), ("th", ["TH"]), ("ph", ["F"]),
    ("wh", ["W"]), ("ng", ["NG"]), ("ck", ["K"]), ("qu", ["K", "W"]), ("ee", ["IY"]), ("ea", ["IY"]),
    ("oo", ["UW"]), ("ai", ["EY"]), ("ay", ["EY"]), ("ou", ["AW"]), ("ow", ["OW"]), ("oi", ["OY"]),
    ("oy", ["OY"]), ("au", ["AO"]), ("aw", ["AO"]), ("er", ["ER"]), ("ir", ["ER"]), ("ur", ["ER"]),
    ("a", ["AE"]), ("e", ["EH"]), ("i", ["IH"]), ("o", ["AA"]), ("u", ["AH"]), ("y", ["IY"]),
    ("b", ["B"]), ("c", ["K"]), ("d", ["D"]), ("f", ["F"]), ("g", ["G"]), ("h", ["HH"]), ("j", ["JH"]),
    ("k", ["K"]), ("l", ["L"]), ("m", ["M"]), ("n", ["N"]), ("p", ["P"]), ("q", ["K"]), ("r", ["R"]),
    ("s", ["S"]), ("t", ["T"]), ("v", ["V"]), ("w", ["W"]), ("x", ["K", "S"]), ("z", ["Z"]),
]


def pocketsphinx_model_dir() -> str:
    """Directory of the English acoustic model bundled with pocketsphinx."""
    from pocketsphinx import get_model_path

    return os.path.join(get_model_path(), "en-us", "en-us")


def dictionary_path() -> str:
    from pocketsphinx import get_model_path

    return os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict")


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    with open(dictionary_path(), encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2 or "(" in parts[0]:  # keep the first pronunciation only
                continue
            entries[parts[0]] = parts[1:]
    return entries


def spell_by_rules(word: str) -> list[str]:
    """A rough pronunciation for a word the dictionary lacks."""
    word = word.lower()
    if len(word) > 3 and word.endswith("e") and word[-2] not in "aeiouy":
        word = word[:-1]  # silent final e
    out: list[str] = []
    i = 0
    while i < len(word):
        for letters, phones in _LETTER_RULES:
            if word.startswith(letters, i):
                if letters == "c" and i + 1 < len(word) and word[i + 1] in "eiy":
                    phones = ["S"]
                if letters == "y" and i == 0:
                    phones = ["Y"]
                out.extend(phones)
                i += len(letters)
                break
        else:
            i += 1
    return out


def pronounce(word: str) -> list[str]:
    """ARPAbet phones (no stress marks) of one word."""
    w = word.lower().strip("'")
    if not w:
        return []
    if w.isdigit():
        return [p for d in w for p in pronounce(_DIGITS[int(d)])]
    entry = _dictionary().get(w)
    if entry is not None:
        return list(entry)
    return spell_by_rules(re.sub(r"[^a-z]", "", w))


def tokenize(text: str) -> list[str]:
    """Words and the punctuation marks that make pauses (, . ! ? ; :)."""
    return re.findall(r"[A-Za-z0-9']+|[,.!?;:]", text)
