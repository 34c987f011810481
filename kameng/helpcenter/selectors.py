from dataclasses import dataclass

from django.db.models import QuerySet

from kameng.core.errors import DomainError
from kameng.helpcenter import search
from kameng.helpcenter.error_codes import HelpErrorCode
from kameng.helpcenter.models import ActionEntry, Article


@dataclass(frozen=True)
class SearchResult:
    title: str
    url: str
    kind: str  # "action" | "article"
    pinned: bool
    score: int


def articles() -> QuerySet[Article]:
    return Article.objects.filter(is_published=True)


def actions() -> QuerySet[ActionEntry]:
    return ActionEntry.objects.filter(is_active=True)


def get_article(*, slug: str) -> Article:
    found = articles().filter(slug=slug).first()
    if found is None:
        raise DomainError(HelpErrorCode.UNKNOWN_ARTICLE)
    return found


def _overlap(query_tokens: frozenset[str], text: str) -> int:
    return len(query_tokens & search.tokens(text))


def search_help(query: str) -> list[SearchResult]:
    """Pinned action entries for the query's intents first, then actions and articles by segmented-word overlap
    (title 3, keywords 2, body 1). An empty query lists the action entries."""
    text = search.normalise(query)
    if not text:
        return [SearchResult(a.title, a.url, "action", False, 0) for a in actions()]
    query_tokens = search.tokens(text)
    wanted = search.intents(query_tokens)
    results: list[SearchResult] = []
    for action in actions():
        pinned = bool(wanted & {p.strip() for p in action.pinned_for.split(",") if p.strip()})
        score = 3 * _overlap(query_tokens, action.title) + 2 * _overlap(query_tokens, action.keywords)
        if pinned or score:
            results.append(SearchResult(action.title, action.url, "action", pinned, score))
    for article in articles():
        score = (
            3 * _overlap(query_tokens, article.title)
            + 2 * _overlap(query_tokens, article.keywords)
            + _overlap(query_tokens, article.body)
        )
        if score:
            results.append(SearchResult(article.title, f"/help/{article.slug}/", "article", False, score))
    return sorted(results, key=lambda r: (not r.pinned, -r.score, r.kind != "action"))
