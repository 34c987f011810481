"""User names are NFKC-normalised when registered and when signing in, and a name that looks like a taken one
(same UTS #39 confusable skeleton) is refused with a message saying what to do."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from kameng.accounts.models import User
from kameng.accounts.names import normalize_username, username_skeleton
from tests.factories import PASSWORD, UserFactory, post_json

CYRILLIC_OPERATOR = "\u043eperator"  # о (U+043E CYRILLIC SMALL LETTER O) + "perator"
FULL_WIDTH_OPERATOR = "ｏｐｅｒａｔｏｒ"


def register(username: str, language: str = "zh-hans"):
    return post_json(
        Client(headers={"Accept-Language": language}),
        "/api/v1/auth/register",
        {"username": username, "password": PASSWORD, "email": "someone@example.com"},
    )


@pytest.mark.django_db
def test_a_cyrillic_look_alike_of_a_taken_name_is_refused_and_nobody_is_created():
    UserFactory(username="operator")
    response = register(CYRILLIC_OPERATOR)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "username_confusable"
    assert "请换一个" in response.json()["error"]["message"]
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_the_look_alike_refusal_reads_in_english_with_what_to_do():
    UserFactory(username="operator")
    message = register(CYRILLIC_OPERATOR, language="en").json()["error"]["message"]
    assert message.startswith("This username looks the same as an existing one")
    assert "choose one that cannot be mistaken" in message


@pytest.mark.django_db
@pytest.mark.parametrize("look_alike", ["0perator", "OPERATOR", "ΟΡΕRΑΤΟR", "𝐨𝐩𝐞𝐫𝐚𝐭𝐨𝐫", "opеrator"])
def test_other_look_alikes_of_a_taken_name_are_refused(look_alike):
    UserFactory(username="operator")
    assert register(look_alike).status_code == 409
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_a_full_width_name_is_stored_in_its_plain_form():
    response = register(FULL_WIDTH_OPERATOR)
    assert response.status_code == 201
    assert response.json()["username"] == "operator"
    assert User.objects.get().username == "operator"


@pytest.mark.django_db
def test_a_full_width_copy_of_a_taken_name_is_taken():
    UserFactory(username="operator")
    assert register(FULL_WIDTH_OPERATOR).json()["error"]["code"] == "username_taken"


@pytest.mark.django_db
def test_the_register_page_refuses_a_look_alike_with_the_message():
    UserFactory(username="operator")
    response = Client().post(
        "/accounts/register/", {"username": CYRILLIC_OPERATOR, "email": "c@example.com", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert "看起来一样" in response.content.decode()
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_names_that_merely_differ_are_still_accepted():
    UserFactory(username="operator")
    for name in ["operators", "李明", "op3rator", "xiaoming"]:
        assert register(name).status_code == 201, name


@pytest.mark.django_db
def test_signing_in_with_the_full_width_form_of_a_name_finds_the_account():
    UserFactory(username="operator")
    client = Client()
    response = client.post("/accounts/login/", {"username": FULL_WIDTH_OPERATOR, "password": PASSWORD})
    assert response.status_code == 302
    token = post_json(Client(), "/api/v1/auth/token", {"username": FULL_WIDTH_OPERATOR, "password": PASSWORD})
    assert token.status_code == 200


@pytest.mark.django_db
def test_an_account_registered_before_normalising_still_signs_in_with_its_name_as_stored():
    User.objects.filter(pk=UserFactory(username="x").pk).update(username=FULL_WIDTH_OPERATOR)
    UserFactory(username="operator")
    legacy = post_json(
        Client(), "/api/v1/auth/token", {"username": FULL_WIDTH_OPERATOR, "password": PASSWORD}
    )
    assert legacy.status_code == 200


@pytest.mark.django_db
def test_every_saved_user_carries_the_skeleton_of_its_name():
    user = UserFactory(username="Alice")
    assert User.objects.filter(username_skeleton=username_skeleton("AIice")).get() == user
    user.username = CYRILLIC_OPERATOR
    user.save(update_fields=["username"])
    assert User.objects.get(pk=user.pk).username_skeleton == "operator"


SKELETON_MIGRATION = ("accounts", "0005_username_skeleton")


@pytest.mark.django_db(transaction=True)
def test_the_migration_backfills_the_skeleton_of_existing_names():
    executor = MigrationExecutor(connection)
    before = [parent.key for parent in executor.loader.graph.node_map[SKELETON_MIGRATION].parents]
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    old_apps.get_model("accounts", "User").objects.create(username=CYRILLIC_OPERATOR, password="x")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert User.objects.get().username_skeleton == "operator"


# Properties, over generated names and look-alike variants (a table written from the Unicode charts, independent of
# the ICU data the code uses). It lists characters that still look alike after NFKC, the form names are kept in:
# ϲ (lunate sigma), say, is a look-alike of c that NFKC turns into the letter ς, which is not one.

LOOK_ALIKES = {
    "a": ["а", "ａ", "𝐚", "ɑ"],
    "c": ["с", "ｃ", "ⅽ"],
    "e": ["е", "ｅ", "𝐞"],
    "i": ["і", "ｉ", "ı"],
    "j": ["ј", "ｊ"],
    "l": ["I", "ｌ", "1", "ǀ"],
    "o": ["о", "ο", "ｏ", "𝐨", "0"],
    "p": ["р", "ρ", "ｐ"],
    "s": ["ѕ", "ｓ"],
    "x": ["х", "ｘ", "×"],
    "y": ["у", "ｙ"],
    "m": ["rn", "ｍ"],
}
plain_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=24)


@st.composite
def name_and_look_alike(draw):
    name = draw(plain_names)
    swaps = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    variant = "".join(
        draw(st.sampled_from(LOOK_ALIKES[c])) if swap and c in LOOK_ALIKES else c
        for c, swap in zip(name, swaps, strict=True)
    )
    return name, variant


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_normalising_a_name_twice_changes_nothing(name):
    once = normalize_username(name)
    assert normalize_username(once) == once


@given(name_and_look_alike())
@settings(max_examples=300, deadline=None)
def test_a_look_alike_variant_has_the_skeleton_of_the_name(pair):
    name, variant = pair
    assert username_skeleton(variant) == username_skeleton(name)


@given(plain_names)
@settings(max_examples=100, deadline=None)
def test_the_skeleton_ignores_case_except_that_a_capital_i_reads_as_l(name):
    assert username_skeleton(name.upper()) == username_skeleton(name.replace("i", "l"))
