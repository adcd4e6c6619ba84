"""The Stripe emulator (tests/stripe_emulator.py) answers Odoo 18's payment_stripe requests."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "tests" / "stripe_emulator.py"
PICKLE = Path("/tmp/localstripe.pickle")  # where an unpatched localstripe would write
HEADERS = {"Authorization": "Bearer sk_test_legal", "Stripe-Version": "2019-05-16"}


def stripe(method, url, payload=None, idempotency_key=None):
    """Call the emulator exactly as Odoo's ``_stripe_make_request`` calls Stripe."""
    headers = dict(HEADERS)
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return requests.request(method, url, data=payload, headers=headers, timeout=10)


def odoo_payment_intent_payload(customer_id):
    """What Odoo 18 posts for a tokenizing card payment (with a shipping address)."""
    return {
        "amount": 12500,
        "currency": "usd",
        "description": "INV/2025/00001-1",
        "capture_method": "automatic",
        "payment_method_types[]": "card",
        "expand[]": "payment_method",
        "shipping[address][city]": "Springfield",
        "shipping[address][country]": "US",
        "shipping[name]": "Jane Client",
        "customer": customer_id,
        "setup_future_usage": "off_session",
    }


@pytest.fixture
def customer(stripe_emulator):
    response = stripe(
        "POST",
        f"{stripe_emulator.api_url}customers",
        {
            "description": "Odoo Partner: Jane Client (id: 7)",
            "email": "jane@example.com",
            "name": "Jane Client",
            "address[city]": None,  # requests drops None values, as for Odoo's payloads
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_environment_points_to_the_running_emulator(stripe_emulator):
    # The form of Stripe's own base, https://api.stripe.com: root, no /v1, no trailing slash.
    assert os.environ["LEGAL_STRIPE_API_BASE"] == f"http://127.0.0.1:{stripe_emulator.port}"
    base = os.environ["LEGAL_STRIPE_API_BASE"]
    response = stripe("GET", f"{base}/v1/customers")
    assert response.status_code == 200
    assert response.json()["object"] == "list"


def test_payment_intent_created_with_odoo_parameters_is_read_back_with_body_params(
    stripe_emulator, customer
):
    created = stripe(
        "POST",
        f"{stripe_emulator.api_url}payment_intents",
        odoo_payment_intent_payload(customer["id"]),
    )
    assert created.status_code == 200, created.text
    intent = created.json()
    assert intent["object"] == "payment_intent"
    assert intent["id"].startswith("pi_")
    assert intent["amount"] == 12500
    assert intent["customer"] == customer["id"]
    assert intent["status"] == "requires_payment_method"

    # Odoo's webhook/return controller: GET with its parameters in a form-encoded body.
    fetched = stripe(
        "GET",
        f"{stripe_emulator.api_url}payment_intents/{intent['id']}",
        {"expand[]": "customer"},
    )
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["id"] == intent["id"]
    assert fetched.json()["customer"]["email"] == "jane@example.com"  # expanded: body was read


def test_get_body_parameters_are_validated_like_query_parameters(stripe_emulator, customer):
    # A list call with an unknown filter in the body is refused: the body reached localstripe.
    refused = stripe("GET", f"{stripe_emulator.api_url}customers", {"no_such_filter": "1"})
    assert refused.status_code == 400
    assert "no_such_filter" in refused.json()["error"]["message"]
    listed = stripe("GET", f"{stripe_emulator.api_url}customers", {"limit": 1})
    assert [c["id"] for c in listed.json()["data"]] == [customer["id"]]


def test_setup_intent_accepts_odoo_description(stripe_emulator, customer):
    response = stripe(
        "POST",
        f"{stripe_emulator.api_url}setup_intents",
        {
            "customer": customer["id"],
            "description": "S00042-1",
            "payment_method_types[]": "card",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"].startswith("seti_")


def test_customer_keeps_its_description(stripe_emulator, customer):
    # Only the intents drop `description`: localstripe's customers accept and return it.
    assert customer["description"] == "Odoo Partner: Jane Client (id: 7)"


def test_idempotency_key_replays_the_first_response(stripe_emulator, customer):
    url = f"{stripe_emulator.api_url}payment_intents"
    payload = odoo_payment_intent_payload(customer["id"])
    first = stripe("POST", url, payload, idempotency_key="tx-42-offline")
    again = stripe("POST", url, payload, idempotency_key="tx-42-offline")
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = stripe("GET", url).json()["data"]
    assert [pi["id"] for pi in listed] == [first.json()["id"]]  # created once

    other = stripe("POST", url, payload, idempotency_key="tx-43-offline")
    assert other.json()["id"] != first.json()["id"]


def test_idempotency_key_reused_with_other_parameters_is_refused(stripe_emulator, customer):
    url = f"{stripe_emulator.api_url}payment_intents"
    payload = odoo_payment_intent_payload(customer["id"])
    stripe("POST", url, payload, idempotency_key="k")
    response = stripe("POST", url, {**payload, "amount": 1}, idempotency_key="k")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "idempotency_error"


def test_flush_forgets_idempotent_responses(stripe_emulator, customer):
    url = f"{stripe_emulator.api_url}payment_intents"
    payload = odoo_payment_intent_payload(customer["id"])
    first = stripe("POST", url, payload, idempotency_key="k").json()
    stripe_emulator.flush()
    assert stripe("GET", url).json()["data"] == []
    # The customer is gone with the flush: the same key now runs again, and fails on it.
    replay = stripe("POST", url, payload, idempotency_key="k")
    assert replay.status_code == 404
    assert "Idempotent-Replayed" not in replay.headers
    assert first["id"].startswith("pi_")


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "v1/no_such_resource"),
        ("POST", "v1/customers/cus_x/payment_methods_typo"),
        ("GET", "totally/elsewhere"),
    ],
)
def test_unknown_route_answers_stripe_json_404(stripe_emulator, method, path):
    response = stripe(method, f"{stripe_emulator.url}/{path}")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert path in error["message"]


def test_wrong_method_answers_stripe_json_405(stripe_emulator):
    response = stripe("PUT", f"{stripe_emulator.api_url}customers")
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_object_is_a_json_404_from_localstripe(stripe_emulator):
    response = stripe("GET", f"{stripe_emulator.api_url}payment_intents/pi_missing")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_missing_api_key_is_refused(stripe_emulator):
    response = requests.get(f"{stripe_emulator.api_url}customers", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Unauthorized"


def test_webhook_is_delivered_signed(stripe_emulator):
    """localstripe's webhook configuration endpoint still works through our middlewares."""
    received = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(15)
        port = listener.getsockname()[1]
        configured = requests.post(
            f"{stripe_emulator.url}/_config/webhooks/odoo",
            data={
                "url": f"http://127.0.0.1:{port}/payment/stripe/webhook",
                "secret": "whsec_legal",
                "events[]": "customer.created",
            },
            timeout=10,
        )
        assert configured.status_code == 200, configured.text
        created = stripe("POST", f"{stripe_emulator.api_url}customers", {"name": "Hook"})
        assert created.status_code == 200
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(15)
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            received.append(data)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    head = received[0].decode(errors="replace")
    assert head.startswith("POST /payment/stripe/webhook ")
    assert "stripe-signature: t=" in head.lower()


def test_flush_forgets_webhooks(stripe_emulator):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        response = requests.post(
            f"{stripe_emulator.url}/_config/webhooks/w",
            data={
                "url": f"http://127.0.0.1:{port}/hook",
                "secret": "whsec_legal",
            },
            timeout=10,
        )
        assert response.status_code == 200
        stripe_emulator.flush()
        stripe("POST", f"{stripe_emulator.api_url}customers", {"name": "B"})
        listener.settimeout(3)  # localstripe sends webhooks 1 s after the event
        try:
            conn, _ = listener.accept()
            conn.settimeout(3)
            pytest.fail(repr(conn.recv(65536)))
        except TimeoutError:
            pass


# --------------------------------------------------------------------------- launcher itself
@pytest.fixture
def launch(tmp_path):
    """Start ``python3 tests/stripe_emulator.py ARGS`` and stop it after the test."""
    processes = []

    def _launch(*args):
        process = subprocess.Popen(
            [sys.executable, str(LAUNCHER), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    yield _launch
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()


def test_launcher_prints_its_port_first_and_serves_on_loopback(launch):
    process = launch()
    line = process.stdout.readline().strip()
    assert line.startswith("LISTENING ")
    port = int(line.split()[1])
    response = stripe("GET", f"http://127.0.0.1:{port}/v1/customers")
    assert response.status_code == 200
    assert response.json()["data"] == []  # starts empty: nothing loaded from disk
    process.send_signal(2)  # SIGINT stops it cleanly
    assert process.wait(timeout=10) == 0


def test_launcher_uses_the_requested_port(launch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = launch("--port", str(port))
    assert process.stdout.readline().strip() == f"LISTENING {port}"


def test_launcher_on_an_occupied_port_says_so_in_one_line(launch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        process = launch("--port", str(port))
        assert process.wait(timeout=30) == 1
        stderr = process.stderr.read().strip().splitlines()
    assert process.stdout.read() == ""
    assert len(stderr) == 1
    assert f"port {port} on 127.0.0.1 is already in use" in stderr[0]


def test_launcher_stops_when_its_parent_pipe_closes(launch):
    process = launch("--exit-on-stdin-eof")
    assert process.stdout.readline().startswith("LISTENING ")
    process.stdin.close()
    assert process.wait(timeout=10) == 0


def test_nothing_is_persisted_to_tmp(launch):
    before = PICKLE.stat() if PICKLE.exists() else None
    process = launch()
    port = int(process.stdout.readline().split()[1])
    api = f"http://127.0.0.1:{port}/v1/"
    customer = stripe("POST", f"{api}customers", {"name": "Persist Me"}).json()
    stripe(
        "POST",
        f"{api}payment_intents",
        {
            "amount": 100,
            "currency": "usd",
            "customer": customer["id"],
        },
    )
    stripe("DELETE", f"{api}customers/{customer['id']}")
    process.terminate()
    process.wait(timeout=10)
    time.sleep(0.1)
    after = PICKLE.stat() if PICKLE.exists() else None
    if before is None:
        assert after is None, f"{PICKLE} was written"
    else:  # left by something else on this machine: must be untouched
        assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)

    # And a new emulator does not see the previous one's objects.
    process = launch()
    port = int(process.stdout.readline().split()[1])
    listed = stripe("GET", f"http://127.0.0.1:{port}/v1/customers").json()
    assert listed["data"] == []
