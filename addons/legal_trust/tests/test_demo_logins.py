# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The demo logins listed in the README work, each with its own data and its role."""

import re

from odoo.tests import HttpCase, tagged

DEMO_PORTAL_MATTERS = {
    # login: (the matters it sees, the matters of the other client it never sees)
    "harper": (
        ("legal_trust.matter_harper_contract", "legal_trust.matter_harper_lease"),
        ("legal_trust.matter_ellis_estate", "legal_trust.matter_ellis_claim"),
    ),
    "ellis": (
        ("legal_trust.matter_ellis_estate", "legal_trust.matter_ellis_claim"),
        ("legal_trust.matter_harper_contract", "legal_trust.matter_harper_lease"),
    ),
}


class DemoLoginCase(HttpCase):
    """Logs in over HTTP with a demo login, whose password is the login."""

    def setUp(self):
        super().setUp()
        self.assertTrue(
            self.env.ref("legal_trust.user_portal_harper", raise_if_not_found=False),
            "the addons' demo data must be installed: run the tests through scripts/test",
        )

    def _login(self, login, password):
        """Log in through the login form, as a person does; return the form's response."""
        self.authenticate(None, None)
        form = self.url_open("/web/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        return self.url_open(
            "/web/login",
            data={"login": login, "password": password, "csrf_token": token},
            allow_redirects=False,
        )

    def _login_as(self, login):
        """Log in with a demo login (its password is the login)."""
        response = self._login(login, login)
        self.assertEqual(response.status_code, 303, f"{login} / {login} is accepted")
        # The form's session is proven; the test client keeps its own session cookie.
        self.authenticate(login, login)

    def _open(self, path):
        response = self.url_open(path, allow_redirects=True)
        self.assertEqual(response.status_code, 200, path)
        self.assertNotIn("/web/login", response.url, "still logged in")
        return response.text


@tagged("post_install", "-at_install")
class TestDemoLogins(DemoLoginCase):
    def test_each_demo_client_logs_in_and_sees_its_own_matters_with_trust_on_two(self):
        for login, (own, others) in DEMO_PORTAL_MATTERS.items():
            user = self.env["res.users"].search([("login", "=", login)])
            self.assertTrue(user.has_group("base.group_portal"), f"{login} is a portal user")
            self._login_as(login)
            page = self._open("/my/matters")
            own_matters = [self.env.ref(xmlid) for xmlid in own]
            for matter in own_matters:
                self.assertIn(matter.name, page, f"{login} sees {matter.title}")
                self.assertGreater(matter.trust_balance, 0.0, f"trust held on {matter.title}")
            for xmlid in others:
                self.assertNotIn(self.env.ref(xmlid).name, page, f"{login} never sees it")
            ledger = self._open(own_matters[0].get_portal_url())
            self.assertIn("o_trust_balance", ledger, "the matter's trust ledger")

    def test_a_demo_client_cannot_open_the_other_clients_matter(self):
        self._login_as("harper")
        estate = self.env.ref("legal_trust.matter_ellis_estate")
        response = self.url_open(f"/my/matters/{estate.id}", allow_redirects=True)
        self.assertNotIn(estate.title, response.text)

    def test_a_wrong_password_is_refused(self):
        response = self._login("harper", "ellis")
        self.assertEqual(response.status_code, 200, "the form again, no redirection")
        self.assertIn("Wrong login/password", response.text)

    def test_the_staff_demo_users_have_their_roles(self):
        manager = self.env.ref("legal_trust.user_trust_manager")
        clerk = self.env.ref("legal_trust.user_billing_clerk")
        self.assertEqual((manager.login, clerk.login), ("trust.manager", "billing"))
        self.assertTrue(manager.has_group("legal_trust.group_trust_manager"))
        self.assertTrue(manager.has_group("account.group_account_invoice"))
        self.assertFalse(manager.has_group("account.group_account_manager"))
        self.assertTrue(clerk.has_group("account.group_account_invoice"))
        self.assertFalse(clerk.has_group("legal_trust.group_trust_user"), "no trust postings")
        self.assertFalse(clerk.has_group("legal_trust.group_trust_manager"))
        for user in (manager, clerk):
            self.assertTrue(user._is_internal())
            self._login_as(user.login)
            response = self.url_open("/odoo/action-legal_trust.action_legal_matter")
            self.assertEqual(response.status_code, 200)
            self.assertNotIn("/web/login", response.url, f"{user.login} is logged in")
