"""Whether a customer's reply to "reply yes and we will close the ticket" confirms, in the store's languages."""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable

# The rule: a reply confirms when it carries a confirming word (yes, thanks, perfect, solved …) or a
# thumbs-up, and nothing that could mean the customer still needs us: no question mark, no negation,
# no contrast ("but"), no problem or request word, and at most MAX_WORDS words. Getting it wrong one
# way costs an agent a glance at a reopened ticket; the other way loses a customer's problem in the
# archive, so every doubt reopens.

MAX_CHARS = 300  # only this much of a reply is read, so any input costs the same
MAX_LINES = 8  # non-empty lines of what the customer wrote, sign-off included
MAX_WORDS = 25

# Words are written naturally here and compared case- and accent-insensitively (see _fold).
CONFIRMING: dict[str, tuple[str, ...]] = {
    "en": ("yes", "yeah", "yep", "yup", "ok", "okay", "sure", "thanks", "thank", "thx", "ty", "cheers",
           "great", "perfect", "perfectly", "excellent", "awesome", "brilliant", "wonderful", "fantastic",
           "lovely", "amazing", "superb", "solved", "resolved", "sorted", "fixed", "confirmed", "confirm"),
    "de": ("ja", "jawohl", "jep", "klar", "danke", "dank", "dankeschön", "passt", "super", "prima", "perfekt",
           "toll", "klasse", "spitze", "bestens", "wunderbar", "erledigt", "gelöst", "geklärt", "bestätigt"),
    "fr": ("oui", "ouais", "merci", "parfait", "parfaitement", "génial", "excellent", "super", "top", "nickel",
           "résolu", "réglé", "confirmé"),
    "es": ("sí", "vale", "gracias", "perfecto", "perfecta", "genial", "excelente", "estupendo", "listo",
           "resuelto", "solucionado", "confirmado"),
    "pt": ("sim", "obrigado", "obrigada", "valeu", "perfeito", "perfeita", "ótimo", "ótima", "excelente",
           "resolvido", "confirmado"),
    "it": ("grazie", "perfetto", "perfetta", "ottimo", "ottima", "benissimo", "risolto", "confermato"),
    "nl": ("bedankt", "dankjewel", "dankuwel", "dankje", "perfect", "prima", "top", "opgelost", "geweldig"),
}

# "y" and "k" are a whole reply on a phone, but elsewhere they are "and" (es, fr "il y a") or noise.
BARE_CONFIRMING = ("y", "k", "kk")

NEGATIONS: dict[str, tuple[str, ...]] = {
    # Apostrophes split words, so "doesn't" arrives as "doesn" + "t".
    "en": ("no", "not", "nope", "nah", "never", "nothing", "none", "nobody", "neither", "nor", "cannot", "cant",
           "don", "dont", "doesn", "doesnt", "didn", "didnt", "isn", "isnt", "wasn", "wasnt", "aren", "arent",
           "weren", "haven", "havent", "hasn", "hasnt", "hadn", "won", "wouldn", "couldn", "shouldn", "ain"),
    "de": ("nein", "nicht", "nichts", "nie", "niemals", "kein", "keine", "keinen", "keinem", "keiner", "keines",
           "ne", "nö"),
    "fr": ("non", "ne", "n", "pas", "jamais", "rien", "aucun", "aucune", "nan"),
    "es": ("no", "nunca", "nada", "ningún", "ninguno", "ninguna", "tampoco", "ni"),
    "pt": ("não", "nunca", "nada", "nenhum", "nenhuma", "nem"),
    "it": ("no", "non", "mai", "niente", "nulla", "nessun", "nessuno", "nessuna", "né"),
    "nl": ("nee", "niet", "geen", "nooit", "niets", "niks"),
}

CONTRASTS: dict[str, tuple[str, ...]] = {
    "en": ("but", "however", "although", "though", "except", "unfortunately", "only", "yet", "instead"),
    "de": ("aber", "doch", "jedoch", "allerdings", "leider", "trotzdem", "nur", "sondern", "außer", "statt",
           "stattdessen"),
    "fr": ("mais", "cependant", "pourtant", "toutefois", "malheureusement", "sauf", "seulement", "sinon"),
    "es": ("pero", "sin", "embargo", "aunque", "lamentablemente", "desafortunadamente", "excepto", "solo", "sólo"),
    "pt": ("mas", "porém", "contudo", "entretanto", "infelizmente", "exceto", "apenas"),
    "it": ("ma", "però", "tuttavia", "purtroppo", "tranne", "invece"),
    "nl": ("maar", "echter", "helaas", "behalve", "alleen", "toch"),
}

# Problems, "still"/"again", refunds and returns, and the words that start a new request or question.
PROBLEMS: dict[str, tuple[str, ...]] = {
    "en": ("missing", "broken", "broke", "damaged", "wrong", "incorrect", "faulty", "defective", "cracked",
           "still", "again", "refund", "refunded", "return", "returned", "returning", "exchange", "replace",
           "replacement", "cancel", "cancelled", "canceled", "problem", "problems", "issue", "issues", "error",
           "lost", "late", "delayed", "stopped", "fail", "failed", "fails", "complaint", "charged", "twice",
           "money", "bad", "terrible", "awful", "disappointed", "unhappy", "worse", "worst", "wait",
           "waiting", "try", "tried", "trying", "other", "another", "also", "change", "address", "question",
           "questions", "need", "want", "can", "could", "would", "should", "must", "send", "resend", "when",
           "where", "why", "which", "unless"),
    "de": ("fehlt", "fehlen", "fehlend", "fehlende", "fehlte", "kaputt", "beschädigt", "defekt", "falsch",
           "falsche", "falschen", "immer", "noch", "wieder", "erneut", "nochmal", "nochmals", "erstattung",
           "rückerstattung", "geld", "zurück", "umtausch", "umtauschen", "storno", "stornieren", "problem",
           "probleme", "fehler", "verloren", "verspätet", "reklamation", "beschwerde", "warte", "warten",
           "versucht", "andere", "anderen", "anderes", "weitere", "weiteren", "auch", "ändern", "adresse",
           "frage", "fragen", "brauche", "möchte", "kann", "können", "könnten", "könnt", "schicken", "senden",
           "wann", "wo", "warum", "wieso", "weshalb", "welche", "welcher", "wie"),
    "fr": ("manque", "manquant", "manquante", "manquent", "cassé", "cassée", "abîmé", "abîmée", "endommagé",
           "endommagée", "défectueux", "défectueuse", "faux", "mauvais", "mauvaise", "erreur", "toujours",
           "encore", "remboursement", "rembourser", "remboursé", "retour", "retourner", "échange", "échanger",
           "annuler", "annulation", "problème", "problèmes", "souci", "soucis", "perdu", "retard", "attends",
           "attendre", "essayé", "autre", "autres", "aussi", "changer", "modifier", "adresse", "question",
           "besoin", "voudrais", "pouvez", "pourriez", "envoyer", "renvoyer", "quand", "où", "pourquoi",
           "quel", "quelle", "quels", "quelles"),
    "es": ("falta", "faltan", "faltaba", "roto", "rota", "dañado", "dañada", "defectuoso", "defectuosa", "mal",
           "equivocado", "equivocada", "incorrecto", "todavía", "aún", "sigue", "denuevo", "reembolso",
           "devolución", "devolver", "cambio", "cambiar", "cancelar", "problema", "problemas", "error",
           "perdido", "retraso", "espero", "esperando", "otro", "otra", "otros", "otras", "también",
           "dirección", "pregunta", "necesito", "quiero", "puede", "pueden", "podría", "podrían", "enviar",
           "cuándo", "dónde", "cuál"),
    "pt": ("faltando", "quebrado", "quebrada", "danificado", "danificada", "defeito", "errado", "errada",
           "ainda", "novamente", "denovo", "reembolso", "devolução", "troca", "trocar", "problema", "erro",
           "atraso", "atrasado", "outro", "outra", "também", "endereço", "preciso", "quero", "pode", "podem",
           "poderia", "quando", "onde"),
    "it": ("manca", "mancano", "mancante", "rotto", "rotta", "danneggiato", "danneggiata", "difettoso",
           "sbagliato", "sbagliata", "ancora", "dinuovo", "rimborso", "reso", "restituire", "cambiare",
           "annullare", "problema", "errore", "perso", "ritardo", "altro", "altra", "anche", "indirizzo",
           "domanda", "vorrei", "potete", "potreste", "quando", "dove", "perché"),
    "nl": ("mist", "ontbreekt", "ontbreken", "kapot", "beschadigd", "defect", "verkeerd", "verkeerde", "nog",
           "steeds", "weer", "opnieuw", "nogmaals", "terugbetaling", "terugsturen", "ruilen", "annuleren",
           "probleem", "fout", "kwijt", "vertraagd", "ander", "andere", "ook", "adres", "vraag", "wil", "kunt",
           "kunnen", "wanneer", "waar", "waarom"),
}

# Multi-word expressions, folded to one token before the words above are looked up ("" drops them).
PHRASES: dict[str, str] = {
    "thank you": "thanks", "thank u": "thanks", "got it": "gotit", "all good": "allgood", "all set": "allgood",
    "no worries": "", "once again": "again",
    "alles klar": "klar", "alles gut": "allgood", "noch mal": "nochmal",
    "noch einmal": "nochmal",
    "c est bon": "cestbon", "ça marche": "camarche", "très bien": "allgood", "d accord": "daccord",
    "pas de souci": "", "pas de soucis": "",
    "todo bien": "allgood", "muy bien": "allgood", "de nuevo": "denuevo",
    "otra vez": "denuevo", "una vez más": "denuevo",
    "tudo bem": "allgood", "tudo certo": "allgood", "de novo": "denovo",
    "va bene": "allgood", "tutto bene": "allgood", "di nuovo": "dinuovo",
    "alles goed": "allgood", "dank je": "dankje", "dank u": "dankuwel",
}
PHRASE_CONFIRMING = ("gotit", "allgood", "cestbon", "camarche", "daccord")

# "Thanks again" thanks; "it broke again" does not. An again-word next to a thank-you is harmless.
THANKS = ("thanks", "thank", "thx", "cheers", "danke", "dank", "dankeschön", "merci", "gracias", "obrigado",
          "obrigada", "grazie", "bedankt", "dankjewel", "dankuwel", "dankje")
AGAIN = ("again", "nochmal", "nochmals", "wieder", "erneut", "encore", "denuevo", "novamente", "denovo",
         "ancora", "dinuovo", "opnieuw", "weer", "nogmaals")

POSITIVE_EMOJI = "👍👌🙏✅✔☺😊🙂😀😃😄😁😍🥰❤♥💯🎉👏🤗🥳😉💪⭐🌟💚💙💛🧡💜"
NEGATIVE_EMOJI = "👎😞😟😠😡🙁☹😢😭😕🤬😤😩😫😒🤔❌⚠😐"
QUESTION_MARKS = "?¿？؟"

# Lines a mail client adds under the text; they and everything after them are not the customer's words.
SIGNATURE_STARTS = (
    "sent from ", "sent via ", "get outlook for", "von meinem ", "gesendet von ", "gesendet mit ",
    "envoye de mon ", "envoye depuis ", "enviado desde ", "enviado de mi", "enviado do meu ", "enviado de meu",
    "inviato da ", "verzonden met ", "verzonden vanaf ", "verstuurd vanaf ",
)
# A last line that starts like this is a sign-off ("Best, Anna"), not a remark.
CLOSINGS = (
    "best", "best regards", "kind regards", "regards", "all the best", "bye",
    "mit freundlichen grussen", "freundliche grusse", "viele grusse", "liebe grusse", "beste grusse",
    "gruss", "grusse", "lg", "mfg", "vg", "cordialement", "bien cordialement", "bonne journee", "a bientot",
    "bises", "saludos", "un saludo", "atentamente", "cumprimentos", "abracos", "atenciosamente",
    "cordiali saluti", "saluti", "met vriendelijke groet", "groeten", "groetjes",
)


def _fold(text: str) -> str:
    """Lower case without accents, so "Beschädigt", "beschadigt" and "BESCHÄDIGT" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _words(text: str) -> list[str]:
    """Folded words: runs of letters and digits; apostrophes, punctuation and emoji separate them."""
    words: list[str] = []
    current: list[str] = []
    for ch in _fold(text):
        if ch.isalnum():
            current.append(ch)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def _folded_set(groups: Iterable[Iterable[str]]) -> frozenset[str]:
    return frozenset(word for group in groups for phrase in group for word in _words(phrase))


_CONFIRMING = _folded_set([*CONFIRMING.values(), PHRASE_CONFIRMING])
_BARE = _folded_set([BARE_CONFIRMING])
_VETO = _folded_set([*NEGATIONS.values(), *CONTRASTS.values(), *PROBLEMS.values()])
_THANKS = _folded_set([THANKS])
_AGAIN = _folded_set([AGAIN])
_PHRASES = {tuple(_words(phrase)): _fold(token) for phrase, token in PHRASES.items()}
_PHRASE_LENGTHS = sorted({len(key) for key in _PHRASES}, reverse=True)
_CLOSINGS = tuple(tuple(_words(closing)) for closing in CLOSINGS)


def is_confirmation(visible_text: str) -> bool:
    """A customer's short "yes"/"thanks" to "is this solved?"; a question, a doubt or a long message reopens."""
    text = visible_text.strip()
    if not text or any(mark in text for mark in QUESTION_MARKS):
        return False
    lines = _customer_lines(text)
    if lines is None or not lines or len(lines) > MAX_LINES:
        return False
    lines = _without_sign_off(lines)
    body = "\n".join(lines)
    if any(ch in NEGATIVE_EMOJI for ch in body):
        return False
    words = _words(body)
    if len(words) > MAX_WORDS:
        return False
    if len(words) == 1 and words[0] in _BARE:
        return True
    tokens = _without_thanks_again(_joined_phrases(words))
    if any(token in _VETO for token in tokens):
        return False
    return any(token in _CONFIRMING for token in tokens) or any(ch in POSITIVE_EMOJI for ch in body)


def _customer_lines(text: str) -> list[str] | None:
    """The non-empty lines above any signature; None when the text runs past what is read without one."""
    window = text[:MAX_CHARS]
    lines: list[str] = []
    for line in window.splitlines():
        stripped = line.strip()
        if _is_signature_start(stripped):
            return lines
        if stripped and not stripped.startswith(">"):
            lines.append(stripped)
    return lines if len(text) <= MAX_CHARS else None


def _is_signature_start(line: str) -> bool:
    if line in ("--", "—", "__") or (len(line) >= 2 and set(line) <= set("-_=")):
        return True
    folded = _fold(line)
    return folded.startswith(SIGNATURE_STARTS)


def _without_sign_off(lines: list[str]) -> list[str]:
    """Drop up to two trailing lines that are a closing ("Best regards") or a name ("Anna Schmidt")."""
    kept = list(lines)
    for _ in range(2):
        if len(kept) < 2 or not _is_sign_off(kept[-1]):
            break
        kept.pop()
    return kept


def _is_sign_off(line: str) -> bool:
    words = _words(line)
    # A line that says something to the rule ("No", "Many thanks") is never dropped as a sign-off.
    if not words or any(word in _VETO or word in _CONFIRMING for word in words):
        return False
    if any(tuple(words[: len(closing)]) == closing and len(words) - len(closing) <= 3 for closing in _CLOSINGS):
        return True
    # A name: up to three capitalised words of letters.
    names = [name.strip(".,;:!") for name in line.split()]
    return len(names) <= 3 and all(name.isalpha() and name[0].isupper() for name in names)


def _joined_phrases(words: list[str]) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(words):
        for length in _PHRASE_LENGTHS:
            token = _PHRASES.get(tuple(words[i : i + length]))
            if token is not None:
                if token:
                    tokens.append(token)
                i += length
                break
        else:
            tokens.append(words[i])
            i += 1
    return tokens


def _without_thanks_again(tokens: list[str]) -> list[str]:
    def beside_thanks(i: int) -> bool:
        return (i > 0 and tokens[i - 1] in _THANKS) or (i + 1 < len(tokens) and tokens[i + 1] in _THANKS)

    return [token for i, token in enumerate(tokens) if not (token in _AGAIN and beside_thanks(i))]
