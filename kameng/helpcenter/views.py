from django.shortcuts import render
from django.views.decorators.http import require_safe

from kameng.core.errors import DomainError
from kameng.helpcenter import selectors


@require_safe
def index(request):
    return render(
        request, "helpcenter/index.html", {"articles": selectors.articles(), "actions": selectors.actions()}
    )


@require_safe
def article(request, slug: str):
    try:
        found = selectors.get_article(slug=slug)
    except DomainError:
        return render(request, "helpcenter/index.html", {"missing": True}, status=404)
    return render(request, "helpcenter/article.html", {"article": found})


@require_safe
def search(request):
    query = request.GET.get("q", "")[:10000]
    return render(
        request, "helpcenter/search.html", {"q": query[:100], "results": selectors.search_help(query)}
    )
