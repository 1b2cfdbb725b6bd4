"""A resolved ticket closes on a short confirmation in the customer's language; any doubt reopens it."""
from __future__ import annotations

import pytest

from chalicelib.domain import tickets
from chalicelib.domain.confirmation import MAX_WORDS, is_confirmation

CONFIRMING = [
    # en
    "yes",
    "Yes!",
    "Y",
    "Yes, thank you! It arrived this morning.",
    "Thanks!",
    "Thank you so much, all sorted",
    "Great, got it, thanks",
    "Perfect, many thanks!!",
    "yep all good",
    "Solved, cheers",
    "Thanks again!",
    "No worries, thanks a lot",
    "👍",
    "👍🏽 thanks",
    "Got it 🙏",
    # de
    "Ja",
    "Ja, danke",
    "Passt, vielen Dank!",
    "Alles klar, danke schön",
    "Super, hat geklappt. Danke nochmal!",
    "Erledigt, DANKE",
    # fr
    "Oui merci",
    "C'est bon, merci beaucoup",
    "Parfait, merci encore !",
    "Oui, c'est réglé. Merci",
    # es
    "Sí, gracias",
    "Si gracias",
    "Perfecto, muchas gracias",
    "Listo, ya llegó. Gracias!",
    "Vale, todo bien",
    # pt / it / nl
    "Sim, obrigado!",
    "Perfeito, muito obrigada",
    "Sì, grazie mille",
    "Perfetto, va bene così",
    "Ja, bedankt!",
    "Top, dank je wel",
]

SIGNED_CONFIRMING = [
    "Yes, thanks\nAnna",
    "Thanks!\n\nAnna Schmidt",
    "Ja, danke\n-- \nAnna Schmidt\nMusterstraße 5, 10115 Berlin\nTel. +49 30 1234567 (no calls after 6)",
    "Yes thank you\n\nSent from my iPhone",
    "Oui merci\n\nEnvoyé de mon iPhone",
    "Sí, gracias\nEnviado desde mi iPhone",
    "Perfect, thanks\nBest regards,\nTom",
    "Passt, danke\nLiebe Grüße\nAnna",
    "Merci beaucoup\nCordialement,\nJean Dupont",
]

REOPENING = [
    # en
    "",
    "   ",
    "no",
    "No.",
    "not yet",
    "Nope",
    "yes but the other one is missing",
    "Thanks, but it still doesn't work",
    "Yes. When will the refund arrive?",
    "Thanks! Can you also change my address?",
    "Yes but the parcel is still missing",
    "No, it is still missing.",
    "Thanks, however the box was damaged",
    "Thank you, it broke again",
    "Thanks, I want to return it",
    "Ok, I will try again tomorrow",
    "Thanks, wrong size though",
    "Yes, I'm still waiting for my refund",
    "Thanks 👎",
    "It arrived this morning.",
    "Hello, I ordered a blue shirt last week",
    "Thanks, I didn't get it",
    "Thanks\nNot yet",
    "Thanks\nNo",
    # de
    "Nein",
    "Danke, aber das Paket ist beschädigt",
    "Danke, ist noch nicht da",
    "Ja, leider fehlt ein Teil",
    "Passt nicht, falsche Größe",
    "Danke, wann kommt das Geld zurück",
    # fr
    "Non",
    "merci mais il manque un article",
    "Merci, ce n'est pas le bon article",
    "Oui, mais toujours pas reçu",
    "Merci, l'article est cassé",
    # es
    "gracias pero no llegó",
    "No funciona",
    "Gracias, sin embargo falta una pieza",
    "Sí, pero todavía no tengo el reembolso",
    "Gracias, el paquete llegó dañado",
    # pt / it / nl
    "Obrigado, mas ainda não chegou",
    "Grazie, ma manca un pezzo",
    "Sì, ma non funziona ancora",
    "Bedankt, maar het pakket is kapot",
    "Nee, nog niet ontvangen",
]


@pytest.mark.parametrize("text", CONFIRMING)
def test_a_short_yes_or_thank_you_confirms(text: str) -> None:
    assert is_confirmation(text)


@pytest.mark.parametrize("text", SIGNED_CONFIRMING)
def test_a_sign_off_under_the_confirmation_is_harmless(text: str) -> None:
    assert is_confirmation(text)


@pytest.mark.parametrize("text", REOPENING)
def test_a_question_a_doubt_or_a_new_request_reopens(text: str) -> None:
    assert not is_confirmation(text)


@pytest.mark.parametrize("text", [*CONFIRMING, *SIGNED_CONFIRMING])
@pytest.mark.parametrize("mark", ["?", "¿", "？"])
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_any_question_mark_reopens(text: str, mark: str, where: str) -> None:
    """Given a reply that would confirm, when a question mark is added anywhere, then it reopens."""
    middle = len(text) // 2
    asked = {"start": mark + text, "middle": text[:middle] + mark + text[middle:], "end": text + mark}[where]
    assert not is_confirmation(asked)


def test_a_question_mark_far_below_a_signature_still_reopens() -> None:
    assert not is_confirmation("Yes thanks\n-- \n" + "x" * 5000 + "?")


def test_a_long_message_reopens_even_when_it_is_friendly() -> None:
    friendly = " ".join(["Thanks"] + ["lovely"] * MAX_WORDS)
    assert not is_confirmation(friendly)
    assert is_confirmation(" ".join(["Thanks"] + ["lovely"] * (MAX_WORDS - 1)))


def test_a_message_longer_than_what_is_read_reopens() -> None:
    assert not is_confirmation("Yes thanks " + "a" * 400)


@pytest.mark.parametrize("text", [
    "yes " * 250_000,
    "Thanks " + "x" * 1_000_000,
    "a" * 1_000_000,
    "Yes thanks\n-- \n" + "Anna\n" * 200_000,
    "\n" * 1_000_000 + "yes",
    "👍" * 300_000,
])
def test_a_megabyte_of_input_is_read_only_as_far_as_needed(text: str) -> None:
    """Only a bounded prefix is tokenised, so a huge body costs no more than a short one."""
    assert isinstance(is_confirmation(text), bool)


def test_tickets_still_exports_the_rule_other_modules_import() -> None:
    assert tickets.is_confirmation is is_confirmation
