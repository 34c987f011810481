"""Help search that understands how people ask: Chinese segmented with jieba (not substring matching), synonyms
mapped to intents, near spellings forgiven. Any way of asking to leave puts the official 退订会员 entry first."""

import difflib
import re
import threading
from functools import lru_cache

MAX_QUERY = 100
DOMAIN_WORDS = [
    "退订",
    "退订会员",
    "取消会员",
    "自动续费",
    "关闭自动续费",
    "不想续费",
    "怎么取消",
    "退款",
    "工单",
    "会员价",
]
# Words (after segmentation) → the intent they express. Each query may carry several intents.
INTENTS = {
    "cancel": {
        "退订",
        "退订会员",
        "取消",
        "取消会员",
        "自动续费",
        "关闭自动续费",
        "关闭",
        "不想续费",
        "续费",
        "怎么取消",
        "解约",
        "退会",
        "停止续费",
        "退定",
        "退会员",
        "unsubscribe",
        "cancel",
        "cancellation",
        "autorenew",
    },
    "refund": {"退款", "退钱", "退费", "refund", "money"},
    "ticket": {"工单", "客服", "人工", "投诉", "ticket", "support", "complaint"},
}
# 退款 is most often asked by someone who wants to leave: the official cancel entry answers it too.
ALSO_CANCEL = {"refund"}
_ASCII_WORDS = sorted({w for words in INTENTS.values() for w in words if w.isascii()})
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    with _lock:
        jieba.setLogLevel(60)
        for word in DOMAIN_WORDS:
            jieba.add_word(word, freq=200000)
        jieba.initialize()
    return jieba


def normalise(query: str) -> str:
    return " ".join((query or "").split())[:MAX_QUERY].lower()


@lru_cache(maxsize=4096)
def tokens(text: str) -> frozenset[str]:
    """Segmented words of the text (Chinese by jieba, ASCII by word), without punctuation and spaces."""
    words = set()
    for word in _jieba().lcut_for_search(text.lower()):
        word = word.strip()
        if word and not re.fullmatch(r"[\W_]+", word):
            words.add(word)
    return frozenset(words)


def intents(query_tokens: frozenset[str]) -> set[str]:
    found = {name for name, words in INTENTS.items() if query_tokens & words}
    for token in query_tokens:
        if token.isascii() and token.isalpha() and len(token) >= 4:  # near spellings: unsubcribe, cancle
            for match in difflib.get_close_matches(token, _ASCII_WORDS, n=1, cutoff=0.75):
                found |= {name for name, words in INTENTS.items() if match in words}
    if found & ALSO_CANCEL:
        found.add("cancel")
    return found
