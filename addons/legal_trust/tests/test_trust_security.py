from odoo.exceptions import AccessError
from odoo.fields import Command
from odoo.tests import HttpCase, tagged

from .common import LegalTrustCommon


@tagged("post_install", "-at_install")
class TestTrustSecurity(LegalTrustCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.matter_a.trust_deposit(800.0, memo="Client A retainer")
        cls.matter_b.trust_deposit(900.0, memo="Client B settlement")
        portal = cls.env.ref("base.group_portal")
        cls.portal_a, cls.portal_b = cls.env["res.users"].create(
            [
                {
                    "name": partner.name,
                    "login": login,
                    "password": login + "-pass-1234",
                    "partner_id": partner.id,
                    "company_id": cls.company.id,
                    "company_ids": [Command.set(cls.company.ids)],
                    "groups_id": [Command.set(portal.ids)],
                }
                for partner, login in ((cls.client_a, "portal_a"), (cls.client_b, "portal_b"))
            ]
        )

    def test_portal_client_reads_only_its_own_matters_over_rpc(self):
        Matter = self.env["legal.matter"].with_user(self.portal_a)
        self.assertEqual(Matter.search([]), self.matter_a | self.matter_a2)
        with self.assertRaises(AccessError):
            self.matter_b.with_user(self.portal_a).read(["trust_balance"])
        with self.assertRaises(AccessError):
            self.matter_a.with_user(self.portal_a).write({"title": "Mine now"})
        # Portal users read invoice lines only: no trust journal item, not even their own.
        self.assertFalse(
            self.env["account.move.line"]
            .with_user(self.portal_a)
            .search([("matter_id", "in", (self.matter_a | self.matter_b).ids)])
        )
        with self.assertRaises(AccessError):
            self.matter_a.with_user(self.portal_a).trust_deposit(10.0)

    def test_portal_client_sees_its_ledger_and_not_another_clients_by_url(self):
        self.authenticate("portal_a", "portal_a-pass-1234")
        listing = self.url_open("/my/matters")
        self.assertEqual(listing.status_code, 200)
        self.assertIn(self.matter_a.name, listing.text)
        self.assertNotIn(self.matter_b.name, listing.text)
        own = self.url_open(f"/my/matters/{self.matter_a.id}")
        self.assertIn("Client A retainer", own.text)
        other = self.url_open(f"/my/matters/{self.matter_b.id}")
        self.assertNotIn("Client B settlement", other.text)
        self.assertTrue(other.url.endswith("/my"), other.url)
        wrong_token = self.url_open(f"/my/matters/{self.matter_b.id}?access_token=forged")
        self.assertNotIn("Client B settlement", wrong_token.text)

    def test_access_token_link_opens_the_ledger_without_login(self):
        self.matter_b._portal_ensure_token()
        response = self.url_open(self.matter_b.get_portal_url())
        self.assertEqual(response.status_code, 200)
        self.assertIn("Client B settlement", response.text)

    def test_matters_of_another_company_are_invisible(self):
        other = self.setup_other_company()["company"]
        foreign = self.env["legal.matter"].create(
            {"title": "Foreign", "partner_id": self.client_a.id, "company_id": other.id}
        )
        Matter = self.env["legal.matter"].with_user(self.trust_manager)
        self.assertNotIn(foreign, Matter.search([]))
        with self.assertRaises(AccessError):
            foreign.with_user(self.trust_manager).read(["trust_balance"])
