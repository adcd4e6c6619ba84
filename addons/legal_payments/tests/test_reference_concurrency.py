# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Two clients paying the same document at once both get a transaction (found by the
end-to-end serialization test: the second one was shown "Reference must be unique!").

Real separate cursors: the second database transaction computes its reference before the
first one commits the same reference (REPEATABLE READ: it cannot see it), then creates its
transaction after that commit. Committed records are removed afterwards."""

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

PREFIX = "LEGAL-REFERENCE-RACE"


@tagged("post_install", "-at_install")
class TestConcurrentReferences(TransactionCase):
    def _values(self, env, reference):
        return {
            "provider_id": env.ref("payment.payment_provider_stripe").id,
            "payment_method_id": env.ref("payment.payment_method_card").id,
            "reference": reference,
            "amount": 100.0,
            "currency_id": env.ref("base.main_company").currency_id.id,
            "partner_id": env.ref("base.main_company").partner_id.id,
            "operation": "online_direct",
        }

    def _cleanup(self):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM payment_transaction WHERE reference LIKE %s", [PREFIX + "%"])

    @mute_logger("odoo.sql_db")  # the refused INSERTs are logged as bad queries
    def test_same_reference_taken_by_a_concurrent_request(self):
        self.addCleanup(self._cleanup)
        with self.registry.cursor() as cr_a, self.registry.cursor() as cr_b:
            env_a = api.Environment(cr_a, SUPERUSER_ID, {})
            env_b = api.Environment(cr_b, SUPERUSER_ID, {})
            # Both requests number the reference on the same committed state.
            ref_a = env_a["payment.transaction"]._compute_reference("stripe", prefix=PREFIX)
            ref_b = env_b["payment.transaction"]._compute_reference("stripe", prefix=PREFIX)
            self.assertEqual(ref_a, ref_b)
            tx_a = env_a["payment.transaction"].create(self._values(env_a, ref_a))
            cr_a.commit()
            # The second one, whose snapshot predates that commit, gets the next number.
            tx_b = env_b["payment.transaction"].create(self._values(env_b, ref_b))
            cr_b.commit()
            self.assertEqual(tx_a.reference, PREFIX)
            self.assertEqual(tx_b.reference, f"{PREFIX}-1")
            # And a third one, on the same old numbering, the one after.
            tx_c = env_b["payment.transaction"].create(self._values(env_b, ref_b))
            cr_b.commit()
            self.assertEqual(tx_c.reference, f"{PREFIX}-2")

    def test_next_reference(self):
        next_reference = self.env["payment.transaction"]._legal_next_reference
        self.assertEqual(next_reference("INV/2026/00001"), "INV/2026/00001-1")
        self.assertEqual(next_reference("INV/2026/00001-1"), "INV/2026/00001-2")
        self.assertEqual(next_reference("MAT-0004-9"), "MAT-0004-10")
        self.assertEqual(next_reference("tx-20261130062110"), "tx-20261130062110-1")
