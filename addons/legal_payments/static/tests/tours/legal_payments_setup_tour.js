/** @odoo-module */

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("legal_payments_setup_settings", {
    steps: () => [
        {
            content: "The settings have a Legal Payments section with the setup checklist",
            trigger: ".o_settings_container .o_legal_setup_checklist",
        },
        {
            content: "What is configured is checked",
            trigger: ".o_legal_setup_item[data-key=trust_journal] .o_legal_setup_done",
        },
        {
            content: "What is missing is crossed",
            trigger: ".o_legal_setup_item[data-key=card_fee_account] .o_legal_setup_missing",
        },
        {
            content: "Open the Stripe setup wizard",
            trigger: "button.o_legal_setup_wizard",
            run: "click",
        },
        {
            content: "The wizard asks for the keys of both Stripe accounts",
            trigger: ".modal div[name=trust_publishable_key] input",
        },
        {
            content: "The operating account too",
            trigger: ".modal div[name=operating_webhook_secret] input",
        },
        {
            content: "Close the wizard",
            trigger: ".modal button[special=cancel]",
            run: "click",
        },
        {
            content: "Back on the settings",
            trigger: "body:not(:has(.modal)) .o_legal_setup_checklist",
        },
    ],
});
