# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Payment links pay what they were made for: a trust deposit's token pays that deposit only;
a saved card is charged by its owner, logged in, or under an authorization; saving a payment
method pays nothing. Each attack is made over HTTP as a browser would."""

from urllib.parse import parse_qs, urlparse

from odoo.exceptions import UserError
from odoo.fields import Command
from odoo.tests import JsonRpcException, tagged
from odoo.tools import hmac as hmac_tool
from odoo.tools import mute_logger

from odoo.addons.payment.tests.http_common import PaymentHttpCommon

from .. import const
from .test_stripe_emulator_flows import CARD_OK, StripeEmulatorCase


@tagged("post_install", "-at_install")
class TestPaymentLinkPurpose(StripeEmulatorCase, PaymentHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.matter.sudo()._portal_ensure_token()
        cls.other_matter = cls.env["legal.matter"].create(
            {
                "title": "Ann v. Carl",
                "partner_id": cls.client_partner.id,
                "user_id": cls.lawyer.id,
            }
        )
        cls.client_b = cls.env["res.partner"].create({"name": "Client Bob"})
        portal = cls.env.ref("base.group_portal")
        cls.portal_ann, cls.portal_bob = (
            cls.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": name,
                    "login": login,
                    "password": f"{login}-pass-1234",
                    "partner_id": partner.id,
                    "groups_id": [Command.set(portal.ids)],
                }
            )
            for name, login, partner in (
                ("Ann portal", "links_ann", cls.client_partner),
                ("Bob portal", "links_bob", cls.client_b),
            )
        )

    def setUp(self):
        super().setUp()
        customer = self.sdk.v1.customers.create({"name": "Client Ann"})
        card = self._card(CARD_OK)
        self.sdk.v1.payment_methods.attach(card.id, {"customer": customer.id})
        self.card_token = self.env["payment.token"].create(
            {
                "provider_id": self.stripe.id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "partner_id": self.client_partner.id,
                "payment_details": "4242",
                "provider_ref": customer.id,
                "stripe_payment_method": card.id,
            }
        )

    # === Helpers === #

    def _token_of(self, *values):
        """The payment access token Odoo's payment utilities make for ``values``."""
        return hmac_tool(
            self.env(su=True), "generate_access_token", "|".join(str(v) for v in values)
        )

    def _deposit_link_token(self, matter, amount):
        """Open the public deposit link with the matter's portal token, as a visitor would,
        and return the payment access token it hands out."""
        response = self.url_open(
            f"/my/matters/{matter.id}/deposit?amount={amount}&access_token={matter.access_token}",
            allow_redirects=False,
        )
        self.assertEqual(response.status_code, 303)
        query = parse_qs(urlparse(response.headers["Location"]).query)
        self.assertEqual(urlparse(response.headers["Location"]).path, "/payment/pay")
        return query["access_token"][0]

    def _form_values(self, provider=None, flow="direct", token=None, **values):
        return {
            "provider_id": (provider or self.stripe_trust).id,
            "payment_method_id": self.env.ref("payment.payment_method_card").id,
            "token_id": token.id if token else None,
            "flow": flow,
            "tokenization_requested": False,
            "landing_route": "/my",
            **values,
        }

    def _generic_route(self, access_token, amount, **values):
        return self.make_jsonrpc_request(
            self._build_url("/payment/transaction"),
            self._form_values(
                amount=amount,
                currency_id=self.currency.id,
                partner_id=self.client_partner.id,
                access_token=access_token,
                **values,
            ),
        )

    def _deposit_route(self, matter, access_token, amount, **values):
        return self.make_jsonrpc_request(
            self._build_url(f"/legal/trust/transaction/{matter.id}"),
            self._form_values(access_token=access_token, amount=amount, **values),
        )

    def _transactions(self):
        return self.env["payment.transaction"].sudo().search_count([])

    # === Tests === #

    @mute_logger("odoo.http")
    def test_deposit_token_pays_its_deposit_and_nothing_else(self):
        token = self._deposit_link_token(self.matter, 2500.0)
        before = self._transactions()
        # Odoo's generic routes refuse it: no payment of anything else, by card or saved card.
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.ValidationError"):
            self._generic_route(token, 2500.0, provider=self.stripe)
        with self.assertRaises(JsonRpcException):
            self._generic_route(
                token, 2500.0, provider=self.stripe, flow="token", token=self.card_token
            )
        page = self.url_open(
            f"/payment/pay?amount=2500.0&currency_id={self.currency.id}"
            f"&partner_id={self.client_partner.id}&access_token={token}"
        )
        self.assertEqual(page.status_code, 404)
        # Another matter of the same client, another amount: refused.
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.ValidationError"):
            self._deposit_route(self.other_matter, token, 2500.0)
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.ValidationError"):
            self._deposit_route(self.matter, token, 25000.0)
        self.assertEqual(self._transactions(), before, "nothing was created")
        self.assertEqual(self.card_token.sudo().partner_id, self.client_partner)
        # Its own deposit: the payment form opens and the deposit is created.
        page = self.url_open(
            f"/payment/pay?legal_matter_id={self.matter.id}&amount=2500.0"
            f"&currency_id={self.currency.id}&partner_id={self.client_partner.id}"
            f"&access_token={token}"
        )
        self.assertEqual(page.status_code, 200)
        self.assertIn(token, page.text, "the form carries the deposit's own token")
        self.assertNotIn(
            self._token_of(self.client_partner.id, 2500.0, self.currency.id),
            page.text,
            "and no generic token",
        )
        self._deposit_route(self.matter, token, 2500.0)
        tx = (
            self.env["payment.transaction"]
            .sudo()
            .search([("legal_matter_id", "=", self.matter.id)])
        )
        self.assertEqual((tx.amount, tx.provider_id), (2500.0, self.stripe_trust))

    @mute_logger("odoo.http")
    def test_generic_payment_token_does_not_open_nor_pay_a_trust_deposit(self):
        generic = self._token_of(self.client_partner.id, 2500.0, self.currency.id)
        before = self._transactions()
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.ValidationError"):
            self._deposit_route(self.matter, generic, 2500.0)
        page = self.url_open(
            f"/payment/pay?legal_matter_id={self.matter.id}&amount=2500.0"
            f"&currency_id={self.currency.id}&partner_id={self.client_partner.id}"
            f"&access_token={generic}"
        )
        self.assertNotEqual(page.status_code, 200)
        self.assertEqual(self._transactions(), before)

    @mute_logger("odoo.http")
    def test_saved_card_is_not_charged_by_a_visitor_nor_by_another_client(self):
        before = self._transactions()
        generic = self._token_of(self.client_partner.id, 400.0, self.currency.id)
        # A visitor holding a valid payment token of the client: refused.
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.AccessError"):
            self._generic_route(
                generic, 400.0, provider=self.stripe, flow="token", token=self.card_token
            )
        deposit = self._deposit_link_token(self.matter, 400.0)
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.AccessError"):
            self._deposit_route(self.matter, deposit, 400.0, flow="token", token=self.card_token)
        # Bob, logged in, with Ann's payment token and Ann's card: refused.
        self.authenticate("links_bob", "links_bob-pass-1234")
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.AccessError"):
            self._generic_route(
                generic, 400.0, provider=self.stripe, flow="token", token=self.card_token
            )
        self.assertEqual(self._transactions(), before, "nothing was created")
        self.assertFalse(self.sdk.v1.payment_intents.list().data, "nothing was charged")
        # Ann, logged in, charging her own card at the keyboard: paid.
        self.authenticate("links_ann", "links_ann-pass-1234")
        self._generic_route(
            self._token_of(self.client_partner.id, 400.0, self.currency.id),
            400.0,
            provider=self.stripe,
            flow="token",
            token=self.card_token,
        )
        tx = self.env["payment.transaction"].sudo().search([("token_id", "=", self.card_token.id)])
        self.assertEqual((tx.operation, tx.state), ("online_token", "done"))
        self.assertFalse(tx.legal_authorization_id)

    @mute_logger("odoo.http")
    def test_saving_a_payment_method_pays_no_invoice_nor_deposit(self):
        before = self._transactions()
        deposit = self._deposit_link_token(self.matter, 2500.0)
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.ValidationError"):
            self._deposit_route(self.matter, deposit, 2500.0, is_validation=True)
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.ValidationError"):
            self.make_jsonrpc_request(
                self._build_url(f"/invoice/transaction/{self.invoice.id}"),
                self._form_values(
                    provider=self.stripe,
                    access_token=self.invoice._portal_ensure_token(),
                    amount=500.0,
                    is_validation=True,
                ),
            )
        self.assertEqual(self._transactions(), before)
        self.assertFalse(self.matter.trust_balance)

    def test_saved_card_charged_outside_the_portal_needs_an_authorization(self):
        # An `online_token` charge not made through the portal's route for its owner (any
        # other path) is not "the client at the keyboard": the authorization gate applies.
        tx = self._invoice_tx(token_id=self.card_token.id, operation="online_token")
        with self.assertRaisesRegex(UserError, "no authorization to charge"):
            tx._send_payment_request()
        self.assertFalse(self.sdk.v1.payment_intents.list().data, "nothing was charged")
        # With the portal route's marker (the owner, logged in): charged.
        tx.with_context(
            **{const.CLIENT_AT_KEYBOARD_CONTEXT_KEY: const.CLIENT_AT_KEYBOARD_SENTINEL}
        )._send_payment_request()
        self.assertEqual(tx.state, "done")
        # A caller's context value (anything but the marker object itself) does not count.
        other = self._invoice_tx(
            token_id=self.card_token.id, operation="online_token", reference="INV-TX-2"
        )
        with self.assertRaisesRegex(UserError, "no authorization to charge"):
            other.with_context(
                **{const.CLIENT_AT_KEYBOARD_CONTEXT_KEY: True}
            )._send_payment_request()
