#!/usr/bin/env python3
"""Take the README's screenshots from a demo server, with headless Chromium.

    python3 scripts/screenshots.py [--out docs/screenshots] [--url http://127.0.0.1:8069]

Without ``--url``, starts ``./scripts/run`` on a free port (with ``--fresh --demo`` when its
``--help`` lists them, else as it is: a throwaway demo), waits for it, logs in with the demo
logins (login = password) and saves 1280x800 PNG screenshots:

- ``billing.png``: the client's billing portal (``/my/billing``, harper);
- ``trust_ledger.png``: a matter's trust ledger in the portal (harper);
- ``invoice_payment.png``: an open invoice's payment page, the Pay Now dialog (harper);
- ``payment_plan.png``: the payment plan awaiting the client's acceptance (harper);
- ``matter_form.png``: the back-office matter form (trust.manager).

Chromium is driven over the DevTools protocol by ``tests/e2e/browser.py``. A PNG larger than
300 KB is reduced to 256 colours. The server it started is stopped (Ctrl-C) at the end.
"""

import argparse
import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.e2e.browser import BrowserError, Chromium  # noqa: E402

WIDTH, HEIGHT = 1280, 800
MAX_BYTES = 300 * 1024
READY_TIMEOUT = 900  # a fresh demo database is installed first


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_flags():
    """``--fresh --demo`` when ``scripts/run`` knows them, else none (its own demo)."""
    help_text = subprocess.run(  # noqa: S603
        [sys.executable, os.path.join(ROOT, "scripts", "run"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return ["--fresh", "--demo"] if "--fresh" in help_text and "--demo" in help_text else []


def wait_until_serving(url, process, timeout=READY_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"error: scripts/run exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/web/login", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(2)
    raise SystemExit(f"error: no demo server answered on {url} within {timeout}s")


class Camera:
    """A Chromium tab of 1280x800 that waits for what it shows, then takes it."""

    def __init__(self, browser, out_dir):
        self.browser = browser
        self.out_dir = out_dir
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )

    def wait_for(self, selector, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = self.browser.evaluate(
                    f"""(() => {{
                        const el = document.querySelector({json.dumps(selector)});
                        return !!(el && el.offsetParent !== null);
                    }})()"""
                )
            except BrowserError:
                found = False
            if found:
                return
            time.sleep(0.3)
        raise BrowserError(f"{selector} did not show on {self.browser.url}")

    def href(self, selector):
        self.wait_for(selector)
        return self.browser.evaluate(f"document.querySelector({json.dumps(selector)}).href")

    def click(self, selector, text="", inner="a"):
        """Click the first element matching ``selector`` whose text contains ``text`` (its
        first ``inner`` element when it has one)."""
        self.wait_for(selector)
        clicked = self.browser.evaluate(
            f"""(() => {{
                const el = [...document.querySelectorAll({json.dumps(selector)})]
                    .find(node => node.innerText.includes({json.dumps(text)}));
                if (el) (el.querySelector({json.dumps(inner)}) || el).click();
                return !!el;
            }})()"""
        )
        if not clicked:
            raise BrowserError(f"no {selector} with {text!r} on {self.browser.url}")

    def login(self, login):
        """Log in with a demo login (password = login) through the login form."""
        print(f"[screenshots] logging in as {login}", flush=True)
        self.browser.goto("/web/session/logout")
        self.browser.goto("/web/login")
        before = self.browser.url
        # The form is hidden until the page's scripts run: submit it without them.
        self.browser.evaluate(
            f"""(() => {{
                const form = document.querySelector('form.oe_login_form');
                form.querySelector('[name=login]').value = {json.dumps(login)};
                form.querySelector('[name=password]').value = {json.dumps(login)};
                form.submit();
            }})()"""
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                url = self.browser.url
            except BrowserError:
                url = before
            if (
                "/web/login" not in url
                and self.browser.evaluate("document.readyState") == "complete"
            ):
                return
            time.sleep(0.3)
        raise BrowserError(f"{login} could not log in")

    def shoot(self, name, selector=None):
        if selector:
            self.wait_for(selector)
        time.sleep(1.0)  # fonts, fade-in of dialogs
        data = self.browser.send("Page.captureScreenshot", format="png")["data"]
        png = base64.b64decode(data)
        if len(png) > MAX_BYTES:
            png = reduce_png(png)
        path = os.path.join(self.out_dir, name)
        with open(path, "wb") as file:
            file.write(png)
        print(f"[screenshots] {os.path.relpath(path, ROOT)} ({len(png) // 1024} KB)", flush=True)


def reduce_png(png):
    """The same picture in 256 colours (Pillow is one of Odoo's own requirements)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    reduced = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    reduced.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def take_screenshots(base_url, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with Chromium(base_url, timeout=240) as browser:
        camera = Camera(browser, out_dir)
        # The client: Sam Harper of Harper Logistics.
        camera.login("harper")
        browser.goto("/my/billing")
        camera.shoot("billing.png", ".o_legal_billing")
        browser.goto("/my/matters")
        camera.click("tr", "supply contract")
        camera.shoot("trust_ledger.png", ".o_trust_balance")
        browser.goto("/my/invoices")
        invoice_url = browser.evaluate(
            """(() => {
                const rows = [...document.querySelectorAll('tr')]
                    .filter(row => row.innerText.includes('2,750.00'));
                const link = rows.length && rows[0].querySelector("a[href*='/my/invoices/']");
                return link ? link.href : null;
            })()"""
        )
        if not invoice_url:
            raise BrowserError("the demo invoice of 2,750.00 is not in Harper's invoices")
        separator = "&" if "?" in invoice_url else "?"
        browser.goto(f"{invoice_url}{separator}payment=True#portal_pay")
        camera.shoot("invoice_payment.png", "#pay_with .modal-body")
        browser.goto("/my/payment_plans")
        browser.goto(camera.href("a[href^='/my/payment_plans/']"))
        camera.shoot("payment_plan.png")
        # The firm: the trust manager opens a matter.
        camera.login("trust.manager")
        browser.goto("/odoo/action-legal_trust.action_legal_matter")
        camera.click(".o_list_view .o_data_row", "supply contract", inner=".o_data_cell")
        camera.shoot("matter_form.png", ".o_form_view .o_form_sheet")


def main(argv):
    parser = argparse.ArgumentParser(prog="scripts/screenshots.py", description=__doc__)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "screenshots"))
    parser.add_argument("--url", help="a running demo server instead of starting one")
    args = parser.parse_args(argv)
    server = None
    base_url = args.url
    try:
        if not base_url:
            port = free_port()
            flags = run_flags()
            command = [os.path.join(ROOT, "scripts", "run"), "--port", str(port), *flags]
            print(f"[screenshots] starting {' '.join(command[-3 - len(flags):])}", flush=True)
            server = subprocess.Popen(command, cwd=ROOT, start_new_session=True)  # noqa: S603
            base_url = f"http://127.0.0.1:{port}"
        wait_until_serving(base_url.rstrip("/"), server)
        take_screenshots(base_url.rstrip("/"), os.path.abspath(args.out))
        return 0
    except BrowserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGINT)  # scripts/run stops Odoo and its cluster
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
