# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Authorizations to charge in the client portal: the client's own list and pages, creating one
from a stored method, confirming by the e-mailed link, revoking; and what another client can
never do, by URL or over RPC."""

import re
from datetime import timedelta

from odoo import SUPERUSER_ID, fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.payment.tests.http_common import PaymentHttpCommon

from .common import LegalPaymentsCommon

USER_AGENT = "Mozilla/5.0 (LegalPortalTest)"


@tagged("post_install", "-at_install")
class TestAuthorizationPortal(LegalPaymentsCommon, PaymentHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client_a = cls._create_new_portal_user(
            login="client_a", password="client_a", name="Client Alice", email="alice@example.com"
        )
        cls.client_b = cls._create_new_portal_user(
            login="client_b", password="client_b", name="Client Bruno", email="bruno@example.com"
        )
        cls.partner_a = cls.client_a.partner_id
        cls.partner_b = cls.client_b.partner_id
        cls.token_a = cls._stored_card(cls.partner_a, "1111")
        cls.token_b = cls._stored_card(cls.partner_b, "2222")
        cls.matter_a = cls.env["legal.matter"].create(
            {"title": "Alice estate", "partner_id": cls.partner_a.id, "user_id": cls.lawyer.id}
        )
        cls.matter_b = cls.env["legal.matter"].create(
            {"title": "Bruno lease", "partner_id": cls.partner_b.id, "user_id": cls.lawyer.id}
        )
        Authorization = cls.env["legal.payment.authorization"]
        cls.auth_a = Authorization.create(
            {"partner_id": cls.partner_a.id, "token_id": cls.token_a.id, "max_amount": 400.0}
        )
        cls.auth_b_awaiting = Authorization.create(
            {"partner_id": cls.partner_b.id, "token_id": cls.token_b.id, "max_amount": 700.0}
        )
        cls.auth_b_active = Authorization.create(
            {"partner_id": cls.partner_b.id, "token_id": cls.token_b.id, "max_amount": 800.0}
        )
        cls.auth_b_active.with_user(SUPERUSER_ID)._legal_accept(
            ip_address="192.0.2.1", user_agent="B's browser"
        )

    @classmethod
    def _stored_card(cls, partner, last4):
        return cls.env["payment.token"].create(
            {
                "provider_id": cls.stripe.id,
                "payment_method_id": cls.env.ref("payment.payment_method_card").id,
                "partner_id": partner.id,
                "payment_details": last4,
                "provider_ref": f"cus_{last4}",
                "stripe_payment_method": f"pm_{last4}",
            }
        )

    def _csrf(self, url="/my/payment_method"):
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200, url)
        match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        self.assertTrue(match, f"a form with a CSRF token on {url}")
        return match.group(1)

    def _post(self, url, data, csrf=None):
        return self.url_open(
            url,
            data={"csrf_token": csrf or self._csrf(), **data},
            headers={"User-Agent": USER_AGENT},
        )

    # === The client's own === #

    def test_client_lists_and_reads_their_own_authorizations_only(self):
        self.authenticate("client_a", "client_a")
        listing = self.url_open("/my/payment_authorizations")
        self.assertEqual(listing.status_code, 200)
        self.assertIn(self.auth_a.name, listing.text)
        self.assertNotIn(self.auth_b_active.name, listing.text)
        self.assertNotIn(self.auth_b_awaiting.name, listing.text)
        page = self.url_open(f"/my/payment_authorizations/{self.auth_a.id}")
        self.assertEqual(page.status_code, 200)
        self.assertIn("Client Alice", page.text, "the consent text rendered for Alice's terms")
        self.assertIn("o_legal_confirm", page.text)
        home = self.url_open("/my/home")
        self.assertIn("/my/payment_authorizations", home.text)

    def test_client_authorizes_future_charges_on_a_stored_method_and_confirms(self):
        self.authenticate("client_a", "client_a")
        page = self.url_open("/my/payment_method")
        self.assertIn(f"/my/payment_method/{self.token_a.id}/authorize", page.text)
        self.assertNotIn(f"/my/payment_method/{self.token_b.id}/", page.text)
        csrf = self._csrf(f"/my/payment_method/{self.token_a.id}/authorize")
        Authorization = self.env["legal.payment.authorization"]
        before = Authorization.search_count([])
        url = f"/my/payment_method/{self.token_a.id}/authorize"
        for bad in (
            {"scope": "invoices", "max_amount": "-5"},
            {"scope": "invoices", "max_amount": "nan"},
            {"scope": "trust_topup", "max_amount": "300", "matter_id": str(self.matter_b.id)},
            {"scope": "payment_plan", "max_amount": "300"},
            {"scope": "invoices", "max_amount": "300", "date_end": "2001-01-01"},
        ):
            response = self._post(url, bad, csrf)
            self.assertIn("o_legal_error", response.text, bad)
        self.assertEqual(Authorization.search_count([]), before, "bad input creates nothing")
        response = self._post(
            url,
            {"scope": "trust_topup", "max_amount": "300", "matter_id": str(self.matter_a.id)},
            csrf,
        )
        auth = Authorization.search([], order="id desc", limit=1)
        self.assertEqual(Authorization.search_count([]), before + 1)
        self.assertEqual(
            (auth.partner_id, auth.token_id, auth.scope, auth.matter_id, auth.max_amount),
            (self.partner_a, self.token_a, "trust_topup", self.matter_a, 300.0),
        )
        self.assertEqual(auth.state, "awaiting", "nothing is authorized before the consent")
        self.assertIn(f"/my/payment_authorizations/{auth.id}", response.url)
        self.assertIn(self.matter_a.display_name, response.text)
        consent_id = re.search(r'name="consent_id" value="(\d+)"', response.text).group(1)
        confirm = f"/my/payment_authorizations/{auth.id}/confirm"
        refused = self._post(confirm, {"consent_id": consent_id}, csrf)
        self.assertEqual(refused.status_code, 400, "the checkbox is required")
        self.assertEqual(auth.state, "awaiting")
        self._post(confirm, {"consent_id": consent_id, "accept": "1"}, csrf)
        auth.invalidate_recordset()
        self.assertEqual(auth.state, "active")
        self.assertEqual(auth.accepted_by_id, self.client_a)
        self.assertEqual(auth.accepted_partner_id, self.partner_a)
        self.assertEqual(auth.accepted_ip, "127.0.0.1")
        self.assertEqual(auth.accepted_user_agent, USER_AGENT)
        self.assertIn(self.matter_a.display_name, auth.consent_text)
        self.assertIn("300.00", auth.consent_text)

    def test_client_makes_a_method_the_default_and_forms_preselect_it(self):
        second = self._stored_card(self.partner_a, "3333")
        self.authenticate("client_a", "client_a")
        self._post(f"/my/payment_method/{self.token_a.id}/default", {})
        self.assertTrue(self.token_a.legal_is_default)
        self._post(f"/my/payment_method/{second.id}/default", {})
        self.token_a.invalidate_recordset()
        self.assertEqual((self.token_a | second).mapped("legal_is_default"), [False, True])
        page = self.url_open("/my/payment_method")
        self.assertIn("o_legal_default_badge", page.text)

    def test_client_revokes_their_authorization(self):
        self.auth_a.with_user(SUPERUSER_ID)._legal_accept()
        self.authenticate("client_a", "client_a")
        self._post(f"/my/payment_authorizations/{self.auth_a.id}/revoke", {})
        self.assertEqual(self.auth_a.state, "revoked")
        self.assertEqual(self.auth_a.revoked_by_id, self.client_a)
        self.assertIn("Revoked by Client Alice", " ".join(self.auth_a.message_ids.mapped("body")))
        page = self.url_open(f"/my/payment_authorizations/{self.auth_a.id}")
        self.assertIn("o_legal_revoked", page.text)
        self.assertNotIn("o_legal_revoke_form", page.text)

    # === Staff: created on the partner, confirmed by the e-mailed link === #

    def test_staff_authorization_is_confirmed_through_the_emailed_link(self):
        action = self.partner_a.action_legal_view_authorizations()
        self.assertEqual(action["context"]["default_partner_id"], self.partner_a.id)
        self.assertEqual(self.partner_a.legal_authorization_count, 1)
        today = fields.Date.context_today(self.auth_a)
        auth = (
            self.env["legal.payment.authorization"]
            .with_context(**action["context"])
            .create(
                {
                    "token_id": self.token_a.id,
                    "max_amount": 250.0,
                    "date_start": today - timedelta(days=60),
                    "date_end": today + timedelta(days=300),
                }
            )
        )
        self.assertEqual(auth.state, "awaiting")
        auth.action_legal_send_confirmation()
        # Outside the authorization's chatter: no user of the firm reads the link it carries.
        mail = self.env["mail.mail"].search(
            [("recipient_ids", "in", self.partner_a.ids), ("model", "=", False)],
            order="id desc",
            limit=1,
        )
        self.assertIn(self.partner_a, mail.recipient_ids)
        link = re.search(
            r'href="[^"]*(/my/payment_authorizations/\d+\?access_token=[^"&]+)', mail.body_html
        )
        self.assertTrue(link, "the e-mail carries the access-token link")
        url = link.group(1)
        # Logged out, 60 days after the authorization was prepared: the link still opens it.
        page = self.url_open(url)
        self.assertEqual(page.status_code, 200)
        self.assertIn("o_legal_confirm", page.text)
        consent, text = auth._legal_consent_to_show()
        self.assertIn("250.00", text)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        access_token = auth.access_token
        self._post(
            f"/my/payment_authorizations/{auth.id}/confirm",
            {"access_token": access_token, "consent_id": str(consent.id), "accept": "1"},
            csrf,
        )
        auth.invalidate_recordset()
        self.assertEqual(auth.state, "active")
        self.assertEqual(auth.accepted_partner_id, self.partner_a, "the client the link was for")
        self.assertFalse(auth.accepted_by_id, "not signed in: no user, the link's client")
        self.assertEqual(auth.accepted_ip, "127.0.0.1")
        self.assertEqual(auth.accepted_user_agent, USER_AGENT)
        self.assertEqual(auth.consent_text, text, "the exact text shown")
        auth.action_revoke()
        page = self.url_open(url)
        self.assertIn("o_legal_revoked", page.text, "a revoked one shows as revoked")

    def test_link_of_an_ended_authorization_cannot_confirm_it(self):
        today = fields.Date.context_today(self.auth_a)
        self.auth_a.write(
            {"date_start": today - timedelta(days=30), "date_end": today - timedelta(days=1)}
        )
        url = self.auth_a.get_portal_url()
        page = self.url_open(url)
        self.assertNotIn("o_legal_confirm", page.text)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        consent, _text = self.auth_a._legal_consent_to_show()
        response = self._post(
            f"/my/payment_authorizations/{self.auth_a.id}/confirm",
            {
                "access_token": self.auth_a.access_token,
                "consent_id": str(consent.id),
                "accept": "1",
            },
            csrf,
        )
        self.assertIn("expired", response.text)
        self.assertEqual(self.auth_a.state, "awaiting")

    def test_consent_text_changed_while_reading_is_not_accepted(self):
        old = self.auth_a._legal_consent_to_show()[0]
        self.env["legal.payment.consent"].create(
            {"name": "2026-12 v2", "company_id": self.env.company.id, "body": "New: {client}"}
        )
        self.authenticate("client_a", "client_a")
        response = self._post(
            f"/my/payment_authorizations/{self.auth_a.id}/confirm",
            {"consent_id": str(old.id), "accept": "1"},
        )
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.auth_a.state, "awaiting")

    # === Another client: never by URL === #

    def test_client_cannot_open_confirm_or_revoke_another_clients_authorization(self):
        self.authenticate("client_a", "client_a")
        csrf = self._csrf()
        for auth in (self.auth_b_awaiting, self.auth_b_active):
            page = self.url_open(f"/my/payment_authorizations/{auth.id}")
            self.assertNotIn(auth.name, page.text)
            self.assertNotIn("Client Bruno", page.text)
            guessed = self.url_open(
                f"/my/payment_authorizations/{auth.id}?access_token={self.auth_a._portal_ensure_token()}"
            )
            self.assertNotIn(auth.name, guessed.text)
        self._post(
            f"/my/payment_authorizations/{self.auth_b_awaiting.id}/confirm",
            {"accept": "1", "access_token": "guess"},
            csrf,
        )
        self._post(f"/my/payment_authorizations/{self.auth_b_active.id}/revoke", {}, csrf)
        self._post(f"/my/payment_authorizations/{self.auth_b_awaiting.id}/revoke", {}, csrf)
        self.assertEqual(self.auth_b_awaiting.state, "awaiting")
        self.assertFalse(self.auth_b_awaiting.accepted_date)
        self.assertEqual(self.auth_b_active.state, "active")

    @mute_logger("odoo.http")
    def test_client_cannot_use_another_clients_payment_method(self):
        self.authenticate("client_a", "client_a")
        csrf = self._csrf()
        default = self._post(f"/my/payment_method/{self.token_b.id}/default", {}, csrf)
        self.assertEqual(default.status_code, 404)
        self.assertFalse(self.token_b.legal_is_default)
        before = self.env["legal.payment.authorization"].search_count([])
        authorize = self._post(
            f"/my/payment_method/{self.token_b.id}/authorize",
            {"scope": "invoices", "max_amount": "100"},
            csrf,
        )
        self.assertEqual(authorize.status_code, 404)
        self.assertEqual(self.env["legal.payment.authorization"].search_count([]), before)

    # === Another client: never over RPC === #

    def test_client_cannot_read_another_clients_records_over_rpc(self):
        Authorization = self.env["legal.payment.authorization"].with_user(self.client_a)
        self.assertEqual(Authorization.search([]), self.auth_a.with_user(self.client_a))
        for auth in (self.auth_b_awaiting, self.auth_b_active):
            with self.assertRaises(AccessError):
                auth.with_user(self.client_a).read(["consent_text", "max_amount"])
            with self.assertRaises(AccessError):
                auth.with_user(self.client_a).action_revoke()
        Token = self.env["payment.token"].with_user(self.client_a)
        self.assertFalse(Token.search([("id", "=", self.token_b.id)]))
        with self.assertRaises(AccessError):
            self.token_b.with_user(self.client_a).read(["payment_details"])
        with self.assertRaises(AccessError):
            self.token_b.with_user(self.client_a).action_legal_make_default()
        with self.assertRaises(AccessError):
            Authorization.create(
                {"partner_id": self.partner_a.id, "token_id": self.token_a.id, "max_amount": 1.0}
            )

    # === Consent is recorded only by the client's confirmation === #

    def test_staff_cannot_record_a_consent_by_hand(self):
        billing = new_test_user(
            self.env,
            login="billing_clerk",
            groups="base.group_user,account.group_account_invoice",
        )
        Authorization = self.env["legal.payment.authorization"].with_user(billing)
        values = {"partner_id": self.partner_a.id, "token_id": self.token_a.id, "max_amount": 50.0}
        for forged in ({"state": "active"}, {"accepted_ip": "192.0.2.99"}):
            with self.assertRaises(AccessError):
                Authorization.create({**values, **forged})
        auth = Authorization.create(values)
        self.assertEqual(auth.state, "awaiting")
        with self.assertRaises(AccessError):
            auth.write({"state": "active", "accepted_date": fields.Datetime.now()})
        auth.action_legal_send_confirmation()
        self.assertTrue(auth.confirmation_sent_date)
        with self.assertRaises(AccessError):
            self.auth_a.with_user(self.client_a).action_legal_send_confirmation()

    def test_default_method_is_preselected_when_paying_an_invoice(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", True
        )
        second = self._stored_card(self.partner_a, "3333")
        second.action_legal_make_default()
        invoice = self.init_invoice(
            "out_invoice", partner=self.partner_a, amounts=[120.0], post=True, taxes=[]
        )
        self.authenticate("client_a", "client_a")
        page = self.url_open(f"/my/invoices/{invoice.id}")
        self.assertEqual(page.status_code, 200)
        checked = re.findall(r'<input[^>]*id="o_payment_token_(\d+)"[^>]*>', page.text)
        self.assertEqual({int(i) for i in checked}, {self.token_a.id, second.id})
        radio = re.search(rf'<input[^>]*id="o_payment_token_{second.id}"[^>]*>', page.text)
        self.assertIn("checked", radio.group(0), "the default method is pre-selected")
        other = re.search(rf'<input[^>]*id="o_payment_token_{self.token_a.id}"[^>]*>', page.text)
        self.assertNotIn("checked", other.group(0))
