"""Configuration is read once, in config/: importing the settings writes nothing, the entry points prepare the
instance folder, and every environment variable keeps its name and meaning."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import instance

ROOT = Path(__file__).resolve().parents[2]
# Variables of this test run that a fresh installation would not have.
RUN_ONLY = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL", "KAMENG_ENV", "DJANGO_SECRET_KEY"}


def fresh_env(folder: Path, **env: str) -> dict[str, str]:
    """A fresh installation's environment: nothing configured but the instance folder."""
    inherited = {k: v for k, v in os.environ.items() if k not in RUN_ONLY and not k.startswith("KAMENG_")}
    return {**inherited, "KAMENG_INSTANCE_DIR": str(folder), **env}


def python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own manage.py)
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("module", ["config.settings", "config.settings.test"])
def test_importing_the_settings_on_a_fresh_machine_writes_nothing(tmp_path, module):
    folder = tmp_path / "instance"
    result = python(f"import {module}", fresh_env(folder))
    assert result.returncode == 0, result.stderr
    assert not folder.exists()


def test_the_first_command_generates_the_embedded_secrets_once_and_the_settings_read_them(tmp_path):
    folder = tmp_path / "instance"
    env = fresh_env(folder)
    show = "from django.conf import settings; print(settings.SECRET_KEY); print(settings.KAMENG_CARD_KEY)"

    first = manage("shell", "--no-imports", "-c", show, env=env)
    second = manage("shell", "--no-imports", "-c", show, env=env)

    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert first.stdout.split() == [(folder / "secret_key").read_text(), (folder / "card_key").read_text()]
    for name in ("secret_key", "card_key"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in (folder / "celery-queue").iterdir()) == ["control", "out", "processed"]


def test_processes_starting_together_on_a_fresh_machine_agree_on_one_secret(tmp_path):
    folder = tmp_path / "instance"
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", "from config import instance; instance.prepare()"],
            cwd=ROOT,
            env=fresh_env(folder),
        )
        for _ in range(6)
    ]
    assert [start.wait(timeout=60) for start in starts] == [0] * 6
    # One secret each, and no half-written or temporary file left beside them.
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == ["card_key", "secret_key"]


def test_secrets_given_in_the_environment_are_never_generated(tmp_path, monkeypatch):
    monkeypatch.setenv("KAMENG_INSTANCE_DIR", str(tmp_path))
    monkeypatch.delenv("KAMENG_ENV", raising=False)
    monkeypatch.setenv("DJANGO_SECRET_KEY", "s" * 50)
    monkeypatch.setenv("KAMENG_CARD_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
    instance.prepare()
    assert not (tmp_path / "secret_key").exists() and not (tmp_path / "card_key").exists()


def test_production_generates_no_secret_and_no_folder_queue(tmp_path, monkeypatch):
    monkeypatch.setenv("KAMENG_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("KAMENG_ENV", "production")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    monkeypatch.delenv("KAMENG_CARD_KEY", raising=False)
    instance.prepare()
    assert [p.name for p in tmp_path.iterdir()] == ["staticfiles"]


def test_channel_credentials_keep_their_environment_variables(tmp_path):
    key_file = tmp_path / "alipay-app.pem"
    key_file.write_text("-----APP PRIVATE KEY-----\n")
    env = fresh_env(
        tmp_path / "instance",
        KAMENG_ALIPAY_APP_ID="2021001",
        KAMENG_ALIPAY_APP_PRIVATE_KEY_FILE=str(key_file),
        KAMENG_ALIPAY_PUBLIC_KEY="-----ALIPAY PUBLIC KEY-----",
        KAMENG_WECHAT_MCHID="1900001",
        KAMENG_WECHAT_APPID="wx01",
        KAMENG_WECHAT_MERCHANT_SERIAL="SERIAL-M",
        KAMENG_WECHAT_MERCHANT_PRIVATE_KEY="-----MERCHANT PRIVATE KEY-----",
        KAMENG_WECHAT_PLATFORM_SERIAL="PUB_KEY_ID_1",
        KAMENG_WECHAT_PLATFORM_PUBLIC_KEY="-----PLATFORM PUBLIC KEY-----",
        KAMENG_WECHAT_APIV3_KEY="a" * 32,
        KAMENG_WECHAT_APIV2_KEY="b" * 32,
        KAMENG_WECHAT_PAPAY_PLAN_1M="12535",
        KAMENG_WECHAT_PAPAY_PLAN_12M="12537",
    )
    result = python("import json, config.settings as s; print(json.dumps(s.KAMENG_CHANNELS))", env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "alipay": {
            "app_id": "2021001",
            "app_private_key_pem": "-----APP PRIVATE KEY-----\n",
            "alipay_public_key_pem": "-----ALIPAY PUBLIC KEY-----",
            "gateway_url": "https://openapi.alipay.com/gateway.do",
        },
        "wechat": {
            "mchid": "1900001",
            "appid": "wx01",
            "merchant_serial": "SERIAL-M",
            "merchant_private_key_pem": "-----MERCHANT PRIVATE KEY-----",
            "platform_public_keys": {"PUB_KEY_ID_1": "-----PLATFORM PUBLIC KEY-----"},
            "apiv3_key": "a" * 32,
            "apiv2_key": "b" * 32,
            "api_base": "https://api.mch.weixin.qq.com",
            "papay_plan_ids": {"1": 12535, "12": 12537},  # WeChat's plan_id is an integer
            "server_ip": "127.0.0.1",
            "native_enabled": False,
        },
    }


def test_wechat_platform_keys_of_a_rotation_come_from_a_map_a_folder_and_the_old_pair(tmp_path):
    folder = tmp_path / "wechat-keys"
    folder.mkdir()
    (folder / "PUB_KEY_ID_2.pem").write_text("-----KEY 2-----")
    env = fresh_env(
        tmp_path / "instance",
        KAMENG_WECHAT_MCHID="1900001",
        KAMENG_WECHAT_PLATFORM_KEYS=json.dumps({"PUB_KEY_ID_3": "-----KEY 3-----"}),
        KAMENG_WECHAT_PLATFORM_KEYS_DIR=str(folder),
        KAMENG_WECHAT_PLATFORM_SERIAL="PUB_KEY_ID_1",
        KAMENG_WECHAT_PLATFORM_PUBLIC_KEY="-----KEY 1-----",
    )
    result = python("import json, config.settings as s; print(json.dumps(s.KAMENG_CHANNELS))", env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["wechat"]["platform_public_keys"] == {
        "PUB_KEY_ID_1": "-----KEY 1-----",
        "PUB_KEY_ID_2": "-----KEY 2-----",
        "PUB_KEY_ID_3": "-----KEY 3-----",
    }


def test_a_wechat_template_id_that_is_not_an_integer_is_named(tmp_path):
    env = fresh_env(tmp_path / "instance", KAMENG_WECHAT_MCHID="1900001", KAMENG_WECHAT_PAPAY_PLAN_1M="P1")
    result = python("import config.settings", env)
    assert result.returncode != 0 and "KAMENG_WECHAT_PAPAY_PLAN_1M" in result.stderr


def test_an_unprepared_instance_folder_is_named_by_the_system_check(tmp_path):
    # Django started without an entry point that prepares the folder (django-admin with --settings).
    result = subprocess.run(
        [sys.executable, "-m", "django", "check", "--settings=config.settings"],
        cwd=ROOT,
        env=fresh_env(tmp_path / "instance"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "kameng.E001" in result.stderr and "KAMENG_CARD_KEY is empty" in result.stderr
