/** @odoo-module */

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("legal_retainers_pay_from_email", {
    steps: () => [
        {
            content: "The request shows what is due: pay it",
            trigger: "a.o_retainer_pay",
            run: "click",
        },
        {
            content: "Only trust providers are offered: choose the demo one",
            trigger: "input[name=o_payment_radio][data-payment-method-code=demo]",
            run: "click",
        },
        {
            content: "Card details (test data)",
            trigger: "input[name=customer_input]",
            run: "edit 4242424242424242",
        },
        {
            content: "Pay",
            trigger: "button[name=o_payment_submit_button]",
            run: "click",
        },
        {
            content: "Back on the request: paid",
            trigger: ".o_portal_retainer:contains('Paid, thank you')",
        },
    ],
});
