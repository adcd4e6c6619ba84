# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.payment_stripe.tests.common import StripeCommon

from ..const import STRIPE_API_BASE_PARAM

EMULATOR = "http://127.0.0.1:9"


class FakeResponse:
    ok = True
    status_code = 200

    def json(self):
        return {"id": "cus_test", "object": "customer"}


@tagged("post_install", "-at_install")
class TestStripeApiBase(StripeCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param(STRIPE_API_BASE_PARAM, EMULATOR)

    def _called_url(self, provider):
        with patch("requests.request", return_value=FakeResponse()) as request:
            provider._stripe_make_request("customers", payload={"name": "Ann"})
        return request.call_args.args[1]

    def test_test_mode_provider_calls_the_configured_base_url(self):
        self.stripe.state = "test"
        self.assertEqual(self._called_url(self.stripe), f"{EMULATOR}/v1/customers")

    def test_live_provider_is_never_redirected(self):
        self.stripe.state = "enabled"
        self.assertEqual(self._called_url(self.stripe), "https://api.stripe.com/v1/customers")

    def test_test_mode_without_parameter_uses_stripe(self):
        self.env["ir.config_parameter"].sudo().set_param(STRIPE_API_BASE_PARAM, False)
        self.stripe.state = "test"
        self.assertEqual(self._called_url(self.stripe), "https://api.stripe.com/v1/customers")

    def test_sdk_client_follows_the_same_rule(self):
        self.stripe.state = "test"
        client = self.stripe._legal_stripe_client()
        self.assertEqual(client._requestor.base_addresses.get("api"), EMULATOR)
        self.stripe.state = "enabled"
        client = self.stripe._legal_stripe_client()
        self.assertEqual(client._requestor.base_addresses.get("api"), "https://api.stripe.com")

    def test_webhook_created_from_the_provider_listens_to_disputes_and_payouts(self):
        self.stripe.state = "test"
        self.stripe.stripe_webhook_secret = False
        with patch("requests.request", return_value=FakeResponse()) as request:
            self.stripe.action_stripe_create_webhook()
        events = request.call_args.kwargs["data"]["enabled_events[]"]
        self.assertIn("charge.dispute.created", events)
        self.assertIn("payout.paid", events)
        self.assertIn("payment_intent.succeeded", events)
