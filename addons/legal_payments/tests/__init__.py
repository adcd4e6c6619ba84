from . import test_payment_checks
from . import test_payment_flows
from . import test_stripe_api_base
from . import test_trust_flows
from . import test_webhook
from . import test_concurrency
from . import test_disputes_payouts
from . import test_stripe_emulator_flows
