# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Fixtures of the legal_refunds tests.

Built on legal_payments' fixtures (an operating and a trust Stripe provider, their journals,
a client, a matter, a posted invoice of 500). Stripe answers that the emulator cannot give
(refund failures, dashboard refunds) are recorded, Stripe-shaped JSON.
"""

from contextlib import contextmanager
from unittest.mock import patch

from odoo.fields import Command

from odoo.addons.legal_payments.models.payment_provider import (
    PaymentProvider as LegalPaymentsProvider,
)
from odoo.addons.legal_payments.tests.common import WEBHOOK_SECRET, LegalPaymentsCommon

__all__ = ["WEBHOOK_SECRET", "LegalRefundsCommon"]


class LegalRefundsCommon(LegalPaymentsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, legal_refund_no_advice=True))
        cls.receivable = cls.client_partner.property_account_receivable_id

    # === Helpers === #

    @contextmanager
    def assertRefused(self, exception, message):
        """``self.assertRaises`` (savepoint rolled back, as the request would be) and check
        the message."""
        with self.assertRaises(exception) as caught:
            yield caught
        self.assertRegex(str(caught.exception), message)

    def _credit_note(self, amount, invoice=None, partner=None):
        """A posted credit note of ``amount``, reversing ``invoice`` when given."""
        move = self.env["account.move"].create(
            {
                "move_type": "out_refund",
                "partner_id": (partner or self.client_partner).id,
                "reversed_entry_id": invoice.id if invoice else False,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Fee adjustment",
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [Command.clear()],
                            "account_id": self.company_data["default_account_revenue"].id,
                        }
                    )
                ],
            }
        )
        move.action_post()
        return move

    def _manual_payment(self, amount, partner=None):
        """A posted inbound customer payment, not allocated to any invoice."""
        payment = self.env["account.payment"].create(
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": (partner or self.client_partner).id,
                "amount": amount,
                "journal_id": self.operating_bank.id,
            }
        )
        payment.action_post()
        return payment

    @staticmethod
    def _receivable_line(move):
        return move.line_ids.filtered(lambda line: line.account_type == "asset_receivable")

    def _client_receivable_balance(self):
        """What the client owes (positive) or is owed (negative) on its receivable, the
        fixture's own unpaid invoice left out."""
        lines = self.env["account.move.line"].search(
            [
                ("partner_id", "=", self.client_partner.id),
                ("account_type", "=", "asset_receivable"),
                ("parent_state", "=", "posted"),
                ("move_id", "!=", self.invoice.id),
            ]
        )
        return self.currency.round(sum(lines.mapped("amount_residual")))

    def _wizard(self, **values):
        Wizard = self.env["legal.refund.wizard"]
        return Wizard.create({"partner_id": self.client_partner.id, **values})

    def _select(self, wizard, source, amount):
        """Select the wizard line of ``source`` (a move or a matter) for ``amount``."""
        if source._name == "legal.matter":
            line = wizard.line_ids.filtered(
                lambda rec: rec.matter_id == source and rec.kind == "trust"
            )
        else:
            line = wizard.line_ids.filtered(lambda rec: rec.source_line_id.move_id == source)
        self.assertEqual(len(line), 1, f"{source.display_name} is listed once")
        line.write({"selected": True, "amount": amount})
        return line

    def _paid_card_invoice(self, amount=500.0, pi_id="pi_legal_1", reference="INV-TX-1"):
        """An invoice paid by card through the operating provider (no fee lookup)."""
        invoice = (
            self.invoice
            if amount == 500.0 and pi_id == "pi_legal_1"
            else self.init_invoice(
                "out_invoice",
                partner=self.client_partner,
                amounts=[amount],
                post=True,
                taxes=[],
                currency=self.currency,
            )
        )
        tx = self._invoice_tx(invoice=invoice, reference=reference, provider_reference=pi_id)
        tx._set_done()
        tx.legal_fee_state = "none"
        tx._post_process()
        self.assertEqual(invoice.payment_state, "paid")
        return invoice, tx

    @contextmanager
    def recorded_refunds(self, status="succeeded", charge="ch_legal_1"):
        """Answer Stripe refund requests with recorded refunds of ``status``; the requests
        (payload, idempotency key) are kept in the yielded list."""
        calls = []
        # Below legal_refunds' override, which adds the idempotency key.
        original = LegalPaymentsProvider._stripe_make_request

        def _request(
            provider, endpoint, payload=None, method="POST", offline=False, idempotency_key=None
        ):
            if endpoint != "refunds" or method != "POST":
                return original(
                    provider,
                    endpoint,
                    payload=payload,
                    method=method,
                    offline=offline,
                    idempotency_key=idempotency_key,
                )
            key = idempotency_key
            for previous in calls:
                if key and previous["key"] == key:
                    return previous["response"]  # Stripe replays an idempotent request.
            response = {
                "id": f"re_legal_{len(calls) + 1}",
                "object": "refund",
                "amount": int(payload["amount"]),
                "currency": "usd",
                "charge": charge,
                "payment_intent": payload.get("payment_intent"),
                "status": status,
            }
            calls.append({"payload": payload, "key": key, "response": response})
            return response

        with patch.object(LegalPaymentsProvider, "_stripe_make_request", _request):
            yield calls
