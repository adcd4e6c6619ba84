# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Constants and Stripe mappings of legal_payments."""

import re

# System parameter holding the Stripe API base URL used by providers in test mode
# (e.g. the Stripe emulator in the test suite). Unset: Stripe's own API.
STRIPE_API_BASE_PARAM = "legal_payments.stripe_api_base"
STRIPE_DEFAULT_API_BASE = "https://api.stripe.com"

# Webhook signatures older or newer than this are refused (seconds, both ways).
WEBHOOK_TOLERANCE = 300

# Number of attempts of the inbox processor before an event is left in error.
EVENT_MAX_ATTEMPTS = 5
# Numbers of a transaction reference tried when concurrent requests take the same one.
REFERENCE_ATTEMPTS = 5

# An event waiting for another one (a refund for its payment) is given up after this delay.
EVENT_DEFER_DAYS = 4

# Stripe events stored in the inbox and processed by the cron. Any other event is
# acknowledged with a 200 and ignored.
PAYMENT_INTENT_EVENTS = (
    "payment_intent.processing",
    "payment_intent.amount_capturable_updated",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
)
HANDLED_EVENTS = (
    *PAYMENT_INTENT_EVENTS,
    "setup_intent.succeeded",
    "charge.refunded",
    "charge.refund.updated",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
    "charge.dispute.closed",
    "payout.paid",
)

# Ranking of PaymentIntent statuses: an event never moves a transaction backwards
# (e.g. a late `processing` after `succeeded`).
PAYMENT_INTENT_STATUS_RANK = {
    "requires_payment_method": 0,
    "requires_confirmation": 1,
    "requires_action": 1,
    "processing": 2,
    "requires_capture": 3,
    "succeeded": 4,
    "canceled": 4,
}

# Stripe payment method types that settle later (the transaction stays pending).
DELAYED_PAYMENT_METHOD_TYPES = ("us_bank_account",)

# The highest card surcharge percentage a firm may set (card networks cap it lower in places).
MAX_SURCHARGE_PERCENT = 10.0

# Operations where the client pays from the payment form, having seen the card surcharge.
SURCHARGED_OPERATIONS = ("online_redirect", "online_direct", "online_token")

# Payment plans: days after the first failed attempt at which a failed instalment charge is
# retried (three retries over a week), after which the client gets a pay link.
PLAN_RETRY_DAYS = (1, 3, 7)

# Payment plans: the client's authorization to charge ends this many days after the last due
# date, so that the last instalment's retries are covered.
PLAN_AUTHORIZATION_GRACE_DAYS = 7

# === Client billing portal and statements === #

# Transactions of the client's account (receivable), as the statement and history name them.
BILLING_RECEIVABLE_KINDS = ("invoice", "payment", "credit_note", "refund")
# Movements of the client's money held in trust (never netted against what is owed).
BILLING_TRUST_KINDS = ("trust_deposit", "trust_disbursement", "trust_transfer")
BILLING_HISTORY_KINDS = BILLING_RECEIVABLE_KINDS + BILLING_TRUST_KINDS
# Rows per page of the portal's transaction history.
BILLING_HISTORY_PAGE_SIZE = 20

# === Integrity of transactions and payment links === #

# Fields of a transaction that decide what is paid, by whom, to what: written at creation only.
# A later write needs the owning code path's marker (`TERMS_CONTEXT_KEY` set to
# `TERMS_SENTINEL`, an object no caller can send over RPC or HTTP).
TRANSACTION_TERMS_FIELDS = (
    "amount",
    "currency_id",
    "partner_id",
    "provider_id",
    "invoice_ids",
    "reference",
    "legal_matter_id",
)
TERMS_CONTEXT_KEY = "legal_payments_transaction_terms"
TERMS_SENTINEL = object()

# A charge of a saved payment method confirmed by the client, logged in, on the payment form:
# the portal's transaction route puts this marker in the context (never sent by a caller).
CLIENT_AT_KEYBOARD_CONTEXT_KEY = "legal_payments_client_at_keyboard"
CLIENT_AT_KEYBOARD_SENTINEL = object()

# Purposes a payment access token is bound to, with the id of its record: a token minted for a
# trust deposit on one matter pays nothing else.
TOKEN_PURPOSE_TRUST_DEPOSIT = "legal.matter.trust_deposit"
TOKEN_PURPOSE_INSTALMENT = "legal.payment.plan.instalment.payment"

# === Consent and rate limits === #

# System parameter: days an e-mailed confirmation link of an authorization to charge stays
# valid (a positive integer; unset or invalid: the default).
CONSENT_LINK_DAYS_PARAM = "legal_payments.consent_link_days"
CONSENT_LINK_DEFAULT_DAYS = 30

# Statements a client may download or have e-mailed from the portal within the window, per
# client (commercial partner), counted in the database across workers.
STATEMENT_RATE_LIMIT = 10
STATEMENT_RATE_WINDOW_MINUTES = 10

# Payment states of an invoice on which no Pay Now link is printed: nothing is left to pay
# online (paid, a payment on its way, reversed by a credit note).
PAY_NOW_SETTLED_PAYMENT_STATES = ("paid", "in_payment", "reversed")

# === Guided setup === #

# Formats of the keys of a Stripe account (Dashboard > Developers > API keys, Webhooks).
STRIPE_PUBLISHABLE_KEY_RE = re.compile(r"^pk_(test|live)_[A-Za-z0-9_]+$")
STRIPE_SECRET_KEY_RE = re.compile(r"^sk_(test|live)_[A-Za-z0-9_]+$")
STRIPE_WEBHOOK_SECRET_RE = re.compile(r"^whsec_[A-Za-z0-9_+/=]+$")

# Short codes tried, in this order, for the journals the setup creates.
SETUP_JOURNAL_CODES = {
    "trust_bank": "TRST",
    "operating_bank": "OPER",
    "trust_clearing": "STTR",
    "operating_clearing": "STOP",
}
