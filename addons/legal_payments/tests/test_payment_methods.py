# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Stored payment methods: cards saved through a Stripe SetupIntent (on the Stripe emulator),
US bank accounts (recorded Stripe responses: the emulator has no ``us_bank_account``), the
client's default method, and removing a method."""

import threading

import psycopg2
import stripe
from psycopg2 import errors as pg_errors

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.fields import Command
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.payment_stripe.controllers.main import StripeController

from .test_stripe_emulator_flows import CARD_OK, StripeEmulatorCase

#: A card Stripe refuses to save (``card_declined`` when the SetupIntent is confirmed).
CARD_REFUSED = "4000000000000002"


@tagged("post_install", "-at_install")
class TestPaymentMethods(StripeEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stripe.allow_tokenization = True
        cls.card_method = cls.env.ref("payment.payment_method_card")
        cls.ach_method = cls.env.ref("payment.payment_method_ach_direct_debit")

    def _validation_tx(self, payment_method=None, reference="V-LEGAL-1", **values):
        return (
            self.env["payment.transaction"]
            .sudo()
            .create(
                {
                    "provider_id": self.stripe.id,
                    "payment_method_id": (payment_method or self.card_method).id,
                    "reference": reference,
                    "amount": 0.0,
                    "currency_id": self.currency.id,
                    "partner_id": self.client_partner.id,
                    "operation": "validation",
                    "tokenize": True,
                    **values,
                }
            )
        )

    def _save_card(self, number=CARD_OK, reference="V-LEGAL-1"):
        """What /my/payment_method does with Stripe: a SetupIntent confirmed by Stripe.js,
        then the return route reading it back with its payment method."""
        tx = self._validation_tx(reference=reference)
        processing_values = tx._get_processing_values()
        seti_id = processing_values["client_secret"].split("_secret_")[0]
        self.assertTrue(seti_id.startswith("seti_"))
        try:
            self.sdk.v1.setup_intents.confirm(seti_id, {"payment_method": self._card(number).id})
        except stripe.CardError:  # A declined card: the SetupIntent is canceled.
            self.assertEqual(number, CARD_REFUSED)
        setup_intent = tx.provider_id._stripe_make_request(
            f"setup_intents/{seti_id}", payload={"expand[]": "payment_method"}, method="GET"
        )
        if isinstance(setup_intent.get("payment_method"), str):
            setup_intent["payment_method"] = tx.provider_id._stripe_make_request(
                f"payment_methods/{setup_intent['payment_method']}", method="GET"
            )
        data = {"reference": tx.reference}
        StripeController._include_setup_intent_in_notification_data(setup_intent, data)
        tx._handle_notification_data("stripe", data)
        tx._post_process()
        return tx

    def _token(self, details="4242", **values):
        return self.env["payment.token"].create(
            {
                "provider_id": self.stripe.id,
                "payment_method_id": self.card_method.id,
                "partner_id": self.client_partner.id,
                "payment_details": details,
                "provider_ref": "cus_legal",
                "stripe_payment_method": f"pm_legal_{details}",
                **values,
            }
        )

    # === Cards through a SetupIntent === #

    def test_card_saved_through_a_setup_intent_is_charged_only_under_an_authorization(self):
        tx = self._save_card()
        self.assertEqual(tx.state, "done")
        token = tx.token_id
        self.assertTrue(token, "the validation saved the card")
        self.assertEqual(token.partner_id, self.client_partner)
        self.assertEqual(token.payment_details, "4242")
        self.assertTrue(token.stripe_payment_method.startswith("pm_"))
        self.assertTrue(token.provider_ref.startswith("cus_"))
        charge = self._invoice_tx(token_id=token.id, operation="offline", reference="INV-PM-1")
        with self.assertRaisesRegex(UserError, "no authorization to charge"):
            charge._send_payment_request()
        authorization = self.env["legal.payment.authorization"].create(
            {
                "partner_id": self.client_partner.id,
                "token_id": token.id,
                "scope": "invoices",
                "max_amount": 500.0,
            }
        )
        authorization.with_user(SUPERUSER_ID)._legal_accept(
            ip_address="198.51.100.4", user_agent="Test"
        )
        charge = self._invoice_tx(token_id=token.id, operation="offline", reference="INV-PM-2")
        charge._send_payment_request()
        charge._post_process()
        self.assertEqual(charge.state, "done")
        self.assertEqual(charge.legal_authorization_id, authorization)
        self.assertEqual(self.invoice.payment_state, "paid")

    def test_declined_card_is_not_saved(self):
        before = self.env["payment.token"].search_count([])
        tx = self._save_card(CARD_REFUSED)
        self.assertNotEqual(tx.state, "done")
        self.assertEqual(self.env["payment.token"].search_count([]), before)

    def test_many_cards_can_be_saved(self):
        tokens = self.env["payment.token"]
        for index in range(6):
            tokens |= self._save_card(reference=f"V-LEGAL-MANY-{index}").token_id
        self.assertEqual(len(tokens), 6, "no cap on the number of stored methods")
        self.assertEqual(len(set(tokens.mapped("stripe_payment_method"))), 6)

    # === US bank accounts (recorded responses) === #

    def test_us_bank_account_can_be_offered_and_saved(self):
        """Recorded SetupIntent: the emulator (localstripe) knows no ``us_bank_account``."""
        self.assertTrue(self.ach_method.support_tokenization)
        self.ach_method.active = True
        self.stripe.payment_method_ids = [Command.link(self.ach_method.id)]
        self.client_partner.country_id = self.env.ref("base.us")
        offered = self.env["payment.method"]._get_compatible_payment_methods(
            self.stripe.ids, self.client_partner.id, force_tokenization=True
        )
        self.assertIn(self.ach_method, offered, "offered on /my/payment_method")
        # The SetupIntent recorded below is the one created for the transaction.
        tx = self._validation_tx(
            payment_method=self.ach_method,
            reference="V-LEGAL-ACH",
            provider_reference="seti_legal_ach",
        )
        bank_account = {
            "id": "pm_legal_bank",
            "object": "payment_method",
            "type": "us_bank_account",
            "customer": "cus_legal_ach",
            "us_bank_account": {
                "account_holder_type": "individual",
                "account_type": "checking",
                "bank_name": "STRIPE TEST BANK",
                "last4": "6789",
                "routing_number": "110000000",
            },
        }
        setup_intent = {
            "id": "seti_legal_ach",
            "object": "setup_intent",
            "customer": "cus_legal_ach",
            "description": tx.reference,
            "payment_method": bank_account,
            "payment_method_types": ["us_bank_account"],
            "status": "succeeded",
            "usage": "off_session",
            "mandate": "mandate_legal_ach",
        }
        data = {"reference": tx.reference}
        StripeController._include_setup_intent_in_notification_data(setup_intent, data)
        tx._handle_notification_data("stripe", data)
        self.assertEqual(tx.state, "done")
        token = tx.token_id
        self.assertEqual(token.payment_method_id, self.ach_method)
        self.assertEqual(token.payment_details, "6789")
        self.assertEqual(token.stripe_payment_method, "pm_legal_bank")
        charge = self._invoice_tx(
            token_id=token.id,
            payment_method_id=self.ach_method.id,
            operation="offline",
            reference="INV-ACH-1",
        )
        with self.assertRaisesRegex(UserError, "no authorization to charge"):
            charge._send_payment_request()

    # === The default method === #

    def test_one_default_method_per_client(self):
        first, second = self._token("1111"), self._token("2222")
        contact = self.env["res.partner"].create(
            {"name": "Ann's assistant", "parent_id": self.client_partner.id}
        )
        third = self._token("3333", partner_id=contact.id)
        first.action_legal_make_default()
        self.assertTrue(first.legal_is_default)
        second.action_legal_make_default()
        self.assertEqual((first | second).mapped("legal_is_default"), [False, True])
        third.action_legal_make_default()
        self.assertEqual(
            (first | second | third).filtered("legal_is_default"),
            third,
            "one default for the client and their contacts",
        )
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"):
            with self.env.cr.savepoint():
                first.legal_is_default = True
                first.flush_recordset()
        other_client = self.env["res.partner"].create({"name": "Client Bob"})
        other = self._token("4444", partner_id=other_client.id)
        other.action_legal_make_default()
        self.assertTrue(other.legal_is_default and third.legal_is_default)

    def test_default_method_is_listed_first_in_payment_forms(self):
        self._token("1111")
        second = self._token("2222")
        self._token("3333")
        second.action_legal_make_default()
        for is_validation in (False, True):
            tokens = self.env["payment.token"]._get_available_tokens(
                self.stripe.ids, self.client_partner.id, is_validation=is_validation
            )
            self.assertEqual(len(tokens), 3)
            self.assertEqual(tokens[:1], second, "the payment form pre-selects tokens[:1]")

    # === Removing a method === #

    def test_removing_a_method_revokes_its_authorizations(self):
        token = self._token("4242")
        token.action_legal_make_default()
        Authorization = self.env["legal.payment.authorization"]
        active = Authorization.create(
            {"partner_id": self.client_partner.id, "token_id": token.id, "max_amount": 900.0}
        )
        active.with_user(SUPERUSER_ID)._legal_accept()
        awaiting = Authorization.create(
            {"partner_id": self.client_partner.id, "token_id": token.id, "max_amount": 100.0}
        )
        token.active = False  # What /payment/archive_token does.
        self.assertEqual((active | awaiting).mapped("state"), ["revoked", "revoked"])
        self.assertFalse(token.legal_is_default)
        for auth in active | awaiting:
            self.assertIn(
                "was removed",
                " ".join(auth.message_ids.mapped("body")),
                "the chatter says why it was revoked",
            )
        with self.assertRaises(UserError):
            token.action_legal_make_default()


@tagged("post_install", "-at_install")
class TestDefaultMethodConcurrency(TransactionCase):
    """Two people choosing the client's default at once (the client in the portal, a colleague
    at the firm): real separate cursors on committed fixtures, removed afterwards."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            client = env["res.partner"].create({"name": "Concurrent Default Client"})
            contact = env["res.partner"].create(
                {"name": "Concurrent Default Contact", "parent_id": client.id}
            )
            provider = env.ref("payment.payment_provider_stripe")
            tokens = env["payment.token"].create(
                [
                    {
                        "provider_id": provider.id,
                        "payment_method_id": env.ref("payment.payment_method_card").id,
                        "partner_id": (contact if index % 2 else client).id,
                        "payment_details": f"000{index}",
                        "provider_ref": "cus_concurrent",
                        "stripe_payment_method": f"pm_concurrent_{index}",
                    }
                    for index in range(4)
                ]
            )
            self.partner_ids = (client | contact).ids
            self.token_ids = tokens.ids
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["payment.token"].browse(self.token_ids).unlink()
            env["res.partner"].browse(self.partner_ids[::-1]).unlink()
            cr.commit()  # pylint: disable=invalid-commit

    def test_concurrent_choices_leave_one_default(self):
        barrier = threading.Barrier(8)
        errors, done = [], []

        def choose(token_id):
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                barrier.wait()
                for _attempt in range(20):
                    try:
                        env["payment.token"].browse(token_id).action_legal_make_default()
                        cr.commit()  # pylint: disable=invalid-commit
                        done.append(token_id)
                        return
                    except (pg_errors.SerializationFailure, pg_errors.UniqueViolation):
                        cr.rollback()
                        env.invalidate_all()
                errors.append(token_id)

        threads = [
            threading.Thread(target=choose, args=(self.token_ids[index % 4],)) for index in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertFalse(errors)
        self.assertEqual(len(done), 8)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            defaults = env["payment.token"].browse(self.token_ids).filtered("legal_is_default")
            self.assertEqual(len(defaults), 1)
            self.assertIn(defaults.id, done, "one of the choices made")
