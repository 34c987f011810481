from ninja import Router, Schema
from pydantic import ConfigDict

from kameng.core.api import WITH_PARAMS, answers
from kameng.helpcenter import selectors

router = Router(tags=["help"])


class ResultOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"title": "退订会员", "url": "/member/cancel/", "kind": "action", "pinned": True}]
        }
    )

    title: str
    url: str
    kind: str
    pinned: bool


class SearchOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {"title": "退订会员", "url": "/member/cancel/", "kind": "action", "pinned": True},
                        {
                            "title": "如何退订会员",
                            "url": "/help/how-to-cancel/",
                            "kind": "article",
                            "pinned": False,
                        },
                        {
                            "title": "自动续费说明",
                            "url": "/help/auto-renew/",
                            "kind": "article",
                            "pinned": False,
                        },
                    ]
                }
            ]
        }
    )

    results: list[ResultOut]


@router.get("/help/search", **answers({200: SearchOut}, *WITH_PARAMS), auth=None)
def search(request, q: str = ""):
    """Help search: Chinese is segmented; 退订, 取消会员, 自动续费, 退款, unsubscribe, cancel … all put the official
    退订会员 entry first (`pinned`)."""
    found = selectors.search_help(q[:10000])
    return {"results": [{"title": r.title, "url": r.url, "kind": r.kind, "pinned": r.pinned} for r in found]}
