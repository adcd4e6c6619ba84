from unittest.mock import patch

from psycopg2.errors import UniqueViolation

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import LegalRetainersCommon


@tagged("post_install", "-at_install")
class TestRetainerTopups(LegalRetainersCommon):
    def setUp(self):
        super().setUp()
        self._pay(self.matter_a.action_request_retainer(), 1000.0)
        self.matter_a.retainer_auto_topup = True

    def _open_topups(self, matter=None):
        return (matter or self.matter_a).retainer_request_ids.filtered(
            lambda r: r.kind == "topup" and r.state in ("draft", "sent", "partial")
        )

    def test_disbursement_below_the_trigger_requests_the_minimum_balance(self):
        self.matter_a.trust_disburse(650.0, self.payee.id)  # 350 left: above the trigger
        self.assertFalse(self._open_topups())
        self.matter_a.trust_disburse(100.0, self.payee.id)  # 250 left: below 300
        topup = self._open_topups()
        self.assertEqual((topup.amount, topup.state), (250.0, "sent"))
        mail = self.env["mail.message"].search(
            [("model", "=", topup._name), ("res_id", "=", topup.id), ("body", "ilike", "Pay Now")]
        )
        self.assertIn("minimum balance", mail.body)
        self.assertIn(self.client_a, mail.partner_ids)
        self.matter_a.trust_disburse(50.0, self.payee.id)
        self.assertEqual(len(self._open_topups()), 1, "never more than one open top-up")
        self._pay(topup, 250.0)
        self.assertEqual(topup.state, "paid")
        self.matter_a.trust_disburse(300.0, self.payee.id)  # 150 left
        self.assertEqual(self._open_topups().amount, 350.0)

    def test_invoice_paid_from_trust_triggers_a_topup(self):
        invoice = self._invoice(self.matter_a, 800.0)
        self.matter_a.trust_pay_invoice(invoice.id)
        self.assertEqual(self._open_topups().amount, 300.0)

    def test_transfer_out_triggers_a_topup(self):
        self.matter_a.trust_transfer(self.matter_a2.id, 900.0)
        self.assertEqual(self._open_topups().amount, 400.0)

    def test_reversal_of_a_deposit_triggers_a_topup(self):
        extra = self.matter_a.trust_deposit(200.0)
        self.matter_a.trust_disburse(899.0, self.payee.id)  # 301 left: above the trigger
        self.assertFalse(self._open_topups())
        self.matter_a.trust_reverse(extra)  # 101 left
        self.assertEqual(self._open_topups().amount, 399.0)

    def test_reaching_the_trigger_exactly_requests_a_topup(self):
        self.matter_a.trust_disburse(699.99, self.payee.id)  # 300.01 left: above the trigger
        self.assertFalse(self._open_topups())
        self.matter_a.trust_disburse(0.01, self.payee.id)  # 300.00 left: at the trigger
        self.assertEqual(self._open_topups().amount, 200.0)

    def test_review_mode_leaves_a_draft_and_an_activity(self):
        self.matter_a.retainer_send_mode = "review"
        self.matter_a.trust_disburse(900.0, self.payee.id)
        topup = self._open_topups()
        self.assertEqual(topup.state, "draft")
        self.assertTrue(topup.activity_ids)
        self.assertFalse(
            self.env["mail.message"].search(
                [
                    ("model", "=", topup._name),
                    ("res_id", "=", topup.id),
                    ("body", "ilike", "Pay Now"),
                ]
            ),
            "nothing is sent to the client before the review",
        )
        topup.action_send()
        self.assertEqual(topup.state, "sent")
        self.assertFalse(topup.activity_ids, "the review is done")

    def test_turning_automatic_topup_off_stops_requests(self):
        self.matter_a.retainer_auto_topup = False
        self.matter_a.trust_disburse(900.0, self.payee.id)
        self.assertFalse(self._open_topups())
        self.matter_a.retainer_auto_topup = True  # turning it back on checks at once
        self.assertEqual(self._open_topups().amount, 400.0)

    def test_a_second_open_topup_is_refused_by_the_database(self):
        self.matter_a.trust_disburse(900.0, self.payee.id)
        with (
            self.assertRaises(UniqueViolation),
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            self.env["legal.retainer.request"].create(
                {"matter_id": self.matter_a.id, "kind": "topup", "amount": 10.0}
            )
            self.env.flush_all()

    def test_daily_cron_requests_the_missing_topups(self):
        self.matter_a.retainer_auto_topup = False
        self.matter_a.trust_disburse(800.0, self.payee.id)  # 200 left
        self.matter_b.write(
            {
                "retainer_enabled": True,
                "retainer_minimum_balance": 100.0,
                "retainer_topup_trigger": 50.0,
            }
        )
        # Set as a data import would, without the check that turning it on runs.
        self.env.cr.execute(
            "UPDATE legal_matter SET retainer_auto_topup = TRUE WHERE id IN %s",
            [(self.matter_a.id, self.matter_b.id)],
        )
        self.env["legal.matter"].invalidate_model(["retainer_auto_topup"])
        self.assertFalse(self._open_topups())

        def run_once(cr, func, **kwargs):  # the cron's own commit is not allowed in a test
            return func()

        path = "odoo.addons.legal_retainers.models.legal_matter.retry_serialization"
        with patch(path, run_once):
            self.env["legal.matter"]._cron_retainer_topups()
            self.assertEqual(self._open_topups().amount, 300.0)
            self.assertEqual(self._open_topups(self.matter_b).amount, 100.0)
            self.env["legal.matter"]._cron_retainer_topups()
        self.assertEqual(len(self._open_topups()), 1)
        self.assertEqual(len(self._open_topups(self.matter_b)), 1)

    def test_paid_or_cancelled_topup_lets_the_next_one_open(self):
        self.matter_a.trust_disburse(900.0, self.payee.id)  # 100 left
        first = self._open_topups()
        first.action_cancel()
        self.matter_a.trust_disburse(50.0, self.payee.id)  # 50 left
        second = self._open_topups()
        self.assertNotEqual(first, second)
        self.assertEqual(second.amount, 450.0)

    def test_what_open_requests_still_ask_for_is_deducted_from_the_topup(self):
        other = self.matter_a.action_request_retainer(amount=100.0)
        self.matter_a.trust_disburse(900.0, self.payee.id)  # 100 left, 100 asked
        self.assertEqual(self._open_topups().amount, 300.0)
        self.assertEqual(other.state, "sent")
