# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Constants of legal_refunds."""

# How the money goes back to the client.
REFUND_METHODS = [
    ("provider", "Original card or bank account"),
    ("bank", "Bank transfer"),
    ("cheque", "Cheque"),
]

# What the client is owed, line by line.
LINE_KINDS = [
    ("credit_note", "Credit Note"),
    ("payment", "Unallocated Payment"),
    ("trust", "Trust Balance"),
]

# Context key carrying the Stripe Idempotency-Key of a refund request.
IDEMPOTENCY_CONTEXT_KEY = "legal_refund_idempotency_key"
# Context key linking the refund transaction created by the provider to its refund line.
LINE_CONTEXT_KEY = "legal_refund_line_id"

# Stripe refund statuses that mean the money did not reach the client.
STRIPE_FAILED_REFUND_STATUSES = ("failed", "canceled")
