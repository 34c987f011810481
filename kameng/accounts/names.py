"""User names people cannot mistake for one another: NFKC-normalised when given, and compared by their Unicode
confusable skeleton (UTS #39), so `оperator` (Cyrillic о) or `ｏｐｅｒａｔｏｒ` (full-width) is not a second
`operator`.

The skeleton comes from ICU's SpoofChecker (PyICU), the Unicode consortium's own implementation of UTS #39 with
its confusables data: we keep no table of look-alikes ourselves.
"""

import unicodedata

import icu

# One checker for the process: ICU allows concurrent skeleton calls on a checker nobody reconfigures.
_CHECKER = icu.SpoofChecker()
_TYPE = 0  # ignored since ICU 58: UTS #39 has one skeleton


def normalize_username(name: str) -> str:
    """The name as stored and looked up: NFKC folds full-width, ligature and styled forms into plain letters."""
    return unicodedata.normalize("NFKC", name)


def username_skeleton(name: str) -> str:
    """The key two names share when they look alike: the UTS #39 skeleton of the NFKC form, lower-cased (names are
    unique whatever their case) and skeletoned again, because some look-alikes are listed only for their lowercase
    form. The first skeleton comes before the lower-casing so that a capital I still reads as l (`AIice`). Not
    casefold(): it would turn a final ς into σ, which the data lists as a look-alike of o."""
    skeleton = _CHECKER.getSkeleton(_TYPE, normalize_username(name))
    return _CHECKER.getSkeleton(_TYPE, skeleton.lower())
