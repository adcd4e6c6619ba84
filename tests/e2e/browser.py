"""A client's browser for the end-to-end suite: headless Chromium driven over the DevTools
protocol (``websocket-client``, already a test requirement for Odoo's own tours).

Stripe.js cannot load here (no network but loopback): pages that would mount Stripe's card
element are read by the browser, and the card confirmation is played by the harness against
the Stripe emulator, as Stripe.js would.
"""

import base64
import itertools
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-allow-origins=*",
    "--remote-debugging-port=0",
]


def _lift_memory_limit():
    """In the browser's process, before it starts: no address-space limit of the test
    process. pytest-odoo's in-process server (``--odoo-http``) sets ``RLIMIT_AS`` to Odoo's
    ``limit_memory_hard``, in which Chromium (V8 reserves far more address space than it
    uses) dies before opening its DevTools port."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless Chromium with one tab; ``with Chromium(base_url) as browser: ...``."""

    def __init__(self, base_url, timeout=30):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._ids = itertools.count(1)
        self.proc = None
        self.ws = None
        self.profile = None

    # === Lifecycle === #

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        binary = chromium_path()
        if not binary:
            raise BrowserError("Chromium is not installed (Debian package chromium)")
        self.profile = tempfile.mkdtemp(prefix="legal-e2e-chromium-")
        self.proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_lift_memory_limit,  # noqa: PLW1509 - no thread runs in the child
        )
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + self.timeout
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BrowserError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(open(port_file).read().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            pages = [t for t in json.load(resp) if t.get("type") == "page"]
        if not pages:
            self.stop()
            raise BrowserError("Chromium opened no tab")
        self.ws = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=self.timeout, suppress_origin=True
        )
        self.send("Page.enable")
        self.send("Runtime.enable")

    def stop(self):
        if self.ws is not None:
            try:
                self.ws.close()
            except OSError:
                pass
            self.ws = None
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, 15)
                    self.proc.wait(10)
                except (OSError, subprocess.TimeoutExpired):
                    os.killpg(self.proc.pid, 9)
                    self.proc.wait(10)
            self.proc = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    # === Protocol === #

    def send(self, method, **params):
        message_id = next(self._ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
        raise BrowserError(f"{method}: no answer in {self.timeout}s")

    def evaluate(self, expression, await_promise=False):
        result = self.send(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=await_promise,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    # === What a client does === #

    @property
    def url(self):
        return self.evaluate("window.location.href")

    def text(self):
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def _wait_loaded(self, previous_url=None):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                ready = self.evaluate("document.readyState")
                href = self.evaluate("window.location.href")
            except BrowserError:
                ready, href = None, None  # the page is being replaced
            if ready == "complete" and (previous_url is None or href != previous_url):
                return href
            time.sleep(0.1)
        raise BrowserError(f"the page did not load in {self.timeout}s")

    def goto(self, path_or_url):
        url = path_or_url if "://" in path_or_url else f"{self.base_url}{path_or_url}"
        self.send("Page.navigate", url=url)
        time.sleep(0.1)
        return self._wait_loaded()

    def submit(self, form_selector, values=None):
        """Fill the form's inputs (``{name: value}``) and submit it as the client would."""
        before = self.url
        fill = json.dumps(values or {})
        self.evaluate(
            f"""(() => {{
                const form = document.querySelector({json.dumps(form_selector)});
                if (!form) throw new Error('no form ' + {json.dumps(form_selector)});
                const values = {fill};
                for (const [name, value] of Object.entries(values)) {{
                    const input = form.querySelector(`[name="${{name}}"]`);
                    if (!input) throw new Error('no input ' + name);
                    input.value = value;
                }}
                form.requestSubmit ? form.requestSubmit() : form.submit();
            }})()"""
        )
        return self._wait_loaded(previous_url=before)

    def login(self, login, password):
        self.goto("/web/login")
        return self.submit("form.oe_login_form", {"login": login, "password": password})

    def fetch(self, path):
        """Download a file with the browser's session: ``(status, content type, bytes)``."""
        result = self.evaluate(
            f"""fetch({json.dumps(path)}, {{credentials: 'same-origin'}}).then(async r => {{
                const buffer = new Uint8Array(await r.arrayBuffer());
                let binary = '';
                for (let i = 0; i < buffer.length; i += 0x8000) {{
                    binary += String.fromCharCode.apply(null, buffer.subarray(i, i + 0x8000));
                }}
                return [r.status, r.headers.get('content-type') || '', btoa(binary)];
            }})""",
            await_promise=True,
        )
        status, content_type, body = result
        return status, content_type, base64.b64decode(body)
