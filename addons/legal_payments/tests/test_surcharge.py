# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Card surcharge of the operating provider: settings, amount, booking, payment form.

Webhook-driven payments use recorded Stripe balance transactions (the Stripe emulator has
none); the card itself is charged by the Stripe emulator."""

import json
import threading

from lxml import html
from psycopg2 import errors as pg_errors

from odoo import SUPERUSER_ID, api
from odoo.exceptions import ValidationError
from odoo.fields import Command
from odoo.tests import JsonRpcException, TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.payment.tests.http_common import PaymentHttpCommon

from .common import LegalPaymentsCommon, recorded_card_payment
from .test_stripe_emulator_flows import CARD_OK, StripeEmulatorCase


class SurchargeCase(LegalPaymentsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.card = cls.env.ref("payment.payment_method_card")
        cls.visa = cls.env.ref("payment.payment_method_visa")
        cls.ach = cls.env.ref("payment.payment_method_ach_direct_debit")
        cls.us = cls.env.ref("base.us")
        cls.massachusetts = cls.env.ref("base.state_us_20")
        cls.ontario = cls.env.ref("base.state_ca_on")

    def _enable_surcharge(self, percent=3.0, cap=0.0, **values):
        self.stripe.write(
            {
                "legal_surcharge_enabled": True,
                "legal_surcharge_percent": percent,
                "legal_surcharge_cap": cap,
                **values,
            }
        )

    def _surcharge_moves(self, tx):
        return self.env["account.move"].search([("ref", "=", f"Card surcharge {tx.reference}")])

    def _soc_balance(self):
        soc = self.stripe_operating_journal.default_account_id
        lines = self.env["account.move.line"].search(
            [("account_id", "=", soc.id), ("parent_state", "=", "posted")]
        )
        return self.currency.round(sum(lines.mapped("balance")))


@tagged("post_install", "-at_install")
class TestSurchargeAmount(SurchargeCase):
    def test_surcharge_is_off_by_default_and_charges_the_invoice_amount(self):
        self.assertFalse(self.stripe.legal_surcharge_enabled)
        defaults = self.env["payment.provider"].default_get(["legal_surcharge_enabled"])
        self.assertFalse(defaults.get("legal_surcharge_enabled"))
        tx = self._invoice_tx()
        self.assertEqual((tx.amount, tx.legal_surcharge_amount), (500.0, 0.0))

    def test_card_payment_gets_the_percentage_rounded_by_the_currency(self):
        self._enable_surcharge(percent=2.9)
        tx = self._invoice_tx()
        self.assertEqual((tx.amount, tx.legal_surcharge_amount), (514.5, 14.5))
        # 333.33 x 2.9 % = 9.66657: 9.67 charged on top.
        partial = self._invoice_tx(amount=333.33, reference="INV-TX-PARTIAL")
        self.assertEqual(partial.legal_surcharge_amount, 9.67)
        self.assertEqual(partial.amount, 343.0)

    def test_the_cap_limits_the_surcharge(self):
        self._enable_surcharge(percent=3.0, cap=10.0)
        tx = self._invoice_tx()
        self.assertEqual((tx.amount, tx.legal_surcharge_amount), (510.0, 10.0))
        small = self._invoice_tx(amount=100.0, reference="INV-TX-SMALL")
        self.assertEqual((small.amount, small.legal_surcharge_amount), (103.0, 3.0))

    def test_card_brands_are_surcharged_ach_and_other_methods_are_not(self):
        self._enable_surcharge(percent=3.0)
        visa = self._invoice_tx(payment_method_id=self.visa.id, reference="INV-TX-VISA")
        self.assertEqual(visa.legal_surcharge_amount, 15.0)
        ach = self._invoice_tx(payment_method_id=self.ach.id, reference="INV-TX-ACH")
        self.assertEqual((ach.amount, ach.legal_surcharge_amount), (500.0, 0.0))
        sepa = self.env.ref("payment.payment_method_sepa_direct_debit")
        other = self._invoice_tx(payment_method_id=sepa.id, reference="INV-TX-SEPA")
        self.assertEqual((other.amount, other.legal_surcharge_amount), (500.0, 0.0))

    def test_a_surcharge_in_the_create_values_is_not_trusted(self):
        self._enable_surcharge(percent=3.0, cap=10.0)
        tx = self._invoice_tx(legal_surcharge_amount=0.0)
        self.assertEqual((tx.amount, tx.legal_surcharge_amount), (510.0, 10.0))
        self._enable_surcharge(percent=0.0, legal_surcharge_enabled=False)
        tx = self._invoice_tx(legal_surcharge_amount=99.0, reference="INV-TX-OFF")
        self.assertEqual((tx.amount, tx.legal_surcharge_amount), (500.0, 0.0))

    def test_validation_refund_capture_and_firm_charges_are_not_surcharged(self):
        self._enable_surcharge(percent=3.0)
        validation = self._invoice_tx(
            amount=1.0, operation="validation", invoice_ids=[], reference="VAL-TX"
        )
        self.assertEqual((validation.amount, validation.legal_surcharge_amount), (1.0, 0.0))
        offline = self._invoice_tx(operation="offline", reference="INV-TX-OFFLINE")
        self.assertEqual((offline.amount, offline.legal_surcharge_amount), (500.0, 0.0))
        tx = self._invoice_tx()
        self.assertEqual(tx.amount, 515.0)
        refund = tx._create_child_transaction(100.0, is_refund=True)
        self.assertEqual((refund.amount, refund.legal_surcharge_amount), (-100.0, 0.0))
        capture = tx._create_child_transaction(200.0)
        self.assertEqual((capture.amount, capture.legal_surcharge_amount), (200.0, 0.0))

    def test_blocked_countries_and_states_are_not_surcharged(self):
        self._enable_surcharge(percent=3.0)
        self.client_partner.write({"country_id": self.us.id, "state_id": self.massachusetts.id})
        self.stripe.legal_surcharge_state_ids = self.massachusetts
        tx = self._invoice_tx(reference="INV-TX-MA")
        self.assertEqual((tx.amount, tx.legal_surcharge_amount), (500.0, 0.0))
        self.stripe.write(
            {
                "legal_surcharge_state_ids": [Command.clear()],
                "legal_surcharge_country_ids": [Command.set(self.us.ids)],
            }
        )
        tx = self._invoice_tx(reference="INV-TX-US")
        self.assertEqual(tx.legal_surcharge_amount, 0.0)
        # A client elsewhere is surcharged.
        self.client_partner.write(
            {"country_id": self.env.ref("base.ca").id, "state_id": self.ontario.id}
        )
        tx = self._invoice_tx(reference="INV-TX-CA")
        self.assertEqual((tx.amount, tx.legal_surcharge_amount), (515.0, 15.0))

    def test_stripe_card_form_is_set_up_for_the_total_charged(self):
        self._enable_surcharge(percent=3.0, cap=10.0)

        def minor_amount(method):
            values = self.stripe._stripe_get_inline_form_values(
                500.0, self.currency, self.client_partner.id, False, payment_method_sudo=method
            )
            return json.loads(values)["minor_amount"]

        self.assertEqual(minor_amount(self.card), 51000)
        self.assertEqual(minor_amount(self.ach), 50000)
        self.stripe.legal_surcharge_enabled = False
        self.assertEqual(minor_amount(self.card), 50000)


@tagged("post_install", "-at_install")
class TestSurchargeSettings(SurchargeCase):
    def test_trust_provider_refuses_the_surcharge(self):
        with self.assertRaises(ValidationError) as refused:
            self.stripe_trust.write(
                {"legal_surcharge_enabled": True, "legal_surcharge_percent": 3.0}
            )
        self.assertIn("client money held in trust is never surcharged", str(refused.exception))
        self.env.invalidate_all()
        self.assertFalse(self.stripe_trust.legal_surcharge_enabled)
        # An operating provider that surcharges cannot be moved onto a trust journal.
        self._enable_surcharge(percent=3.0)
        with self.assertRaises(ValidationError) as refused:
            self.stripe.journal_id = self.stripe_trust_journal
        self.assertIn("pays into a trust account", str(refused.exception))
        self.env.invalidate_all()
        self.assertEqual(self.stripe.journal_id, self.stripe_operating_journal)

    def test_out_of_range_percentages_and_caps_are_refused_and_change_nothing(self):
        self._enable_surcharge(percent=3.0, cap=10.0)
        for values in (
            {"legal_surcharge_percent": 0.0},
            {"legal_surcharge_percent": 10.01},
            {"legal_surcharge_percent": -1.0},
            {"legal_surcharge_cap": -0.01},
        ):
            with self.assertRaises(ValidationError, msg=values):
                self.stripe.write(values)
        self.env.invalidate_all()
        self.assertEqual(
            (self.stripe.legal_surcharge_percent, self.stripe.legal_surcharge_cap), (3.0, 10.0)
        )
        self.stripe.legal_surcharge_percent = 10.0  # The highest allowed.
        self.assertEqual(self._invoice_tx().legal_surcharge_amount, 10.0)

    def test_trust_deposits_and_payments_into_a_trust_journal_are_never_surcharged(self):
        self._enable_surcharge(percent=3.0)
        deposit = self._deposit_tx()
        self.assertEqual((deposit.amount, deposit.legal_surcharge_amount), (1000.0, 0.0))
        # Even a deposit wrongly sent through the operating provider.
        stray = self._deposit_tx(provider_id=self.stripe.id, reference="TRUST-TX-STRAY")
        self.assertEqual(stray.legal_surcharge_amount, 0.0)
        # And when the operating provider's journal is later marked as a trust account.
        self.stripe_operating_journal.is_trust_account = True
        tx = self._invoice_tx(reference="INV-TX-TRUST-JOURNAL")
        self.assertEqual((tx.amount, tx.legal_surcharge_amount), (500.0, 0.0))


@tagged("post_install", "-at_install")
class TestSurchargeBooking(SurchargeCase):
    def _pay_by_webhook(self, tx, fee=1509, pi_id="pi_legal_1", event_id="evt_legal_1"):
        with self.recorded_stripe(
            recorded_card_payment(pi_id=pi_id, amount=round(tx.amount * 100), fee=fee)
        ):
            return self._receive_and_process(
                self._event(
                    "payment_intent.succeeded",
                    self._payment_intent(tx, pi_id=pi_id),
                    event_id=event_id,
                )
            )

    def test_surcharge_is_its_own_income_entry_and_the_invoice_is_paid_exactly(self):
        self._enable_surcharge(percent=3.0, cap=10.0)
        soc = self.stripe_operating_journal.default_account_id
        soc_before = self._soc_balance()
        tx = self._invoice_tx()
        self.assertEqual(tx.amount, 510.0)
        event = self._pay_by_webhook(tx, fee=1509)
        self.assertEqual(event.state, "done")
        self.assertEqual(tx.state, "done")

        # The invoice is paid exactly: a payment of 500, nothing left over on the receivable.
        self.assertEqual(self.invoice.payment_state, "paid")
        self.assertEqual(tx.payment_id.amount, 500.0)
        receivable = self.env["account.move.line"].search(
            [
                ("partner_id", "=", self.client_partner.id),
                ("account_id.account_type", "=", "asset_receivable"),
                ("parent_state", "=", "posted"),
            ]
        )
        self.assertEqual(sum(receivable.mapped("amount_residual")), 0.0)
        self.assertEqual(sum(receivable.mapped("balance")), 0.0)

        # Dr SOC 10, Cr card surcharges 10, the client on both lines, in the operating journal.
        move = tx.legal_surcharge_move_id
        self.assertEqual(move, self._surcharge_moves(tx))
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.journal_id, self.stripe_operating_journal)
        income = self.env.company.legal_surcharge_account_id
        self.assertEqual(income.account_type, "income_other")
        self.assertEqual(
            sorted((line.account_id, line.debit, line.credit) for line in move.line_ids),
            sorted([(soc, 10.0, 0.0), (income, 0.0, 10.0)]),
        )
        self.assertEqual(move.line_ids.partner_id, self.client_partner)
        self.assertEqual(tx.payment_id.outstanding_account_id, soc)

        # The fee is on the total charged; the payout of 510 - 15.09 empties the clearing.
        self.assertEqual(tx.legal_fee_state, "booked")
        self.assertAlmostEqual(tx.legal_fee_amount, 15.09)
        for entry in tx.payment_id.move_id + move + tx.legal_fee_move_id:
            self.assertEqual(sum(entry.line_ids.mapped("balance")), 0.0, entry.ref)
        self.assertAlmostEqual(self._soc_balance() - soc_before, 494.91)
        self.stripe._legal_book_payout(
            {"id": "po_surcharge", "amount": 49491, "currency": "usd", "arrival_date": None}
        )
        self.assertAlmostEqual(self._soc_balance(), soc_before)

    def test_the_same_webhook_twice_books_one_surcharge(self):
        self._enable_surcharge(percent=3.0)
        tx = self._invoice_tx()
        self._pay_by_webhook(tx)
        self._pay_by_webhook(tx, event_id="evt_legal_2")  # Stripe's redelivery.
        tx._post_process()  # The status poll.
        self.env["payment.transaction"]._cron_post_process()
        self.assertEqual(len(self._surcharge_moves(tx)), 1)
        self.assertEqual(
            self.env["account.payment"].search_count([("payment_transaction_id", "=", tx.id)]), 1
        )
        self.assertEqual(self.invoice.payment_state, "paid")

    def test_the_surcharge_account_is_created_once_or_taken_from_the_provider(self):
        self._enable_surcharge(percent=3.0)
        self.env.company.legal_surcharge_account_id = False
        first = self._invoice_tx(amount=100.0, reference="INV-TX-A")
        self._pay_by_webhook(first, pi_id="pi_legal_a", event_id="evt_a")
        second = self._invoice_tx(amount=100.0, reference="INV-TX-B")
        self._pay_by_webhook(second, pi_id="pi_legal_b", event_id="evt_b")
        accounts = (first + second).legal_surcharge_move_id.line_ids.account_id
        income = self.env.company.legal_surcharge_account_id
        self.assertTrue(income)
        self.assertEqual(accounts, self.stripe_operating_journal.default_account_id + income)
        own = self.env["account.account"].create(
            {"name": "Surcharge income", "code": "449900", "account_type": "income"}
        )
        self.stripe.legal_surcharge_account_id = own
        third = self._invoice_tx(amount=100.0, reference="INV-TX-C")
        self._pay_by_webhook(third, pi_id="pi_legal_c", event_id="evt_c")
        self.assertIn(own, third.legal_surcharge_move_id.line_ids.account_id)
        self.assertEqual(self.invoice.payment_state, "partial")

    def test_a_payment_without_surcharge_books_no_surcharge_entry(self):
        tx = self._invoice_tx()
        self._pay_by_webhook(tx, fee=1480)
        self.assertEqual(self.invoice.payment_state, "paid")
        self.assertEqual(tx.payment_id.amount, 500.0)
        self.assertFalse(tx.legal_surcharge_move_id)
        self.assertFalse(self._surcharge_moves(tx))


@tagged("post_install", "-at_install")
class TestSurchargeStripeEmulator(StripeEmulatorCase, SurchargeCase):
    def test_the_emulator_charges_the_total_and_the_invoice_is_paid_exactly(self):
        self._enable_surcharge(percent=3.0, cap=10.0)
        tx = self._invoice_tx()
        pi_id = self._customer_pays(tx, CARD_OK)
        intent = self.sdk.v1.payment_intents.retrieve(pi_id)
        self.assertEqual((intent.amount, intent.status), (51000, "succeeded"))
        self._return_route(tx, pi_id)
        self.assertEqual(tx.state, "done")
        self.assertEqual(self.invoice.payment_state, "paid")
        self.assertEqual(tx.payment_id.amount, 500.0)
        self.assertEqual(tx.legal_surcharge_move_id.amount_total, 10.0)
        tx._post_process()  # The status poll once more: nothing more is booked.
        self.assertEqual(len(self._surcharge_moves(tx)), 1)


@tagged("post_install", "-at_install")
class TestSurchargePaymentForm(StripeEmulatorCase, SurchargeCase, PaymentHttpCommon):
    NOTICE = (
        "Card payments carry a surcharge of 3% (at most $ 10.00): you will pay $ {total} by "
        "card; bank transfer/ACH has no surcharge."
    )

    def _notices(self, response):
        self.assertEqual(response.status_code, 200)
        tree = html.fromstring(response.content)
        return [
            " ".join(node.text_content().replace("\xa0", " ").split())
            for node in tree.xpath("//div[hasclass('o_legal_surcharge_notice')]")
        ]

    def _invoice_page(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", True
        )
        return self.url_open(self.invoice.get_portal_url())

    def _pay_page(self, amount=200.0):
        return self._portal_pay(
            amount=amount,
            currency_id=self.currency.id,
            partner_id=self.client_partner.id,
            company_id=self.env.company.id,
            reference="Advice",
            access_token=self._generate_test_access_token(
                self.client_partner.id, amount, self.currency.id
            ),
        )

    def test_pay_now_and_payment_link_show_the_surcharge_before_paying(self):
        self.assertEqual(self._notices(self._invoice_page()), [], "off by default")
        self.assertEqual(self._notices(self._pay_page()), [])
        self._enable_surcharge(percent=3.0, cap=10.0)
        self.assertEqual(self._notices(self._invoice_page()), [self.NOTICE.format(total="510.00")])
        self.assertEqual(self._notices(self._pay_page()), [self.NOTICE.format(total="206.00")])

    def test_no_notice_for_a_blocked_client_or_a_trust_deposit(self):
        self._enable_surcharge(percent=3.0, cap=10.0)
        self.client_partner.write({"country_id": self.us.id, "state_id": self.massachusetts.id})
        self.stripe.legal_surcharge_state_ids = self.massachusetts
        self.assertEqual(self._notices(self._invoice_page()), [])
        self.assertEqual(self._notices(self._pay_page()), [])
        self.stripe.legal_surcharge_state_ids = False
        self.matter._portal_ensure_token()
        deposit_page = self.url_open(
            f"/my/matters/{self.matter.id}/deposit?amount=250"
            f"&access_token={self.matter.access_token}"
        )
        self.assertIn(f'data-provider-id="{self.stripe_trust.id}"', deposit_page.text)
        self.assertEqual(self._notices(deposit_page), [])

    def _invoice_tx_route(self, amount, **extra):
        return self.make_jsonrpc_request(
            self._build_url(f"/invoice/transaction/{self.invoice.id}"),
            {
                "provider_id": self.stripe.id,
                "payment_method_id": self.card.id,
                "token_id": None,
                "amount": amount,
                "flow": "direct",
                "tokenization_requested": False,
                "landing_route": self.invoice.get_portal_url(),
                "access_token": self.invoice._portal_ensure_token(),
                **extra,
            },
        )

    @mute_logger("odoo.http")
    def test_the_amount_posted_by_the_client_is_checked_and_the_surcharge_added_on_the_server(
        self,
    ):
        self._enable_surcharge(percent=3.0, cap=10.0)
        Tx = self.env["payment.transaction"].sudo()
        domain = [("invoice_ids", "in", self.invoice.ids)]
        # The total with the surcharge posted as the amount to pay: more than is due.
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.ValidationError"):
            self._invoice_tx_route(510.0)
        # A surcharge of its own posted by the client: refused.
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.ValidationError"):
            self._invoice_tx_route(500.0, legal_surcharge_amount=0.0)
        self.assertFalse(Tx.search_count(domain))

        processing_values = self._invoice_tx_route(500.0)
        tx = Tx.search(domain)
        self.assertEqual((tx.amount, tx.legal_surcharge_amount), (510.0, 10.0))
        self.assertEqual(processing_values["reference"], tx.reference)
        intent = self.sdk.v1.payment_intents.retrieve(tx.provider_reference)
        self.assertEqual(intent.amount, 51000, "Stripe charges the total")

    @mute_logger("odoo.http")
    def test_a_payment_link_amount_changed_by_the_client_is_refused(self):
        self._enable_surcharge(percent=3.0, cap=10.0)
        Tx = self.env["payment.transaction"].sudo()
        before = Tx.search_count([])
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.ValidationError"):
            self.make_jsonrpc_request(
                self._build_url("/payment/transaction"),
                {
                    "provider_id": self.stripe.id,
                    "payment_method_id": self.card.id,
                    "token_id": None,
                    "amount": 194.17,  # 200 on the page, posted lower to pay 200 in all.
                    "currency_id": self.currency.id,
                    "partner_id": self.client_partner.id,
                    "flow": "direct",
                    "tokenization_requested": False,
                    "landing_route": "/my",
                    "reference_prefix": "Advice",
                    "access_token": self._generate_test_access_token(
                        self.client_partner.id, 200.0, self.currency.id
                    ),
                },
            )
        self.assertEqual(Tx.search_count([]), before)


@tagged("post_install", "-at_install")
class TestSurchargeConcurrency(TransactionCase):
    """Two payments of one client post-processed at once, each by two workers (webhook inbox,
    status poll), on committed fixtures removed afterwards: one payment and one surcharge
    entry per transaction, and one surcharge income account created for the company."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            company = env.ref("base.main_company")
            if not company.chart_template:
                self.skipTest("the main company has no chart of accounts")
            journal = env["account.journal"].create(
                {
                    "name": "Stripe Surcharge Concurrency",
                    "code": "STSC",
                    "type": "bank",
                    "company_id": company.id,
                }
            )
            provider = env.ref("payment.payment_provider_stripe").copy(
                {
                    "name": "Stripe Surcharge Concurrency",
                    "state": "test",
                    "journal_id": journal.id,
                    "company_id": company.id,
                    "stripe_secret_key": "sk_test_surcharge_concurrency",
                    "stripe_publishable_key": "pk_test_surcharge_concurrency",
                    "legal_surcharge_enabled": True,
                    "legal_surcharge_percent": 3.0,
                }
            )
            partner = env["res.partner"].create({"name": "Surcharge Concurrency Client"})
            invoices = env["account.move"].create(
                [
                    {
                        "move_type": "out_invoice",
                        "partner_id": partner.id,
                        "company_id": company.id,
                        "invoice_line_ids": [
                            Command.create({"name": "Advice", "quantity": 1, "price_unit": 500.0})
                        ],
                    }
                    for _i in range(2)
                ]
            )
            invoices.invoice_line_ids.tax_ids = False
            invoices.action_post()
            txs = env["payment.transaction"]
            for index, invoice in enumerate(invoices):
                tx = env["payment.transaction"].create(
                    {
                        "provider_id": provider.id,
                        "payment_method_id": env.ref("payment.payment_method_card").id,
                        "reference": f"SURCHARGE-CONCURRENCY-{index}",
                        "amount": invoice.amount_residual,
                        "currency_id": invoice.currency_id.id,
                        "partner_id": partner.id,
                        "operation": "online_direct",
                        "provider_reference": f"pi_surcharge_concurrency_{index}",
                        "invoice_ids": [Command.set(invoice.ids)],
                    }
                )
                tx._set_done()
                tx.legal_fee_state = "none"  # No fee lookup: this test is about the surcharge.
                txs |= tx
            Account = env["account.account"].with_company(company)
            self.ids = {
                "company": company.id,
                "journal": journal.id,
                "provider": provider.id,
                "partner": partner.id,
                "invoices": invoices.ids,
                "txs": txs.ids,
                "income_before": company.legal_surcharge_account_id.id,
                "accounts_before": Account.search([]).ids,
            }
            company.legal_surcharge_account_id = False  # Created by the first surcharge.
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"force_delete": True})
            ids = self.ids
            company = env["res.company"].browse(ids["company"])
            txs = env["payment.transaction"].browse(ids["txs"])
            env["mail.mail"].search([("subject", "ilike", "SURCHARGE-CONCURRENCY")]).unlink()
            payments = env["account.payment"].search([("payment_transaction_id", "in", txs.ids)])
            moves = txs.legal_surcharge_move_id + env["account.move"].browse(ids["invoices"])
            (moves + payments.move_id).line_ids.remove_move_reconcile()
            payments.action_draft()
            payments.unlink()
            moves.filtered(lambda m: m.state == "posted").button_draft()
            moves.unlink()
            txs.unlink()
            env["payment.provider"].browse(ids["provider"]).unlink()
            env["account.journal"].browse(ids["journal"]).unlink()
            env["res.partner"].browse(ids["partner"]).unlink()
            company.legal_surcharge_account_id = ids["income_before"]
            created = env["account.account"].with_company(company).search([]) - env[
                "account.account"
            ].browse(ids["accounts_before"])
            created.filtered(lambda a: a.name == "Card surcharges").unlink()
            cr.commit()  # pylint: disable=invalid-commit

    def _post_process(self, tx_id, barrier, errors):
        try:
            barrier.wait()
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                for _attempt in range(10):
                    try:
                        env["payment.transaction"].browse(tx_id)._post_process()
                        cr.commit()  # pylint: disable=invalid-commit
                        return
                    except (pg_errors.SerializationFailure, pg_errors.LockNotAvailable):
                        cr.rollback()
                        env.invalidate_all()
                errors.append(f"{tx_id}: still conflicting after 10 attempts")
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def test_concurrent_payments_book_one_surcharge_each_and_one_income_account(self):
        tx_ids = self.ids["txs"]
        barrier = threading.Barrier(4)
        errors = []
        threads = [
            threading.Thread(target=self._post_process, args=(tx_id, barrier, errors))
            for tx_id in tx_ids + tx_ids
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertFalse(errors)

        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env["res.company"].browse(self.ids["company"])
            income = company.legal_surcharge_account_id
            self.assertTrue(income)
            created = env["account.account"].with_company(company).search(
                [("name", "=", "Card surcharges")]
            ) - env["account.account"].browse(self.ids["accounts_before"])
            self.assertEqual(created, income, "one income account, however many first payments")
            for tx in env["payment.transaction"].browse(tx_ids):
                self.assertEqual((tx.amount, tx.legal_surcharge_amount), (515.0, 15.0))
                payments = env["account.payment"].search([("payment_transaction_id", "=", tx.id)])
                self.assertEqual(payments.mapped("amount"), [500.0])
                surcharges = env["account.move"].search(
                    [("ref", "=", f"Card surcharge {tx.reference}")]
                )
                self.assertEqual(surcharges, tx.legal_surcharge_move_id)
                self.assertEqual(surcharges.state, "posted")
                self.assertIn(income, surcharges.line_ids.account_id)
                self.assertEqual(tx.invoice_ids.payment_state, "paid")
