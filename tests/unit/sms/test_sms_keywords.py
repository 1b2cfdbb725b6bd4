"""Keywords are the whole trimmed message, case-insensitive; anything else is a question for an agent."""
from __future__ import annotations

import pytest

from chalicelib.sms.keywords import Keyword, keyword


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop \n", "Stop.", "STOP!", "ARRET", "Arrêt", "cancel", "END",
                                  "OPT-OUT", "optout", "Quit", "remove", "TD", "Unsubscribe"])
def test_opt_out_words(text: str) -> None:
    assert keyword(text) is Keyword.OPT_OUT


@pytest.mark.parametrize("text", ["START", "start", "Unstop", " UNSTOP "])
def test_opt_in_words(text: str) -> None:
    assert keyword(text) is Keyword.OPT_IN


def test_help() -> None:
    assert keyword("help") is Keyword.HELP and keyword("HELP!") is Keyword.HELP


@pytest.mark.parametrize("text", ["Please stop sending me the wrong size", "stop it", "STOP STOP", "STOPP", "help me",
                                  "I want to cancel my order", "", "   ", "start date?", "END of story"])
def test_a_keyword_inside_a_sentence_is_a_question(text: str) -> None:
    assert keyword(text) is None
