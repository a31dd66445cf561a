"""The shapes every instrument shares, and the few helpers their scorers use.

Kept apart from ``__init__`` so that each instrument's module can import them without importing
the registry that imports it; ``patients.instruments`` re-exports every name here.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

# Sex as recorded for screening: "" is unknown (AUDIT-C then applies the cautious threshold).
SEXES = ("female", "male", "")


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    options: tuple[Option, ...]
    # An unscored item (BAM's 7A–7G) is optional and counts towards no total or subscale.
    scored: bool = True

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(option.value for option in self.options)


@dataclass(frozen=True)
class Band:
    key: str
    label: str
    low: int  # inclusive
    high: int  # inclusive
    severe: bool = False
    # The sexes the band applies to; empty for every sex. Only AUDIT-C's bands depend on sex.
    sexes: tuple[str, ...] = ()

    def contains(self, total: int, *, sex: str = "") -> bool:
        return self.low <= total <= self.high and (not self.sexes or sex in self.sexes)


@dataclass(frozen=True)
class Score:
    total: int | None
    band: str  # a Band key, "" when the instrument has no bands
    subscales: dict[str, int]
    safety: tuple[str, ...]  # flags such as "self_harm_thoughts"
    severe: bool  # the band is a severe one

    @property
    def flagged(self) -> bool:
        """The safety net's rule: a safety flag or a severe band."""
        return bool(self.safety) or self.severe


Scorer = Callable[[dict[str, int], str], Score]


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    short_name: str
    administered_by: Literal["patient", "clinician"]
    period: str
    instructions: str
    items: tuple[Item, ...]
    bands: tuple[Band, ...]
    max_total: int | None  # None: the instrument has no total (BAM)
    scorer: Scorer = field(repr=False)
    source: str = field(repr=False)

    def item(self, key: str) -> Item:
        """The item ``key``; KeyError for a key that is not one of the instrument's."""
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    @property
    def scored_items(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.scored)


def band_of(instrument: Instrument, total: int, *, sex: str = "") -> Band | None:
    """The band ``total`` falls in (for ``sex`` where bands depend on it), None outside all."""
    return next((band for band in instrument.bands if band.contains(total, sex=sex)), None)


def sum_of(answers: dict[str, int], keys: Iterable[str]) -> int:
    return sum(answers[key] for key in keys)


def banded(
    instrument: Instrument, total: int, *, sex: str = "", safety: tuple[str, ...] = ()
) -> Score:
    """The score of an instrument whose result is one total in one band."""
    band = band_of(instrument, total, sex=sex)
    return Score(
        total=total,
        band=band.key if band else "",
        subscales={},
        safety=safety,
        severe=bool(band and band.severe),
    )
