from . import test_retainer_requests
from . import test_retainer_topups
from . import test_retainer_portal
from . import test_retainer_concurrency
from . import test_retainer_tour
from . import test_retainer_stripe_emulator
from . import test_retainer_dispute_topup
from . import test_retainer_refund_topup
