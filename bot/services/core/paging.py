"""Paging of list answers: which page was asked for, which rows it holds, and whether another follows.

Lists page like the public pool: the handler adds « Previous / Next » buttons whose payload is the same command
line with `--page N` (bot/handlers/paging.py)."""
from dataclasses import dataclass

PAGE_SIZE = 30
MAX_PAGE = 100_000


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    size: int
    shown: int  # rows on this page
    total: int | None  # all rows, when the list counts them
    has_next: bool

    @property
    def first(self) -> int:
        """The position (1-based) of this page's first row."""
        return (self.number - 1) * self.size + 1

    @property
    def last(self) -> int:
        return self.first + self.shown - 1

    @property
    def beyond_end(self) -> bool:
        """Asked for a page after the last one."""
        return self.shown == 0 and self.number > 1


def number(page_no: int | None) -> int:
    return max(1, min(page_no or 1, MAX_PAGE))


def offset(page_no: int, size: int = PAGE_SIZE) -> int:
    return (page_no - 1) * size


def of_total(page_no: int, shown: int, total: int, size: int = PAGE_SIZE) -> Page:
    """A page of a counted list."""
    return Page(page_no, size, shown, total, offset(page_no, size) + shown < total)


def of_rows(page_no: int, total: int, size: int = PAGE_SIZE) -> Page:
    """A page of a list built whole in memory: rows[page.first - 1 : page.last] are shown."""
    shown = max(0, min(size, total - offset(page_no, size)))
    return of_total(page_no, shown, total, size)


def of_probe(page_no: int, fetched: int, size: int = PAGE_SIZE) -> Page:
    """A page of a list read with one row more than a page (LIMIT size + 1) to learn whether another follows."""
    return Page(page_no, size, min(fetched, size), None, fetched > size)
