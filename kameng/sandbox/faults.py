"""Injected faults at the sandbox gateway's server APIs, to prove the shop converges when a channel misbehaves.

KAMENG_SANDBOX_FAULT_RATE (0..1) of calls fail: half answer HTTP 500 before doing anything, half do the work and
then lose the answer (HTTP 500 after the work, or, with KAMENG_SANDBOX_FAULT_DELAY seconds set, an answer slower
than the shop's timeout). The second kind is the dangerous one: the money moved and the shop was not told.
KAMENG_SANDBOX_LATENCY_MS slows every call, so a sweep lasts long enough to be interrupted. Off by default.
"""

import random
import threading
import time
from collections import Counter
from functools import wraps

from django.conf import settings
from django.http import HttpResponse

_dice = random.Random()  # noqa: S311 (chaos, not cryptography)
# Per process: how many of each fault were served, so a test knows it was tested.
injected: Counter = Counter()
# Calls still being answered (a late answer sleeps past the shop's timeout in a live server's thread), so a test
# can wait for none before its database is emptied under them.
_answering = 0
_answering_lock = threading.Lock()


def calls_being_answered() -> int:
    return _answering


def reseed(seed: int) -> None:
    """Tests make the fault sequence repeatable."""
    _dice.seed(seed)


def faulty(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        global _answering
        with _answering_lock:
            _answering += 1
        try:
            return _answer(view, request, *args, **kwargs)
        finally:
            with _answering_lock:
                _answering -= 1

    return wrapper


def _answer(view, request, *args, **kwargs):
    latency = settings.KAMENG_SANDBOX_LATENCY_MS
    if latency:
        time.sleep(latency / 1000)
    rate = settings.KAMENG_SANDBOX_FAULT_RATE
    roll = _dice.random() if rate > 0 else 1.0
    if roll < rate / 2:
        injected["before"] += 1
        return HttpResponse("injected fault: nothing was done", status=500, content_type="text/plain")
    response = view(request, *args, **kwargs)
    if roll < rate:
        injected["after"] += 1
        if settings.KAMENG_SANDBOX_FAULT_DELAY:
            time.sleep(settings.KAMENG_SANDBOX_FAULT_DELAY)
            return response
        return HttpResponse("injected fault: done, answer lost", status=500, content_type="text/plain")
    return response
