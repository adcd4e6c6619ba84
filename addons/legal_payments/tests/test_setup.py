# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Command
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

TRUST_KEYS = {
    "trust_publishable_key": "pk_test_trust51AbC",
    "trust_secret_key": "sk_test_trust51AbC",
    "trust_webhook_secret": "whsec_trust51AbC",
}
OPERATING_KEYS = {
    "operating_publishable_key": "pk_test_oper51XyZ",
    "operating_secret_key": "sk_test_oper51XyZ",
    "operating_webhook_secret": "whsec_oper51XyZ",
}
LIVE_KEYS = {
    "trust_publishable_key": "pk_live_trust51AbC",
    "trust_secret_key": "sk_live_trust51AbC",
    "trust_webhook_secret": "whsec_trust51AbC",
    "operating_publishable_key": "pk_live_oper51XyZ",
    "operating_secret_key": "sk_live_oper51XyZ",
    "operating_webhook_secret": "whsec_oper51XyZ",
}


@tagged("post_install", "-at_install")
class TestLegalPaymentsSetup(AccountTestInvoicingCommon):
    """A new firm's company, with its chart of accounts and nothing of Legal Payments yet, set
    up by its accounting manager with the keys of its two Stripe accounts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.firm = cls.setup_other_company(name="New Firm LLP")["company"]
        cls.manager = new_test_user(
            cls.env,
            login="setup_manager",
            groups="base.group_user,account.group_account_manager",
            company_id=cls.firm.id,
            company_ids=[Command.set(cls.firm.ids)],
        )
        cls.clerk = new_test_user(
            cls.env,
            login="setup_clerk",
            groups="base.group_user,account.group_account_invoice",
            company_id=cls.firm.id,
            company_ids=[Command.set(cls.firm.ids)],
        )
        cls.other_manager = new_test_user(
            cls.env,
            login="setup_other_manager",
            groups="base.group_user,account.group_account_manager",
            company_id=cls.company_data["company"].id,
            company_ids=[Command.set(cls.company_data["company"].ids)],
        )

    def _run_wizard(self, user, **keys):
        values = {**TRUST_KEYS, **OPERATING_KEYS, **keys}
        wizard = (
            self.env["legal.payments.setup.wizard"]
            .with_user(user)
            .with_company(self.firm)
            .create(values)
        )
        return wizard.action_apply()

    def _checklist(self):
        return {item["key"]: item["done"] for item in self.firm._legal_setup_checklist()}

    def _counts(self):
        domain = [("company_id", "=", self.firm.id)]
        return {
            "journals": self.env["account.journal"].search_count(domain),
            "providers": self.env["payment.provider"].search_count(domain),
            "accounts": self.env["account.account"].search_count(
                [("company_ids", "in", self.firm.ids)]
            ),
        }

    def _providers(self):
        providers = self.env["payment.provider"].search(
            [("company_id", "=", self.firm.id), ("code", "=", "stripe")]
        )
        trust = providers.filtered("legal_is_trust")
        return trust, providers - trust

    # === CHECKLIST === #

    def test_the_checklist_of_a_new_company_shows_every_item_missing(self):
        checklist = self.firm._legal_setup_checklist()
        self.assertEqual(
            [item["key"] for item in checklist],
            [
                "trust_journal",
                "trust_liability_account",
                "trust_provider",
                "trust_payout_journal",
                "trust_webhook_secret",
                "operating_provider",
                "operating_payout_journal",
                "operating_webhook_secret",
                "card_fee_account",
                "operating_journal",
                "online_payment",
            ],
        )
        self.assertEqual([item for item in checklist if item["done"]], [])
        settings = self.env["res.config.settings"].with_company(self.firm).create({})
        self.assertEqual(settings.legal_setup_todo_count, len(checklist))
        self.assertFalse(settings.legal_setup_trust_journal)

    def test_after_the_wizard_every_item_of_the_checklist_is_done(self):
        self._run_wizard(self.manager)
        self.assertEqual([key for key, done in self._checklist().items() if not done], [])
        settings = self.env["res.config.settings"].with_company(self.firm).create({})
        self.assertEqual(settings.legal_setup_todo_count, 0)
        self.assertTrue(settings.legal_setup_online_payment)

        trust, operating = self._providers()
        self.assertEqual(len(trust), 1)
        self.assertEqual(len(operating), 1)
        base = self.env.ref("payment.payment_provider_stripe")
        for provider in trust + operating:
            # Copies of Odoo's Stripe provider, in test mode for test keys.
            self.assertEqual(provider.inline_form_view_id, base.inline_form_view_id)
            self.assertEqual(provider.module_id, base.module_id)
            self.assertEqual(provider.state, "test")
            self.assertTrue(provider.is_published)
            self.assertEqual(provider.journal_id.type, "bank")
            self.assertNotEqual(provider.journal_id, provider.legal_payout_journal_id)
        self.assertEqual(trust.stripe_publishable_key, TRUST_KEYS["trust_publishable_key"])
        self.assertEqual(trust.stripe_secret_key, TRUST_KEYS["trust_secret_key"])
        self.assertEqual(trust.stripe_webhook_secret, TRUST_KEYS["trust_webhook_secret"])
        self.assertEqual(
            operating.stripe_webhook_secret, OPERATING_KEYS["operating_webhook_secret"]
        )
        # Trust money clears through a trust journal and is paid out to the trust bank.
        self.assertTrue(trust.journal_id.is_trust_account)
        self.assertTrue(trust.legal_payout_journal_id.is_trust_account)
        self.assertEqual(trust.legal_payout_journal_id, self.firm.trust_journal_id)
        self.assertFalse(operating.journal_id.is_trust_account)
        self.assertEqual(operating.legal_payout_journal_id, self.firm.legal_operating_journal_id)
        self.assertFalse(self.firm.legal_operating_journal_id.is_trust_account)
        # The wizard keeps no secret once applied.
        wizard = self.env["legal.payments.setup.wizard"].search([], order="id desc", limit=1)
        self.assertFalse(wizard.trust_secret_key or wizard.operating_webhook_secret)

    def test_live_keys_enable_the_providers(self):
        self._run_wizard(self.manager, **LIVE_KEYS)
        trust, operating = self._providers()
        self.assertEqual((trust + operating).mapped("state"), ["enabled", "enabled"])

    def test_running_the_wizard_twice_creates_nothing_new(self):
        self._run_wizard(self.manager)
        counts = self._counts()
        trust, operating = self._providers()
        journals = (trust + operating).journal_id + self.firm.trust_journal_id
        self._run_wizard(self.manager)
        self.assertEqual(self._counts(), counts)
        self.assertEqual(self._providers(), (trust, operating))
        self.assertEqual((trust + operating).journal_id + self.firm.trust_journal_id, journals)
        # New keys (moving to live) update the same providers.
        self._run_wizard(self.manager, **LIVE_KEYS)
        self.assertEqual(self._counts(), counts)
        self.assertEqual(trust.stripe_publishable_key, LIVE_KEYS["trust_publishable_key"])
        self.assertEqual(trust.state, "enabled")

    def test_bad_keys_are_refused_and_nothing_changes(self):
        counts = self._counts()
        cases = {
            "a missing key": {"operating_webhook_secret": ""},
            "a secret key as publishable key": {"trust_publishable_key": "sk_test_trust51AbC"},
            "a restricted key as secret key": {"trust_secret_key": "rk_test_trust51AbC"},
            "a webhook secret without whsec_": {"trust_webhook_secret": "trust51AbC"},
            "a key with blanks inside": {"operating_secret_key": "sk_test_oper 51XyZ"},
            "test and live keys of one account": {"operating_secret_key": "sk_live_oper51XyZ"},
            "the same account for trust and operating": {
                "operating_publishable_key": TRUST_KEYS["trust_publishable_key"],
                "operating_secret_key": TRUST_KEYS["trust_secret_key"],
                "operating_webhook_secret": TRUST_KEYS["trust_webhook_secret"],
            },
        }
        for case, keys in cases.items():
            with self.subTest(case), self.assertRaises(UserError):
                self._run_wizard(self.manager, **keys)
            self.assertEqual(self._counts(), counts, case)
            self.assertFalse(any(self._checklist().values()), case)

    # === ACCESS === #

    def test_a_billing_clerk_cannot_run_the_wizard(self):
        counts = self._counts()
        with self.assertRaises(AccessError):
            self._run_wizard(self.clerk)
        # Nor the settings' buttons: they refuse anyone but accounting managers.
        with self.assertRaises(AccessError):
            self.firm.with_user(self.clerk)._legal_setup_open("trust_liability_account")
        self.assertEqual(self._counts(), counts)
        self.assertFalse(self.firm.trust_liability_account_id)

    def test_an_accounting_manager_of_another_company_cannot_set_this_one_up(self):
        counts = self._counts()
        wizard = (
            self.env["legal.payments.setup.wizard"]
            .with_user(self.other_manager)
            .create({**TRUST_KEYS, **OPERATING_KEYS, "company_id": self.firm.id})
        )
        with self.assertRaises(AccessError):
            wizard.action_apply()
        self.assertEqual(self._counts(), counts)

    # === LIVE PROVIDERS NEED THEIR WEBHOOK SECRET === #

    def test_enabling_a_provider_without_webhook_secret_is_refused(self):
        self._run_wizard(self.manager)
        trust, operating = self._providers()
        for provider in trust + operating:
            provider.stripe_webhook_secret = False
            with self.subTest(provider.name), self.assertRaises(ValidationError):
                provider.state = "enabled"
            self.assertEqual(provider.state, "test")
        # A new live Stripe provider without secret is refused as well.
        with self.assertRaises(ValidationError):
            self.env.ref("payment.payment_provider_stripe").sudo().copy(
                {"company_id": self.firm.id, "state": "enabled", "stripe_webhook_secret": False}
            )
        # With its secret it goes live.
        operating.write({"stripe_webhook_secret": "whsec_oper51XyZ", "state": "enabled"})
        self.assertEqual(operating.state, "enabled")

    # === FIX BUTTONS === #

    def test_each_missing_item_opens_the_form_that_fixes_it(self):
        settings = self.env["res.config.settings"].with_company(self.firm).create({})
        action = settings.action_legal_setup_trust_journal()
        self.assertEqual(action["res_model"], "account.journal")
        self.assertTrue(action["context"]["default_is_trust_account"])
        self.assertEqual(
            settings.action_legal_setup_trust_provider()["res_model"],
            "legal.payments.setup.wizard",
        )
        self.assertEqual(
            settings.action_legal_setup_operating_provider()["res_model"],
            "legal.payments.setup.wizard",
        )
        action = settings.action_legal_setup_trust_liability_account()
        self.assertEqual(action["res_id"], self.firm.trust_liability_account_id.id)
        action = settings.action_legal_setup_card_fee_account()
        self.assertEqual(action["res_id"], self.firm.legal_card_fee_account_id.id)
        action = settings.action_legal_setup_operating_journal()
        self.assertEqual(action["res_id"], self.firm.legal_operating_journal_id.id)
        self.assertFalse(self.firm.legal_operating_journal_id.is_trust_account)
        self.assertEqual(settings.action_legal_setup_wizard()["target"], "new")
        self._run_wizard(self.manager)
        trust, operating = self._providers()
        self.assertEqual(settings.action_legal_setup_trust_provider()["res_id"], trust.id)
        self.assertEqual(settings.action_legal_setup_operating_provider()["res_id"], operating.id)


@tagged("post_install", "-at_install")
class TestLegalPaymentsSetupTour(HttpCase):
    def test_the_settings_show_the_legal_payments_checklist_and_wizard(self):
        company = self.env.ref("base.main_company")
        self.assertTrue(company._legal_setup_trust_bank(), "the demo firm has a trust bank")
        company.legal_card_fee_account_id = False
        self.start_tour(
            "/odoo/action-account.action_account_config",
            "legal_payments_setup_settings",
            login="admin",
        )
