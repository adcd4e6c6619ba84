# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Stateless helpers: Stripe SDK clients, webhook signature checks, Pay Now QR codes."""

import time
from urllib.parse import urlencode

import stripe

from odoo.tools import SQL

from odoo.addons.payment import utils as payment_utils
from odoo.addons.payment_stripe import utils as stripe_utils

from . import const


def stripe_api_base(provider_sudo):
    """Return the Stripe API base URL for the provider.

    Providers in test mode use the system parameter ``legal_payments.stripe_api_base`` when it
    is set (e.g. the Stripe emulator); live providers always use Stripe's own API.

    :param provider_sudo: a sudoed Stripe ``payment.provider`` record
    :return: the base URL, without trailing slash
    :rtype: str
    """
    if provider_sudo.state == "test":
        base = (
            provider_sudo.env["ir.config_parameter"].sudo().get_param(const.STRIPE_API_BASE_PARAM)
        )
        if base:
            return base.rstrip("/")
    return const.STRIPE_DEFAULT_API_BASE


def stripe_client(provider_sudo):
    """Return an official SDK client for the provider's account and API base URL.

    :param provider_sudo: a sudoed Stripe ``payment.provider`` record
    :rtype: stripe.StripeClient
    """
    return stripe.StripeClient(
        stripe_utils.get_secret_key(provider_sudo),
        base_addresses={"api": stripe_api_base(provider_sudo)},
        max_network_retries=2,
    )


def verify_webhook_signature(payload, header, secret, tolerance=const.WEBHOOK_TOLERANCE, now=None):
    """Verify a ``Stripe-Signature`` header with the official SDK.

    Every ``v1`` signature of the header is tried (secret rotation); the timestamp must be
    within ``tolerance`` seconds of now, in the past or in the future.

    :param bytes payload: the raw request body
    :param str header: the ``Stripe-Signature`` header
    :param str secret: the webhook signing secret
    :raise stripe.SignatureVerificationError: if the header does not match or is out of time
    """
    stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=tolerance)
    now = time.time() if now is None else now
    timestamps = [
        item.split("=", 1)[1] for item in (header or "").split(",") if item.startswith("t=")
    ]
    try:
        timestamp = int(timestamps[0])
    except (IndexError, ValueError) as exc:
        raise stripe.SignatureVerificationError("missing timestamp", header, payload) from exc
    if timestamp > now + tolerance:
        raise stripe.SignatureVerificationError(
            "Timestamp outside the tolerance zone (%d)" % timestamp, header, payload
        )


def purpose_access_token(purpose, record_id, partner_id, amount, currency_id):
    """Return a payment access token bound to one purpose and one record.

    Odoo's generic payment token covers (partner, amount, currency) only, so that it is
    accepted by ``/payment/pay`` and ``/payment/transaction`` for anything. This one also signs
    the purpose and the record's id: the generic routes refuse it, and it pays only that record.

    :param str purpose: what the token pays for, e.g. ``const.TOKEN_PURPOSE_TRUST_DEPOSIT``
    :param int record_id: the id of the record paid (matter, request...)
    :param int partner_id: the paying client's `res.partner` id
    :param float amount: the amount paid
    :param int currency_id: the `res.currency` id
    :rtype: str
    """
    return payment_utils.generate_access_token(partner_id, amount, currency_id, purpose, record_id)


def check_purpose_access_token(access_token, purpose, record_id, partner_id, amount, currency_id):
    """Return whether ``access_token`` was made by `purpose_access_token` for these values.

    :rtype: bool
    """
    return bool(access_token) and payment_utils.check_access_token(
        access_token, partner_id, amount, currency_id, purpose, record_id
    )


def pay_now_qr_src(url, size=150):
    """Return the path of a QR code of ``url`` drawn by Odoo's barcode service.

    Used as the ``src`` of an ``<img>`` in a QWeb report: relative, like the QR codes of Odoo's
    own invoices, so that the report's base URL serves it to wkhtmltopdf and to a browser.

    :param str url: the absolute Pay Now link the code encodes
    :param int size: width and height in pixels
    :return: ``/report/barcode/?barcode_type=QR&value=...&width=...&height=...``
    :rtype: str
    """
    query = urlencode({"barcode_type": "QR", "value": url, "width": size, "height": size})
    return f"/report/barcode/?{query}"


def search_open_first(model, domain, field, open_values, limit=None, offset=0):
    """Search ``model`` with the records whose ``field`` is in ``open_values`` first, newest
    first within each group, sorted by the database before the page is cut (so that "open
    first" holds across pages, not only within one).

    Access rights and record rules apply as in ``search``.

    :param model: the model to search, in the caller's environment
    :param list domain: the search domain
    :param str field: a stored selection field of the model
    :param tuple open_values: the values listed first
    :param int limit: the page size
    :param int offset: the first record of the page
    :return: the records of the page
    """
    query = model._search(domain, offset=offset, limit=limit)
    query.order = SQL(
        "CASE WHEN %s IN %s THEN 0 ELSE 1 END, %s DESC",
        model._field_to_sql(model._table, field, query),
        tuple(open_values),
        model._field_to_sql(model._table, "id", query),
    )
    return model.browse(query)
