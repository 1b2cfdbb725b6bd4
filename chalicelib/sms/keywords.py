"""Carrier keywords: a text that is exactly STOP, START or HELP (or a synonym) is an instruction, not a question."""
from __future__ import annotations

import unicodedata
from enum import StrEnum


class Keyword(StrEnum):
    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"
    HELP = "help"


# The opt-out words carriers and AWS End User Messaging honour (ARRET is French, TD Québec's "texte désabonner").
OPT_OUT_WORDS = frozenset({"STOP", "ARRET", "CANCEL", "END", "OPT-OUT", "OPTOUT", "QUIT", "REMOVE", "TD",
                           "UNSUBSCRIBE"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP"})
# Phones add a full stop or an exclamation mark; "Stop!" means the same as "STOP".
_TRAILING = ".!?¡¿ \t\r\n"


def _folded(text: str) -> str:
    # "Arrêt" and "ARRET" are the same word to the customer who types it.
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def keyword(body: str) -> Keyword | None:
    """The keyword the whole message is (trimmed, case-insensitive), or None for an ordinary text."""
    word = _folded(body.strip().strip(_TRAILING))
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS:
        return Keyword.OPT_IN
    if word in HELP_WORDS:
        return Keyword.HELP
    return None
