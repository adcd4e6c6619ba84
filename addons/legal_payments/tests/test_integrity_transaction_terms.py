# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The terms of a transaction (amount, currency, client, provider, invoices, matter,
reference) are those it was created with: no user changes them over RPC, sudo included."""

from odoo.exceptions import AccessError
from odoo.fields import Command
from odoo.tests import tagged

from .. import const
from .common import LegalPaymentsCommon


@tagged("post_install", "-at_install")
class TestTransactionTerms(LegalPaymentsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.billing_user = cls._create_new_internal_user(
            login="billing_terms", groups="account.group_account_invoice"
        )
        cls.other_matter = cls.env["legal.matter"].create(
            {"title": "Ann v. Carl", "partner_id": cls.client_partner.id}
        )
        cls.other_client = cls.env["res.partner"].create({"name": "Client Bob"})

    def test_billing_user_cannot_change_what_a_pending_transaction_pays(self):
        deposit = self._deposit_tx(amount=1.0, provider_reference="pi_small")
        invoice_tx = self._invoice_tx()
        euro = self.env.ref("base.EUR")
        attacks = [
            (deposit, {"amount": 100000.0}),
            (deposit, {"legal_matter_id": self.other_matter.id}),
            (deposit, {"currency_id": euro.id}),
            (deposit, {"partner_id": self.other_client.id}),
            (deposit, {"provider_id": self.stripe.id}),
            (deposit, {"reference": "INV-TX-1-bis"}),
            (invoice_tx, {"invoice_ids": [Command.clear()]}),
            (invoice_tx, {"amount": 1.0}),
        ]
        for tx, vals in attacks:
            before = tx.read(list(vals))[0]
            for env in (tx.with_user(self.billing_user), tx.sudo()):
                with self.subTest(vals=vals, su=env.env.su):
                    with self.assertRaises(AccessError):
                        env.write(vals)
            self.assertEqual(tx.read(list(vals))[0], before, "nothing changed")
        # A caller's context value is not the owning code path's marker.
        with self.assertRaises(AccessError):
            deposit.with_user(self.billing_user).with_context(
                **{const.TERMS_CONTEXT_KEY: True}
            ).write({"amount": 100000.0})
        self.assertEqual(deposit.amount, 1.0)

    def test_unchanged_terms_and_other_fields_can_still_be_written(self):
        tx = self._deposit_tx(amount=1000.0)
        tx.with_user(self.billing_user).write(
            {"amount": 1000.0, "legal_matter_id": self.matter.id, "state_message": "checked"}
        )
        self.assertEqual(tx.state_message, "checked")
        # The code path that owns a change marks it with the sentinel object.
        tx.with_context(**{const.TERMS_CONTEXT_KEY: const.TERMS_SENTINEL}).write({"amount": 1200.0})
        self.assertEqual(tx.amount, 1200.0)
