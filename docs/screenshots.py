"""Takes the README's screenshots: a fresh demo instance served by gunicorn, driven by Debian's Chromium.

.venv/bin/python docs/screenshots.py        # writes docs/screenshots/*.png
"""

import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
PORT = 8799
BASE = f"http://127.0.0.1:{PORT}"


def main() -> None:
    env = {
        **os.environ,
        "KAMENG_INSTANCE_DIR": tempfile.mkdtemp(prefix="kameng-shots-"),
        "KAMENG_PUBLIC_URL": BASE,
        "KAMENG_HTTP_INPROCESS": "1",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "KAMENG_LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, "manage.py"]
    for args in (["migrate", "--noinput"], ["load_demo"], ["collectstatic", "--noinput"]):
        subprocess.run(manage + args, cwd=ROOT, env=env, check=True, capture_output=True)
    password = secrets.token_urlsafe(12)
    for name, role in (("alice", "member"), ("ops", "operator")):
        subprocess.run(
            [*manage, "shell", "-c", f"from kameng.accounts.services import register_user; "
             f"register_user(username='{name}', password='{password}', email='{name}@example.com', role='{role}')"],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--threads",
            "4",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(f"{BASE}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        shoot(password)
    finally:
        server.terminate()


def shoot(password: str) -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
        )
        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, locale="zh-CN", device_scale_factor=1
        )
        page = phone.new_page()
        page.goto(f"{BASE}/")
        page.screenshot(path=OUT / "shop.png", full_page=True)
        login(page, "alice", password)
        page.goto(f"{BASE}/member/plans/")
        page.locator("#auto-renew-vip-month").check()
        page.screenshot(path=OUT / "plans.png", full_page=True)
        page.click("#plan-vip-month button[type=submit]")
        page.click("text=同意并签约")
        page.wait_for_url("**/member/")
        page.reload()
        page.screenshot(path=OUT / "member-centre.png", full_page=True)
        page.goto(f"{BASE}/member/cancel/")
        page.screenshot(path=OUT / "cancel.png", full_page=True)
        page.click("button[value=end_of_period]")
        page.wait_for_selector("#receipt")
        page.screenshot(path=OUT / "receipt.png", full_page=True)
        page.goto(f"{BASE}/help/search?q=不想续费")
        page.screenshot(path=OUT / "help-search.png", full_page=True)
        desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = desktop.new_page()
        login(page, "ops", password)
        page.goto(f"{BASE}/console/")
        page.screenshot(path=OUT / "console.png", full_page=False)
        browser.close()


def login(page, name: str, password: str) -> None:
    page.goto(f"{BASE}/accounts/login/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


if __name__ == "__main__":
    main()
