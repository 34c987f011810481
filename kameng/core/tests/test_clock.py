from datetime import datetime, timedelta

import pytest
from celery import shared_task
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kameng.core import clock
from kameng.core import models as core_models
from tests.factories import UserFactory, api_client, post_json, stocked_product


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


# --- one read of the offset per unit of work (a request, a task), afresh ---------------------------------------------


def _clock_reads(queries) -> int:
    return sum("core_testclock" in q["sql"].lower() for q in queries)


def _moved_elsewhere(seconds: int) -> None:
    """Another process moves the clock: the row changes, and nothing in this process is told."""
    core_models.TestClock.objects.get_or_create(pk=1)
    core_models.TestClock.objects.filter(pk=1).update(offset_seconds=F("offset_seconds") + seconds)


@pytest.mark.django_db
def test_a_request_reads_the_clock_offset_at_most_once():
    product, client = stocked_product(keys=2), api_client(UserFactory())
    with CaptureQueriesContext(connection) as seen:
        created = post_json(
            client, "/api/v1/orders", {"sku": product.sku, "quantity": 1, "channel": "alipay"}
        )
    assert created.status_code == 201, created.content
    assert _clock_reads(seen.captured_queries) == 1


@pytest.mark.django_db
def test_a_request_sees_a_clock_moved_by_another_process_just_before_it():
    product, client = stocked_product(keys=2), api_client(UserFactory())
    body = {"sku": product.sku, "quantity": 1, "channel": "alipay"}
    before = post_json(client, "/api/v1/orders", body).json()["expires_at"]
    _moved_elsewhere(7 * 86400)
    after = post_json(client, "/api/v1/orders", body).json()["expires_at"]
    moved = datetime.fromisoformat(after) - datetime.fromisoformat(before)
    assert moved >= timedelta(days=7)


@pytest.mark.django_db
def test_a_unit_of_work_keeps_the_time_it_first_read():
    with clock.unit_of_work():
        first = clock.now()
        _moved_elsewhere(86400)
        assert clock.now() - first < timedelta(hours=1)  # the same unit: the offset read once
    with clock.unit_of_work():
        assert clock.now() - first >= timedelta(days=1)  # the next unit reads it afresh


@pytest.mark.django_db
def test_the_clock_call_itself_answers_with_the_new_time():
    with clock.unit_of_work():
        before = clock.now()
        clock.advance(seconds=3600)
        assert clock.now() - before >= timedelta(hours=1)


@pytest.mark.django_db
def test_a_celery_task_reads_the_clock_afresh():
    @shared_task
    def what_time_is_it() -> str:
        return clock.now().isoformat()

    clock.now()  # this process has the offset cached now
    _moved_elsewhere(86400)
    seen = datetime.fromisoformat(what_time_is_it.apply().get())
    assert seen - clock.local(timezone.now()) >= timedelta(days=1) - timedelta(minutes=1)
