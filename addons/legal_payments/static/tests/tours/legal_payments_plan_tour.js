/** @odoo-module */

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("legal_payments_pay_future_instalment", {
    steps: () => [
        {
            content: "The schedule of the plan: pay the last (future) instalment now",
            trigger: ".o_plan_schedule tr.o_plan_instalment:last-child a.o_plan_pay_instalment",
            run: "click",
        },
        {
            content: "The saved payment method is offered first: choose another method",
            trigger: "button[name=o_payment_expand_button]",
            run: "click",
        },
        {
            content: "Choose the demo provider",
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
            content: "Back on the plan: the last instalment is paid",
            trigger: ".o_plan_schedule tr.o_plan_instalment:last-child:contains('Paid')",
        },
    ],
});
