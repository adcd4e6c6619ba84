#!/usr/bin/env python3
"""Stripe emulator for the tests: ``localstripe`` 1.15.10 adapted to Odoo 18's payment_stripe.

Run it as::

    python3 tests/stripe_emulator.py [--port N] [--verbose] [--exit-on-stdin-eof]

It listens on 127.0.0.1 only, on port N or on a free port, and prints ``LISTENING <port>`` as
its first line on stdout once the socket accepts connections, so that a parent process can read
the port. SIGINT or SIGTERM stops it. The root ``conftest.py`` starts one for the test session.

``localstripe`` is a stateful in-memory Stripe API. It is used as it is, except for these gaps
between it and what Odoo 18's ``payment_stripe`` sends (``_stripe_make_request`` posts
form-encoded ``data=payload`` with ``requests.request``, for every HTTP method):

1. **No persistence.** localstripe pickles its whole store to ``/tmp/localstripe.pickle`` on every
   write and reloads it at start; both are no-ops here, so each emulator starts empty and shares
   nothing with another one.
2. **Parameters it rejects.** ``description``, ``setup_future_usage``, ``shipping`` and
   ``payment_method_options`` (the card mandate options Odoo 18 sends with every SetupIntent in
   USD and other Indian-mandate currencies, meaningful for Indian cards only) are dropped from the
   parameters of ``/v1/payment_intents...`` and ``/v1/setup_intents...`` requests before
   localstripe sees them (it answers ``400 Unexpected ...`` otherwise). They are not echoed back.
3. **GET parameters in the body.** For a GET with a form-encoded body (``expand[]=...``), the body
   parameters are merged into the query string, where localstripe reads them.
4. **Idempotency-Key.** A POST or DELETE carrying an ``Idempotency-Key`` header is answered once;
   a retry with the same key, method and path replays the first response (with the header
   ``Idempotent-Replayed: true``) without running it again. Reusing a key with other parameters
   gives Stripe's 400 ``idempotency_error``.
5. **JSON errors everywhere.** Unknown routes, wrong methods and unexpected failures answer a
   Stripe-style JSON body ``{"error": {"type": "invalid_request_error", "message": ...}}``
   (``api_error`` for a 500) instead of aiohttp's plain-text pages.

Everything else is localstripe's: its ``/_config/webhooks/{id}`` endpoint (POST ``url``,
``secret`` and optional ``events[]``) registers a webhook that receives signed events;
``DELETE /_config/data`` empties the store, and here also forgets registered webhooks, cached
idempotent responses and the webhook deliveries still pending (localstripe sends each event one
second after it happens), so that nothing from a previous test reaches the next one.
"""

import argparse
import asyncio
import hashlib
import logging
import os
import re
import signal
import socket
import sys
import threading
from urllib.parse import parse_qsl

import localstripe
from aiohttp import web
from localstripe import resources, server, webhooks
from multidict import MultiDict

LOCALSTRIPE_VERSION = "1.15.10"

#: Parameters Odoo 18 sends that localstripe's intents reject, and the paths they are dropped on.
DROPPED_PARAMETERS = ("description", "setup_future_usage", "shipping", "payment_method_options")
DROPPED_ON = re.compile(r"^/v1/(payment_intents|setup_intents)(/|$)")

IDEMPOTENT_METHODS = ("POST", "DELETE")

_logger = logging.getLogger("stripe_emulator")

# (Idempotency-Key, method, path) -> (parameters fingerprint, status, body, content type)
_idempotent_responses = {}
# webhook deliveries scheduled and not finished yet
_pending_deliveries = set()


# --------------------------------------------------------------------------- no persistence
def _no_persistence():
    """Make localstripe's Store never read nor write ``/tmp/localstripe.pickle``."""
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None


# --------------------------------------------------------------------------- parameters
_original_get_post_data = server.get_post_data


async def get_post_data(request, remove_auth=True):
    """localstripe's ``get_post_data`` without the parameters its intents reject.

    localstripe's handlers and its auth middleware look ``get_post_data`` up in the module
    globals of ``localstripe.server`` at call time, so replacing it there covers all of them.
    """
    data = await _original_get_post_data(request, remove_auth)
    if isinstance(data, dict) and DROPPED_ON.match(request.path):
        for name in DROPPED_PARAMETERS:
            data.pop(name, None)
    return data


# --------------------------------------------------------------------------- webhooks
def schedule_webhook(event):
    """localstripe's ``schedule_webhook``, keeping the delivery task so a flush can cancel it."""
    task = asyncio.ensure_future(webhooks._send_webhook(event))  # noqa: SLF001
    _pending_deliveries.add(task)
    task.add_done_callback(_pending_deliveries.discard)


# --------------------------------------------------------------------------- middlewares
def _error(status, message, error_type="invalid_request_error", **extra):
    return server.json_response(
        {"error": {"type": error_type, "message": message, **extra}}, status=status
    )


@web.middleware
async def json_errors_middleware(request, handler):
    """Turn aiohttp's plain-text errors (unknown route, bad method, crash) into Stripe JSON."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            message = f"Unrecognized request URL ({request.method}: {request.path})."
        elif exc.status == 405:
            message = f"Method {request.method} is not allowed on {request.path}."
        else:
            message = exc.reason
        return _error(exc.status, message)
    except Exception as exc:  # noqa: BLE001 - answered as Stripe's api_error, and logged
        _logger.exception("unexpected error on %s %s", request.method, request.path)
        return _error(500, f"{type(exc).__name__}: {exc}", error_type="api_error")
    return response


@web.middleware
async def get_body_as_query_middleware(request, handler):
    """For a GET with a form body, move the body's parameters into the query string."""
    if request.method == "GET" and request.can_read_body:
        # Read from the stream directly: a request whose body was read() cannot be cloned.
        body = (await request.content.read()).decode("utf-8")
        params = parse_qsl(body, keep_blank_values=True)
        if params:
            query = MultiDict(request.rel_url.query)
            query.extend(params)
            request = request.clone(rel_url=request.rel_url.with_query(query))
    return await handler(request)


@web.middleware
async def idempotency_middleware(request, handler):
    """Replay the first response to a POST/DELETE that carries an already seen key."""
    key = request.headers.get("Idempotency-Key")
    if not key or request.method not in IDEMPOTENT_METHODS:
        return await handler(request)
    cache_key = (key, request.method, request.path)
    fingerprint = hashlib.sha256(
        request.query_string.encode() + b"\0" + await request.read()
    ).hexdigest()
    cached = _idempotent_responses.get(cache_key)
    if cached is not None:
        if cached[0] != fingerprint:
            return _error(
                400,
                f"Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                error_type="idempotency_error",
            )
        _, status, body, content_type = cached
        response = web.Response(status=status, body=body, content_type=content_type)
        response.headers["Idempotent-Replayed"] = "true"
        response.headers["Idempotency-Key"] = key
        return response
    try:
        response = await handler(request)
    except web.HTTPException:
        raise  # not cached: the json errors middleware answers it
    if isinstance(response, web.Response) and response.status < 500:
        _idempotent_responses[cache_key] = (
            fingerprint,
            response.status,
            response.body,
            response.content_type,
        )
        response.headers["Idempotency-Key"] = key
    return response


@web.middleware
async def flush_everything_middleware(request, handler):
    """``DELETE /_config/data`` also forgets webhooks, pending deliveries and idempotent
    responses."""
    response = await handler(request)
    if request.method == "DELETE" and request.path == "/_config/data":
        _idempotent_responses.clear()
        webhooks._webhooks.clear()  # noqa: SLF001 - localstripe keeps them module-private
        for task in list(_pending_deliveries):
            task.cancel()
    return response


# --------------------------------------------------------------------------- app
def make_app():
    """Return localstripe's aiohttp application with the adaptations above installed.

    Call it once per process: it patches localstripe's module state.
    """
    if localstripe.__version__ != LOCALSTRIPE_VERSION:
        _logger.warning(
            "localstripe %s found, this launcher is written for %s",
            localstripe.__version__,
            LOCALSTRIPE_VERSION,
        )
    _no_persistence()
    server.get_post_data = get_post_data
    resources.schedule_webhook = schedule_webhook  # imported by name there
    app = server.app
    # Ours run first (outermost), localstripe's (errors, auth, store saving) after them.
    ours = [
        json_errors_middleware,
        get_body_as_query_middleware,
        idempotency_middleware,
        flush_everything_middleware,
    ]
    for position, middleware in enumerate(ours):
        app.middlewares.insert(position, middleware)
    return app


def bind(port=0):
    """Return a listening IPv4 socket on 127.0.0.1:``port`` (0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise SystemExit(
            f"error: port {port} on 127.0.0.1 is already in use ({exc.strerror}): "
            "choose another one with --port, or omit --port to take a free one"
        ) from exc
    sock.listen(128)
    return sock


def _exit_on_stdin_eof(app):
    """Stop (as on SIGTERM) when stdin reaches end of file, i.e. when the parent is gone.

    Started from ``on_startup``, once aiohttp handles SIGTERM as a graceful exit.
    """

    def watch():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    async def start_watching(_app):
        threading.Thread(target=watch, name="stdin-eof", daemon=True).start()

    app.on_startup.append(start_watching)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port on 127.0.0.1 (default: a free one, printed on stdout)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when stdin is closed (for a parent that pipes stdin)",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="stripe-emulator %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    app = make_app()
    if args.exit_on_stdin_eof:
        _exit_on_stdin_eof(app)
    # Until aiohttp installs its own handler, SIGTERM exits quietly too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    sock = bind(args.port)
    print(f"LISTENING {sock.getsockname()[1]}", flush=True)
    web.run_app(
        app,
        sock=sock,
        print=None,
        access_log=logging.getLogger("aiohttp.access") if args.verbose else None,
        shutdown_timeout=2,
    )


if __name__ == "__main__":
    main()
