"""Takes the README's screenshots: a fresh demo instance served by gunicorn, driven by Debian's Chromium.

make screenshots        # = .venv/bin/python docs/screenshots.py; writes docs/screenshots/*.png

Besides the README's images it shoots the member centre, the cancel confirmation, the receipt and the console
dashboard in Chinese and in English, at phone width (390x844) and desktop width (1280x800):
<page>.<zh|en>.<phone|desktop>.png, e.g. member-centre.zh.phone.png. Every PNG is kept under 300 KB.
"""

import io
import json
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
LANGUAGES = {"zh": "zh-CN", "en": "en-US"}  # file-name tag: browser locale (sent as Accept-Language)
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
MAX_BYTES = 300_000


def main() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},  # always a fresh SQLite demo
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
        server.wait(timeout=30)


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
        shot(page, "shop.png")
        login(page, "alice", password)
        page.goto(f"{BASE}/member/plans/")
        page.locator("#auto-renew-vip-month").check()
        shot(page, "plans.png")
        page.click("#plan-vip-month button[type=submit]")
        page.click("text=同意并签约")
        page.wait_for_url("**/member/")
        buy_as_vip("alice", password, staff_token=token("ops", password))  # savings for the member centre
        page.reload()
        shot(page, "member-centre.png")
        member_pages = {"member-centre": "/member/", "cancel": "/member/cancel/"}
        each_language_and_size(browser, "alice", password, member_pages)
        page.goto(f"{BASE}/member/cancel/")
        shot(page, "cancel.png")
        page.click("button[value=end_of_period]")
        page.wait_for_selector("#receipt")
        shot(page, "receipt.png")
        receipt = page.url.removeprefix(BASE)
        each_language_and_size(browser, "alice", password, {"receipt": receipt})
        page.goto(f"{BASE}/help/search?q=不想续费")
        shot(page, "help-search.png")
        desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = desktop.new_page()
        login(page, "ops", password)
        page.goto(f"{BASE}/console/")
        shot(page, "console.png", full_page=False)
        each_language_and_size(browser, "ops", password, {"console": "/console/"})
        browser.close()


def each_language_and_size(browser, name: str, password: str, pages: dict[str, str]) -> None:
    """<page>.<lang>.<size>.png for each page, in each language, at each width; one login per language."""
    for lang, locale in LANGUAGES.items():
        context = browser.new_context(viewport=SIZES["phone"], locale=locale, device_scale_factor=1)
        page = context.new_page()
        login(page, name, password)
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            for title, path in pages.items():
                page.goto(f"{BASE}{path}")
                shot(page, f"{title}.{lang}.{size}.png")
        context.close()


def shot(page, file_name: str, *, full_page: bool = True) -> None:
    """A screenshot, made smaller if need be: a lossless re-encode first, then a 256-colour palette."""
    from PIL import Image

    image = Image.open(io.BytesIO(page.screenshot(full_page=full_page)))
    for attempt in (image, image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)):
        encoded = io.BytesIO()
        attempt.save(encoded, format="PNG", optimize=True)
        if encoded.tell() <= MAX_BYTES:
            break
    (OUT / file_name).write_bytes(encoded.getvalue())
    print(f"{file_name}: {encoded.tell() // 1024} KB")


def token(name: str, password: str) -> str:
    return call("POST", "/api/v1/auth/token", {"username": name, "password": password})["token"]


def buy_as_vip(name: str, password: str, *, staff_token: str) -> None:
    """The member buys a card at the VIP price through the API and the sandbox pays it; the sweeps (a staff
    member's hook) deliver what each step queued."""
    call("POST", "/api/v1/sandbox/run-due", token=staff_token)  # the sign notification and first charge land
    order = call(
        "POST",
        "/api/v1/orders",
        {"sku": "steam-wallet-50", "quantity": 1, "channel": "alipay"},
        token=token(name, password),
    )
    call("POST", f"/sandbox/pay/{order['order_no']}")
    call("POST", "/api/v1/sandbox/run-due", token=staff_token)


def call(method: str, path: str, body: dict | None = None, *, token: str = "") -> dict:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    request = urllib.request.Request(
        f"{BASE}{path}", data=json.dumps(body or {}).encode(), headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read().decode()
    try:
        return json.loads(text)
    except ValueError:
        return {}


def login(page, name: str, password: str) -> None:
    page.goto(f"{BASE}/accounts/login/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


if __name__ == "__main__":
    main()
