# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Legal Payments",
    "summary": "Pay Now on invoices, Stripe card and ACH routed to trust or operating, "
    "fee and payout accounting, client billing portal",
    "version": "18.0.1.0.0",
    "category": "Accounting/Payment Providers",
    "website": "https://github.com/odoo-legal-payments/odoo-legal-payments",
    "author": "Odoo Legal Payments",
    "license": "LGPL-3",
    "depends": ["legal_trust", "account_payment", "payment_stripe"],
    "external_dependencies": {"python": ["stripe"]},
    "data": [
        "security/ir.model.access.csv",
        "security/legal_payments_security.xml",
        "data/ir_cron_data.xml",
        "data/legal_payment_authorization_data.xml",
        "views/mail_templates.xml",
        "views/portal_templates.xml",
        "views/legal_stripe_event_views.xml",
        "views/legal_payment_authorization_views.xml",
        "views/payment_provider_views.xml",
        "views/res_config_settings_views.xml",
        "data/legal_payment_plan_data.xml",
        "views/legal_payment_plan_views.xml",
        "views/portal_payment_plan_templates.xml",
    ],
    "demo": ["demo/legal_payments_demo.xml"],
    "assets": {
        "web.assets_tests": ["legal_payments/static/tests/tours/**/*"],
    },
    "installable": True,
}
