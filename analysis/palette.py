"""Colours and the house style of every figure.

One colour-blind-safe palette, Okabe & Ito's eight colours ("Color
Universal Design", 2008), used the same way everywhere: a destination
keeps its colour in every figure (US blue, China vermillion, rest of the
world bluish green), sectors and other series take the palette in order
(yellow last: it is hard to see as a thin line on white), and past eight
series the line style changes so that colours never need to repeat alone.
"""

from cycler import cycler

BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
BLUISH_GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
REDDISH_PURPLE = "#CC79A7"

# Order for series without a fixed colour.
SERIES = (BLUE, ORANGE, BLUISH_GREEN, VERMILLION, REDDISH_PURPLE, SKY_BLUE, BLACK, YELLOW)
LINE_STYLES = ("-", "--", "-.", ":")
DESTINATIONS = {"US": BLUE, "CN": VERMILLION, "ROW": BLUISH_GREEN}
# Data points (observations) in model-vs-data figures and neutral marks.
DATA = BLACK
NEUTRAL = "0.35"
# Sequential colour map of heat maps (perceptually uniform, colour-blind safe).
SEQUENTIAL = "cividis"

STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 14,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=list(SERIES)),
}


def series_color(index):
    return SERIES[index % len(SERIES)]


def series_style(index):
    """Line style of the index-th series: solid for the first eight."""
    return LINE_STYLES[(index // len(SERIES)) % len(LINE_STYLES)]


def destination_color(name, destinations):
    """A destination's colour: fixed for US, CN and ROW; others take the
    series colours not used by those, by position in `destinations`."""
    if name in DESTINATIONS:
        return DESTINATIONS[name]
    free = [c for c in SERIES if c not in DESTINATIONS.values()]
    others = [d for d in destinations if d not in DESTINATIONS]
    return free[others.index(name) % len(free)] if name in others else free[0]
