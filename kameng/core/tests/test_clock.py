from datetime import timedelta

import pytest
from django.utils import timezone

from kameng.core import clock


@pytest.mark.django_db
def test_now_is_aware_and_in_shanghai():
    moment = clock.now()
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(hours=8)


@pytest.mark.django_db
def test_advancing_the_sandbox_clock_moves_now_and_persists_the_offset():
    before = clock.now()
    assert clock.advance(seconds=3600) == 3600
    assert clock.advance(seconds=60) == 3660
    clock.forget_cached_offset()
    assert clock.now() - before >= timedelta(seconds=3660)


@pytest.mark.django_db
def test_the_clock_never_goes_backwards():
    with pytest.raises(ValueError):
        clock.advance(seconds=-1)


def test_the_test_clock_does_not_exist_outside_the_sandbox(settings):
    settings.KAMENG_SANDBOX = False
    with pytest.raises(PermissionError):
        clock.advance(seconds=1)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        clock.local(timezone.now().replace(tzinfo=None))
