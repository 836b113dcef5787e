"""Date normalisation, the sequence-to-sequence task: many surface forms -> ISO 8601.

    "3 March 2021", "03/03/21", "Wednesday, March 3, 2021", "the 3rd of March 2021"
        -> "2021-03-03"

The source and target are character strings of different lengths, so the task needs an
encoder-decoder; the target is short and rigid, so attention learns a readable alignment.

Everything is locale-independent: month and weekday names come from the tables below, never
from ``strftime`` (whose ``%B``/``%A`` follow the machine's locale). Two conventions keep every
source string unambiguous:

- all-numeric dates are day first (``dd/mm/yy``, ``d.m.yyyy``) unless they start with a
  four-digit year (``yyyy/mm/dd``, ``yyyymmdd``);
- two-digit years mean 1950-2049 (``yy < 50`` -> 20yy), and dates are drawn from that range.

``parse_date`` is a hand-written normaliser for every format here: the rule-based baseline a
learned model is compared with, and the check that every generated pair is right.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Callable, Sequence

import numpy as np

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FIRST_DATE, LAST_DATE = dt.date(1950, 1, 1), dt.date(2049, 12, 31)


def ordinal(day: int) -> str:
    """1 -> "1st", 2 -> "2nd", 3 -> "3rd", 11 -> "11th", 22 -> "22nd"."""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _month(d: dt.date) -> str:
    return MONTHS[d.month - 1]


def _weekday(d: dt.date) -> str:
    return WEEKDAYS[d.weekday()]


#: name -> renderer, with the rendering of 2021-03-03 as the name's example.
DATE_FORMATS: dict[str, Callable[[dt.date], str]] = {
    "3 March 2021": lambda d: f"{d.day} {_month(d)} {d.year}",
    "03 Mar 2021": lambda d: f"{d.day:02d} {_month(d)[:3]} {d.year}",
    "March 3, 2021": lambda d: f"{_month(d)} {d.day}, {d.year}",
    "Mar 3, 2021": lambda d: f"{_month(d)[:3]} {d.day}, {d.year}",
    "Wednesday, March 3, 2021": lambda d: f"{_weekday(d)}, {_month(d)} {d.day}, {d.year}",
    "Wed, 3 Mar 2021": lambda d: f"{_weekday(d)[:3]}, {d.day} {_month(d)[:3]} {d.year}",
    "3rd March 2021": lambda d: f"{ordinal(d.day)} {_month(d)} {d.year}",
    "March 3rd, 2021": lambda d: f"{_month(d)} {ordinal(d.day)}, {d.year}",
    "the 3rd of March 2021": lambda d: f"the {ordinal(d.day)} of {_month(d)} {d.year}",
    "MARCH 3 2021": lambda d: f"{_month(d).upper()} {d.day} {d.year}",
    "3-mar-21": lambda d: f"{d.day}-{_month(d)[:3].lower()}-{d.year % 100:02d}",
    "03/03/21": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year % 100:02d}",
    "03/03/2021": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    "3.3.2021": lambda d: f"{d.day}.{d.month}.{d.year}",
    "2021/03/03": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    "20210303": lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
}


def format_date(date: dt.date, fmt: str) -> str:
    """``date`` in the surface format named ``fmt`` (a key of ``DATE_FORMATS``)."""
    return DATE_FORMATS[fmt](date)


def random_dates(n: int, seed: int = 0, first: dt.date = FIRST_DATE, last: dt.date = LAST_DATE) -> list[dt.date]:
    """``n`` dates drawn uniformly from [first, last], seeded."""
    offsets = np.random.default_rng(seed).integers(0, (last - first).days + 1, size=n)
    return [first + dt.timedelta(days=int(k)) for k in offsets]


def date_pairs(n: int, seed: int = 0, formats: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """``n`` (source, target) string pairs: a random date in a random format of ``formats``
    (default: all of ``DATE_FORMATS``) and its ISO form "yyyy-mm-dd". Same seed, same pairs."""
    formats = list(DATE_FORMATS) if formats is None else list(formats)
    rng = np.random.default_rng([seed, 1])
    choice = rng.integers(0, len(formats), size=n)
    return [(format_date(d, formats[k]), d.isoformat()) for d, k in zip(random_dates(n, seed), choice)]


_MONTH_NUMBER = {name.lower(): i + 1 for i, name in enumerate(MONTHS)}
_MONTH_NUMBER.update({name[:3].lower(): i + 1 for i, name in enumerate(MONTHS)})
_NOISE = re.compile(r"\b(" + "|".join(w.lower() for w in WEEKDAYS) + "|" +
                    "|".join(w[:3].lower() for w in WEEKDAYS) + r"|the|of)\b|,")


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:
        return 2000 + y if y < 50 else 1900 + y
    return y


def parse_date(text: str) -> str:
    """The ISO form of a date written in any format of ``DATE_FORMATS``; ``ValueError`` if
    ``text`` is not one (or names a day that does not exist)."""
    s = _NOISE.sub(" ", text.lower())
    s = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", s)
    words = s.replace("-", " ").split()
    try:
        if len(words) == 1 and re.fullmatch(r"\d{8}", words[0]):  # yyyymmdd
            w = words[0]
            return dt.date(int(w[:4]), int(w[4:6]), int(w[6:])).isoformat()
        if len(words) == 1 and re.fullmatch(r"\d+[/.]\d+[/.]\d+", words[0]):
            a, b, c = re.split(r"[/.]", words[0])
            if len(a) == 4:  # yyyy/mm/dd
                return dt.date(int(a), int(b), int(c)).isoformat()
            return dt.date(_year(c), int(b), int(a)).isoformat()  # day first
        if len(words) == 3:
            months = [i for i, w in enumerate(words) if w in _MONTH_NUMBER]
            if len(months) == 1 and all(w.isdigit() for i, w in enumerate(words) if i != months[0]):
                m = _MONTH_NUMBER[words[months[0]]]
                day, year = [w for i, w in enumerate(words) if i != months[0]]
                return dt.date(_year(year), m, int(day)).isoformat()
    except ValueError:
        pass
    raise ValueError(f"not a date in a known format: {text!r}")
