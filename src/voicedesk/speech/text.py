"""Text normalisation for comparing transcripts, and word error rate.

A recognizer writes "4572", "3:30 p.m." or "It's"; espeak said "four five seven two",
"three thirty pm", "it is". ``normalize`` maps both sides to one form before any match:

1. lower case; "$500" -> "500 dollars" (also £ pounds, € euros); "a.m."/"p.m." (and "p m"
   after a number) -> "am"/"pm"; "%" -> " percent"; thousands separators ("1,000") and a
   time's colon ("3:30") dropped; every other character but letters, digits, apostrophes
   and a decimal point between digits becomes a space;
2. a few contractions expanded ("it's" -> "it is", "i'm" -> "i am", "don't" -> "do not"…,
   see CONTRACTIONS) and "ok" -> "okay";
3. spelled-out numbers become digits: "twenty one" -> "21", "three hundred and five" -> "305",
   "oh" between digits is 0, "point" between numbers is a decimal point; ordinals too:
   "fourth" -> "4th", "twenty first" -> "21st";
4. numbers next to each other are joined: "four five seven two" -> "4572", "4 5 7 2" ->
   "4572", "three thirty" -> "330" (= "3:30"), "nineteen eighty four" -> "1984".

Step 4 makes a spoken digit string, a time and a year compare equal to how a
recognizer writes them; it also joins two numbers that were meant apart ("two four
hour shifts" -> "24 hour shifts"), which both sides then share.

``wer`` is the word error rate of a hypothesis against a reference after normalising
both: (substitutions + deletions + insertions) / reference words (jiwer's definition; a
dozen lines here instead of a dependency with a compiled extension).
"""

from __future__ import annotations

import re

UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
CURRENCIES = {"$": "dollars", "£": "pounds", "€": "euros"}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
CONTRACTIONS = {
    "i'm": "i am",
    "it's": "it is",
    "that's": "that is",
    "what's": "what is",
    "there's": "there is",
    "he's": "he is",
    "she's": "she is",
    "you're": "you are",
    "we're": "we are",
    "they're": "they are",
    "i've": "i have",
    "you've": "you have",
    "we've": "we have",
    "i'll": "i will",
    "you'll": "you will",
    "we'll": "we will",
    "i'd": "i would",
    "don't": "do not",
    "doesn't": "does not",
    "didn't": "did not",
    "isn't": "is not",
    "aren't": "are not",
    "wasn't": "was not",
    "can't": "can not",
    "cannot": "can not",
    "won't": "will not",
    "let's": "let us",
    "ok": "okay",
}


def _spelled(tokens: list[str]) -> list[str]:
    """Spelled-out numbers as digit strings; other tokens unchanged."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] not in UNITS and tokens[i] not in TENS:
            out.append(tokens[i])
            i += 1
            continue
        if tokens[i] == "zero":  # never the start of a longer number: "zero five" is 05
            out.append("0")
            i += 1
            continue
        total, current, j = 0, 0, i
        while j < len(tokens):
            word = tokens[j]
            if word in UNITS and word != "zero":
                value = UNITS[word]
                fresh = current % 100 == 0  # nothing yet, or just after "hundred"
                after_tens = current % 100 >= 20 and current % 10 == 0 and value < 10
                if not (fresh or after_tens):
                    break  # "four five": a second number (joined later as digits)
                current += value
            elif word in TENS:
                if current % 100:
                    break  # "nineteen eighty"
                current += TENS[word]
            elif word == "hundred" and 0 < current < 100:
                current *= 100
            elif word in ("thousand", "million") and current:
                total += current * SCALES[word]
                current = 0
            elif (
                word == "and"
                and current % 100 == 0
                and (total or current)
                and j + 1 < len(tokens)
                and (tokens[j + 1] in TENS or (tokens[j + 1] in UNITS and tokens[j + 1] != "zero"))
            ):
                pass  # "three hundred and five"
            else:
                break
            j += 1
        out.append(str(total + current))
        i = j
    return out


def _ordinal(value: int) -> str:
    suffix = "th" if value % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
    return f"{value}{suffix}"


def _ordinals(tokens: list[str]) -> list[str]:
    """Spelled ordinals as a recognizer writes them: "fourth" -> "4th", "twenty first" -> "21st"."""
    out: list[str] = []
    for token in tokens:
        value = ORDINALS.get(token)
        if value is None:
            out.append(token)
        elif value < 10 and out and out[-1] in TENS:
            out[-1] = _ordinal(TENS[out[-1]] + value)
        else:
            out.append(_ordinal(value))
    return out


def _joined(tokens: list[str]) -> list[str]:
    """Adjacent numbers joined into one digit string; "oh" between numbers is 0; "point" a decimal point."""
    out: list[str] = []
    for i, token in enumerate(tokens):
        prev = out[-1] if out else ""
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        is_number = bool(re.fullmatch(r"\d+(\.\d+)?", token))
        if token == "oh" and prev.isdigit() and nxt[:1].isdigit():
            out[-1] = prev + "0"
        elif token == "point" and prev.isdigit() and nxt.isdigit():
            out[-1] = prev + "."
        elif is_number and (re.fullmatch(r"\d+\.?", prev) and prev):
            out[-1] = prev + token
        else:
            out.append(token)
    return out


def normalize(text: str) -> str:
    """The form transcripts are compared in (see the module's docstring)."""
    text = text.lower()
    for sign, name in CURRENCIES.items():  # "$500" is said "five hundred dollars"
        text = re.sub(rf"{re.escape(sign)}\s?(\d[\d,]*(?:\.\d+)?)", rf"\1 {name}", text)
    text = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", text)
    text = text.replace("%", " percent")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000
    text = re.sub(r"(?<=\d):(?=\d\d\b)", "", text)  # 3:30
    text = re.sub(r"[’‘]", "'", text)
    text = re.sub(r"(?<=\d)\.(?=\d)", "\0", text)  # keep 3.5 through the next line
    text = re.sub(r"[^a-z0-9'\0]+", " ", text).replace("\0", ".")
    words: list[str] = []
    for token in text.split():
        token = token.strip("'")
        if token:
            words.extend(CONTRACTIONS.get(token, token).split())
    tokens = _joined(_spelled(_ordinals(words)))
    out: list[str] = []
    for token in tokens:  # "3 p m" -> "3 pm" (a spelled-out pm after a time)
        if token == "m" and out and out[-1] in ("a", "p") and len(out) > 1 and out[-2][:1].isdigit():
            out[-1] += "m"
        else:
            out.append(token)
    return " ".join(out)


def contains(transcript: str, expected: str) -> bool:
    """``expected`` appears in ``transcript``, both normalised ("4572" in "… four five seven two …")."""
    return normalize(expected) in normalize(transcript)


def edit_counts(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance over words."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference``, both normalised first.

    An empty reference gives 0.0 for an empty hypothesis and 1.0 otherwise."""
    ref, hyp = normalize(reference).split(), normalize(hypothesis).split()
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_counts(ref, hyp) / len(ref)
