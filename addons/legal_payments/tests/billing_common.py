# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A real ledger for the billing portal and statement tests.

Client A (a company with a contact) has, before the statement period: an invoice of 1,000
paid 400, and 5,000 deposited in trust on its first matter. In the period (60 to 1 days
ago): an invoice of 700, a payment of 300, a credit note of 200 of which 50 is refunded,
1,200 disbursed from trust, 500 transferred to its second matter and 300 deposited there.
Today, after the period: an invoice of 100. Client B has an invoice of 999 and 777 in trust
in the period: it never shows on A's pages.
"""

from odoo import fields
from odoo.fields import Command

from odoo.addons.legal_trust.tests.common import LegalTrustCommon


class LegalBillingCommon(LegalTrustCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.today = fields.Date.context_today(cls.env["res.partner"])
        cls.client_a.is_company = True
        cls.contact_a = cls.env["res.partner"].create(
            {"name": "Alice of A", "parent_id": cls.client_a.id, "email": "alice@example.com"}
        )
        cls.date_from = cls._day(60)
        cls.date_to = cls._day(1)
        # Before the period.
        cls.invoice_1 = cls._billing_invoice(cls.matter_a, 1000.0, cls._day(90))
        cls.payment_1 = cls._billing_pay(cls.invoice_1, 400.0, cls._day(80))
        cls.matter_a.trust_deposit(5000.0, cls.trust_journal.id, cls._day(85), "Initial retainer")
        # In the period.
        cls.invoice_2 = cls._billing_invoice(cls.matter_a, 700.0, cls._day(50))
        cls.payment_2 = cls._billing_pay(cls.invoice_1, 300.0, cls._day(45))
        cls.credit_note = cls._billing_invoice(
            cls.matter_a, 200.0, cls._day(40), move_type="out_refund"
        )
        cls.refund = cls.env["account.payment"].create(
            {
                "payment_type": "outbound",
                "partner_type": "customer",
                "partner_id": cls.client_a.id,
                "amount": 50.0,
                "date": cls._day(30),
                "journal_id": cls.operating_journal.id,
                "memo": "Refund of an overpayment",
            }
        )
        cls.refund.action_post()
        receivable = cls.credit_note.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        (
            receivable
            | cls.refund.move_id.line_ids.filtered(
                lambda line: line.account_id == receivable.account_id
            )
        ).reconcile()
        cls.matter_a.trust_disburse(
            1200.0, cls.payee.id, cls.trust_journal.id, cls._day(35), "Expert report"
        )
        cls.matter_a.trust_transfer(cls.matter_a2.id, 500.0, "Funds for the lease", cls._day(20))
        cls.matter_a2.trust_deposit(300.0, cls.trust_journal.id, cls._day(10), "Top-up")
        # Another client, same period.
        cls.invoice_b = cls._billing_invoice(cls.matter_b, 999.0, cls._day(40))
        cls.matter_b.trust_deposit(777.0, cls.trust_journal.id, cls._day(40), "B's deposit")
        # After the period.
        cls.invoice_3 = cls._billing_invoice(cls.matter_a, 100.0, cls.today)

    @classmethod
    def _day(cls, days_ago):
        return fields.Date.subtract(cls.today, days=days_ago)

    @classmethod
    def _billing_invoice(cls, matter, amount, date, move_type="out_invoice"):
        invoice = cls.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": matter.partner_id.id,
                "matter_id": matter.id,
                "invoice_date": date,
                "date": date,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Legal services",
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        invoice.action_post()
        return invoice

    @classmethod
    def _billing_pay(cls, invoice, amount, date):
        return (
            cls.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create(
                {"amount": amount, "payment_date": date, "journal_id": cls.operating_journal.id}
            )
            ._create_payments()
        )
