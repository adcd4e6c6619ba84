# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Forged consent and fields that move money, attacked the way an attacker would: a firm's
user confirming for the client over HTTP or reading the link's secret over RPC, a visitor with
an expired or used link, a user of another client, a contact using another contact's payment
method, RPC writes of a plan's status, authorization and schedule, and a client asking for
statements without end. Each attack is refused and changes nothing."""

import base64
import re
from datetime import timedelta

from freezegun import freeze_time

from odoo import SUPERUSER_ID, fields
from odoo.exceptions import AccessError, UserError
from odoo.fields import Command
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.payment.tests.http_common import PaymentHttpCommon

from .. import const
from .billing_common import LegalBillingCommon
from .common import LegalPaymentsCommon

USER_AGENT = "Mozilla/5.0 (IntegrityTest)"
CONSENT_FIELDS = (
    "state",
    "consent_id",
    "consent_source",
    "accepted_by_id",
    "accepted_partner_id",
    "accepted_date",
    "accepted_ip",
    "recorded_date",
)


class ConsentCommon(LegalPaymentsCommon, PaymentHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client_a = cls._create_new_portal_user(
            login="consent_a", password="consent_a", name="Client Ada", email="ada@example.com"
        )
        cls.client_b = cls._create_new_portal_user(
            login="consent_b", password="consent_b", name="Client Ben", email="ben@example.com"
        )
        cls.partner_a = cls.client_a.partner_id
        cls.partner_b = cls.client_b.partner_id
        cls.token_a = cls._stored_card(cls.partner_a, "1111")
        cls.billing = new_test_user(
            cls.env,
            login="consent_billing",
            password="consent_billing",
            groups="base.group_user,account.group_account_invoice",
        )
        cls.consent = cls.env["legal.payment.consent"]._legal_current(cls.env.company)

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

    def _authorization(self, partner=None, token=None, max_amount=400.0):
        return self.env["legal.payment.authorization"].create(
            {
                "partner_id": (partner or self.partner_a).id,
                "token_id": (token or self.token_a).id,
                "max_amount": max_amount,
            }
        )

    def _snapshot(self, auth):
        auth.invalidate_recordset()
        return auth.read(list(CONSENT_FIELDS))

    def _csrf_of(self, url):
        page = self.url_open(url)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        self.assertTrue(match, f"a form with a CSRF token on {url}")
        return match.group(1)

    def _confirm(self, auth, access_token=None, consent=True, csrf_url="/my"):
        data = {"csrf_token": self._csrf_of(csrf_url), "accept": "1"}
        if access_token:
            data["access_token"] = access_token
        if consent:
            data["consent_id"] = str(self.consent.id)
        return self.url_open(
            f"/my/payment_authorizations/{auth.id}/confirm",
            data=data,
            headers={"User-Agent": USER_AGENT},
        )

    def _sent_link_token(self, auth):
        """Send the confirmation link and return its token, as read from the e-mail sent."""
        auth.with_user(self.billing).action_legal_send_confirmation()
        mail = self.env["mail.mail"].search(
            [("recipient_ids", "in", auth.partner_id.ids)], order="id desc", limit=1
        )
        match = re.search(
            rf"/my/payment_authorizations/{auth.id}\?access_token=([^\"&]+)", mail.body_html
        )
        self.assertTrue(match, "the e-mail carries the confirmation link")
        return match.group(1)


@tagged("post_install", "-at_install")
class TestForgedConsent(ConsentCommon):
    # === A firm's user never accepts for the client === #

    def test_staff_user_confirming_over_http_is_refused_and_nothing_is_recorded(self):
        auth = self._authorization()
        before = self._snapshot(auth)
        self.authenticate("consent_billing", "consent_billing")
        page = self.url_open(f"/my/payment_authorizations/{auth.id}")
        self.assertNotIn("o_legal_confirm_form", page.text, "no confirm form for the firm")
        response = self._confirm(auth, csrf_url=f"/my/payment_authorizations/{auth.id}")
        self.assertEqual(response.status_code, 403)
        self.assertIn("Only the client accepts", response.text)
        self.assertEqual(self._snapshot(auth), before)
        self.assertEqual(auth.state, "awaiting")

    def test_staff_user_accepting_through_the_model_is_refused(self):
        auth = self._authorization()
        before = self._snapshot(auth)
        with self.assertRaises(AccessError):
            auth.with_user(self.billing)._legal_accept(consent=self.consent)
        with self.assertRaises(AccessError):
            auth.with_user(self.billing).sudo()._legal_accept(consent=self.consent)
        self.assertEqual(self._snapshot(auth), before)

    def test_staff_cannot_read_the_confirmation_link_secret_over_rpc(self):
        auth = self._authorization()
        token = self._sent_link_token(auth)
        as_billing = auth.with_user(self.billing)
        with self.assertRaises(AccessError):
            as_billing.read(["access_token"])
        with self.assertRaises(AccessError):
            as_billing.get_portal_url()
        with self.assertRaises(AccessError):
            as_billing.write({"access_token": "chosen-by-the-clerk"})
        self.assertNotIn("access_token", as_billing.read()[0], "not among the fields read")
        # Nor from the e-mail: it is outside the record's chatter, created by the system.
        Message = self.env["mail.message"].with_user(self.billing)
        self.assertFalse(Message.search([("body", "ilike", token)]))
        self.assertFalse(
            Message.search([("model", "=", auth._name), ("res_id", "=", auth.id)]).filtered(
                lambda m: token in (m.body or "")
            )
        )
        self.assertEqual(auth.state, "awaiting")

    # === The e-mailed link: once, until it expires === #

    def test_public_visitor_with_an_expired_link_is_refused(self):
        auth = self._authorization()
        token = self._sent_link_token(auth)
        self.assertAlmostEqual(
            auth.consent_link_expiry,
            fields.Datetime.now() + timedelta(days=const.CONSENT_LINK_DEFAULT_DAYS),
            delta=timedelta(minutes=5),
        )
        before = self._snapshot(auth)
        with freeze_time(fields.Datetime.now() + timedelta(days=31)):
            url = f"/my/payment_authorizations/{auth.id}?access_token={token}"
            page = self.url_open(url)
            self.assertIn("o_legal_link_error", page.text)
            self.assertIn("expired", page.text)
            response = self._confirm(auth, access_token=token, csrf_url=url)
        self.assertEqual(response.status_code, 400)
        self.assertIn("expired", response.text)
        self.assertEqual(self._snapshot(auth), before)

    def test_public_visitor_with_a_used_link_is_refused(self):
        auth = self._authorization()
        token = self._sent_link_token(auth)
        url = f"/my/payment_authorizations/{auth.id}?access_token={token}"
        self._confirm(auth, access_token=token, csrf_url=url)
        auth.invalidate_recordset()
        self.assertEqual(auth.state, "active")
        self.assertEqual(auth.consent_source, "client")
        self.assertEqual(auth.accepted_partner_id, self.partner_a)
        self.assertEqual(auth.consent_id, self.consent)
        self.assertEqual(auth.accepted_ip, "127.0.0.1")
        self.assertEqual(auth.accepted_user_agent, USER_AGENT)
        self.assertFalse(auth.consent_link_expiry, "the link is spent")
        accepted = self._snapshot(auth)
        again = self._confirm(auth, access_token=token, csrf_url=url)
        self.assertEqual(again.status_code, 400)
        self.assertIn("already used", again.text)
        self.assertEqual(self._snapshot(auth), accepted)

    def test_sending_the_link_again_replaces_the_previous_one(self):
        auth = self._authorization()
        old = self._sent_link_token(auth)
        new = self._sent_link_token(auth)
        self.assertNotEqual(old, new)
        before = self._snapshot(auth)
        self._confirm(auth, access_token=old)
        self.assertEqual(self._snapshot(auth), before)

    def test_a_link_never_emailed_cannot_confirm(self):
        auth = self._authorization()
        token = auth.sudo()._portal_ensure_token()
        before = self._snapshot(auth)
        url = f"/my/payment_authorizations/{auth.id}?access_token={token}"
        response = self._confirm(auth, access_token=token, csrf_url=url)
        self.assertEqual(response.status_code, 400)
        self.assertIn("cannot confirm", response.text)
        self.assertEqual(self._snapshot(auth), before)

    def test_confirmation_link_lifetime_is_a_setting(self):
        self.env["res.config.settings"].create({"legal_consent_link_days": 5}).execute()
        auth = self._authorization()
        self._sent_link_token(auth)
        self.assertAlmostEqual(
            auth.consent_link_expiry,
            fields.Datetime.now() + timedelta(days=5),
            delta=timedelta(minutes=5),
        )

    # === Only this client === #

    def test_portal_user_of_another_client_holding_the_link_is_refused(self):
        auth = self._authorization()
        token = self._sent_link_token(auth)
        before = self._snapshot(auth)
        self.authenticate("consent_b", "consent_b")
        url = f"/my/payment_authorizations/{auth.id}?access_token={token}"
        page = self.url_open(url)
        self.assertNotIn("o_legal_confirm_form", page.text)
        response = self._confirm(auth, access_token=token, csrf_url=url)
        self.assertEqual(response.status_code, 403)
        self.assertIn("another client", response.text)
        self.assertEqual(self._snapshot(auth), before)

    def test_confirmation_without_the_consent_version_shown_is_refused(self):
        auth = self._authorization()
        before = self._snapshot(auth)
        self.authenticate("consent_a", "consent_a")
        response = self._confirm(
            auth, consent=False, csrf_url=f"/my/payment_authorizations/{auth.id}"
        )
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self._snapshot(auth), before)
        with self.assertRaises(UserError):
            auth.with_user(self.client_a)._legal_accept()
        self.assertEqual(self._snapshot(auth), before)

    # === Recorded by the firm from a signed document === #

    def test_staff_records_a_signed_authorization_only_with_the_document(self):
        Wizard = self.env["legal.payment.authorization.record"].with_user(self.billing)
        Authorization = self.env["legal.payment.authorization"]
        values = {
            "partner_id": self.partner_a.id,
            "token_id": self.token_a.id,
            "max_amount": 150.0,
        }
        count = Authorization.search_count([])
        with self.assertRaises(UserError), self.cr.savepoint():
            Wizard.create(values).action_record()
        self.assertEqual(Authorization.search_count([]), count, "nothing without the document")
        auth = self._authorization()
        empty = self.env["ir.attachment"].create({"name": "empty.pdf", "raw": b""})
        with self.assertRaises(UserError):
            auth.with_user(self.billing)._legal_record_signed_document(empty)
        self.assertEqual(auth.state, "awaiting")

        signed = b"%PDF-1.4 signed by Ada"
        action = Wizard.create(
            {**values, "document": base64.b64encode(signed), "document_name": "signed.pdf"}
        ).action_record()
        recorded = Authorization.browse(action["res_id"])
        self.assertEqual(recorded.state, "active")
        self.assertEqual(recorded.consent_source, "signed_document")
        self.assertEqual(recorded.recorded_by_id, self.billing)
        self.assertTrue(recorded.recorded_date)
        self.assertEqual(recorded.recorded_document_id.raw, signed)
        self.assertEqual(
            (recorded.recorded_document_id.res_model, recorded.recorded_document_id.res_id),
            (recorded._name, recorded.id),
        )
        self.assertFalse(recorded.accepted_date, "never an acceptance by the client")
        self.assertFalse(recorded.accepted_by_id)
        mail = self.env["mail.mail"].search(
            [("recipient_ids", "in", self.partner_a.ids)], order="id desc", limit=1
        )
        self.assertIn("revoke", mail.body_html)
        self.assertEqual(mail.attachment_ids.raw, signed, "a copy of the signed document")
        link = re.search(r"(/my/payment_authorizations/\d+\?access_token=[^\"&]+)", mail.body_html)
        # The client's portal says who recorded it, never "you accepted".
        self.authenticate("consent_a", "consent_a")
        page = self.url_open(f"/my/payment_authorizations/{recorded.id}")
        self.assertIn("o_legal_recorded", page.text)
        self.assertIn("Recorded by the firm from a signed document", page.text)
        self.assertNotIn("you accepted", page.text)
        self.assertNotIn("Confirmed on", page.text)
        # The e-mailed link revokes it.
        self.authenticate(None, None)
        csrf = self._csrf_of(link.group(1))
        self.url_open(
            f"/my/payment_authorizations/{recorded.id}/revoke",
            data={"csrf_token": csrf, "access_token": link.group(1).split("=")[1]},
        )
        recorded.invalidate_recordset()
        self.assertEqual(recorded.state, "revoked")

    def test_staff_cannot_record_a_signed_authorization_for_another_record_document(self):
        auth = self._authorization()
        other = self.env["ir.attachment"].create(
            {
                "name": "invoice.pdf",
                "raw": b"%PDF other",
                "res_model": "res.partner",
                "res_id": self.partner_b.id,
            }
        )
        with self.assertRaises(UserError):
            auth.with_user(self.billing)._legal_record_signed_document(other)
        self.assertEqual(auth.state, "awaiting")
        self.assertFalse(auth.recorded_date)


@tagged("post_install", "-at_install")
class TestPlanIntegrity(ConsentCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_client = cls.env["res.partner"].create(
            {"name": "Acme Holdings", "is_company": True, "email": "acme@example.com"}
        )
        portal = cls.env.ref("base.group_portal")
        cls.contact_1, cls.contact_2 = (
            cls.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": name,
                    "login": login,
                    "password": login,
                    "email": f"{login}@example.com",
                    "parent_id": cls.company_client.id,
                    "company_id": cls.env.company.id,
                    "company_ids": [Command.set(cls.env.company.ids)],
                    "groups_id": [Command.set(portal.ids)],
                }
            )
            for name, login in (("Carla of Acme", "acme_carla"), ("Dan of Acme", "acme_dan"))
        )
        cls.company_card = cls._stored_card(cls.company_client, "3333")
        cls.dans_card = cls._stored_card(cls.contact_2.partner_id, "4444")
        cls.acme_invoice = cls.init_invoice(
            "out_invoice",
            partner=cls.company_client,
            amounts=[900.0],
            post=True,
            taxes=[],
            currency=cls.currency,
        )

    def _sent_plan(self):
        plan = self.env["legal.payment.plan"].create(
            {
                "partner_id": self.company_client.id,
                "invoice_ids": [Command.set(self.acme_invoice.ids)],
                "instalment_number": 3,
                "frequency": "monthly",
                "date_start": fields.Date.today(),
            }
        )
        plan.action_generate_schedule()
        plan.action_send()
        return plan

    def _accept(self, plan, token, consent=True):
        data = {
            "csrf_token": self._csrf_of(f"/my/payment_plans/{plan.id}"),
            "token_id": token.id,
        }
        if consent:
            data["consent_id"] = self.consent.id
        return self.url_open(
            f"/my/payment_plans/{plan.id}/accept", data=data, allow_redirects=False
        )

    def _plan_snapshot(self, plan):
        plan.invalidate_recordset()
        plan.instalment_ids.invalidate_recordset()
        return (
            plan.state,
            plan.authorization_id,
            plan.amount_total,
            [
                (i.id, i.amount, i.due_date, i.state, i.amount_outside, i.next_attempt_date)
                for i in plan.instalment_ids
            ],
        )

    def test_plan_acceptance_without_the_consent_version_shown_is_refused(self):
        plan = self._sent_plan()
        before = self._plan_snapshot(plan)
        self.authenticate("acme_carla", "acme_carla")
        response = self._accept(plan, self.company_card, consent=False)
        self.assertIn("error=", response.headers["Location"])
        self.assertEqual(self._plan_snapshot(plan), before)
        self.assertFalse(plan.sudo().authorization_ids)

    def test_staff_cannot_accept_a_plan_for_the_client(self):
        plan = self._sent_plan()
        before = self._plan_snapshot(plan)
        with self.assertRaises(AccessError):
            plan.with_user(self.billing)._legal_accept(self.company_card, consent=self.consent)
        self.assertEqual(self._plan_snapshot(plan), before)
        self.assertFalse(plan.sudo().authorization_ids)

    def test_contact_cannot_accept_a_plan_with_a_method_another_contact_saved(self):
        plan = self._sent_plan()
        before = self._plan_snapshot(plan)
        self.authenticate("acme_carla", "acme_carla")
        page = self.url_open(f"/my/payment_plans/{plan.id}")
        self.assertIn(self.company_card.display_name, page.text)
        self.assertNotIn(self.dans_card.display_name, page.text)
        response = self._accept(plan, self.dans_card)
        self.assertIn("error=", response.headers["Location"])
        self.assertEqual(self._plan_snapshot(plan), before)
        # The same rule on the payment method pages.
        with mute_logger("odoo.http"):
            authorize = self.url_open(
                f"/my/payment_method/{self.dans_card.id}/authorize",
                data={
                    "csrf_token": self._csrf_of("/my/payment_method"),
                    "scope": "invoices",
                    "max_amount": "100",
                },
            )
        self.assertEqual(authorize.status_code, 404)
        # The client's own method (the company's) is accepted, by the contact at the keyboard.
        response = self._accept(plan, self.company_card)
        self.assertIn("message=accepted", response.headers["Location"])
        plan.invalidate_recordset()
        self.assertEqual(plan.state, "running")
        self.assertEqual(plan.authorization_id.accepted_by_id, self.contact_1)
        self.assertEqual(plan.authorization_id.consent_id, self.consent)

    def test_billing_user_cannot_write_plan_state_authorization_or_schedule_over_rpc(self):
        Plan = self.env["legal.payment.plan"].with_user(self.billing)
        draft = Plan.create(
            {"partner_id": self.company_client.id, "invoice_ids": [Command.set([])]}
        )
        with self.assertRaises(AccessError):
            draft.write({"state": "running"})
        with self.assertRaises(AccessError):
            Plan.create({"partner_id": self.company_client.id, "state": "running"})
        self.assertEqual(draft.state, "draft")

        plan = self._sent_plan()
        plan.with_user(SUPERUSER_ID)._legal_accept(self.company_card)
        self.assertEqual(plan.state, "running")
        other = self._authorization(
            partner=self.company_client, token=self.company_card, max_amount=5000.0
        )
        before = self._plan_snapshot(plan)
        as_billing = plan.with_user(self.billing)
        first = plan.instalment_ids[0].with_user(self.billing)
        attacks = (
            lambda: as_billing.write({"state": "draft"}),
            lambda: as_billing.write({"authorization_id": other.id}),
            lambda: as_billing.write({"amount_total": 9000.0}),
            lambda: as_billing.write(
                {
                    "instalment_ids": [
                        Command.create({"due_date": fields.Date.today(), "amount": 500.0})
                    ]
                }
            ),
            lambda: self.env["legal.payment.plan.instalment"]
            .with_user(self.billing)
            .create({"plan_id": plan.id, "due_date": fields.Date.today(), "amount": 500.0}),
            lambda: first.write({"amount": 800.0}),
            lambda: first.write({"due_date": fields.Date.today() - timedelta(days=9)}),
            lambda: first.write({"state": "planned", "next_attempt_date": False}),
            lambda: first.write({"amount_outside": 0.0}),
        )
        for attack in attacks:
            with self.assertRaises(UserError), self.cr.savepoint():
                attack()
        self.assertEqual(self._plan_snapshot(plan), before)
        # The firm still cancels it, through its action.
        as_billing.action_cancel()
        self.assertEqual(plan.state, "cancelled")


@tagged("post_install", "-at_install")
class TestStatementRateLimit(LegalBillingCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        portal = cls.env.ref("base.group_portal")
        cls.user_a = cls.env["res.users"].create(
            {
                "name": cls.contact_a.name,
                "login": "rate_a",
                "password": "rate_a-pass-1234",
                "partner_id": cls.contact_a.id,
                "company_id": cls.company.id,
                "company_ids": [Command.set(cls.company.ids)],
                "groups_id": [Command.set(portal.ids)],
            }
        )

    def _csrf(self):
        html = self.url_open("/my/billing").text
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def test_statement_downloads_and_emails_are_rate_limited_per_client(self):
        self.authenticate("rate_a", "rate_a-pass-1234")
        period = {"date_from": str(self.date_from), "date_to": str(self.date_to)}
        Request = self.env["legal.portal.request"].sudo()
        client = self.contact_a.commercial_partner_id
        first = self.url_open(
            f"/my/billing/statement?date_from={self.date_from}&date_to={self.date_to}"
        )
        self.assertEqual(first.status_code, 200)
        self.assertIn("attachment;", first.headers["Content-Disposition"])
        self.assertEqual(Request.search_count([("partner_id", "=", client.id)]), 1)
        # The client asked for the rest of the allowance within the window.
        Request.create(
            [
                {"partner_id": client.id, "kind": "statement"}
                for _i in range(const.STATEMENT_RATE_LIMIT - 1)
            ]
        )
        refused = self.url_open(
            f"/my/billing/statement?date_from={self.date_from}&date_to={self.date_to}",
            allow_redirects=False,
        )
        self.assertEqual(refused.status_code, 303)
        self.assertIn("error=rate", refused.headers["Location"])
        page = self.url_open(refused.headers["Location"])
        self.assertIn("o_legal_statement_rate", page.text)
        mails = self.env["mail.mail"].sudo().search_count([])
        sent = self.env["legal.billing.statement.sent"].search_count([])
        emailed = self.url_open(
            "/my/billing/statement/send",
            data=dict(period, csrf_token=self._csrf()),
            allow_redirects=False,
        )
        self.assertIn("error=rate", emailed.headers["Location"])
        self.assertEqual(self.env["mail.mail"].sudo().search_count([]), mails)
        self.assertEqual(self.env["legal.billing.statement.sent"].search_count([]), sent)
        self.assertEqual(
            Request.search_count([("partner_id", "=", client.id)]),
            const.STATEMENT_RATE_LIMIT,
            "refusals are not counted",
        )
        # Ten minutes later, the client may ask again.
        Request.flush_model()
        self.env.cr.execute(
            "UPDATE legal_portal_request SET create_date = create_date - interval '11 minutes'"
        )
        later = self.url_open(
            f"/my/billing/statement?date_from={self.date_from}&date_to={self.date_to}"
        )
        self.assertEqual(later.status_code, 200)
