def post_init_hook(env):
    """Create the trust liability account of every company that already has a chart.

    Companies whose chart of accounts is loaded later get it lazily on first use
    (see ``res.company._legal_trust_liability_account``).
    """
    for company in env["res.company"].search([("chart_template", "!=", False)]):
        company._legal_trust_liability_account()
