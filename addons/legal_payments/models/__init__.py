from . import account_move
from . import legal_matter
from . import legal_stripe_event
from . import mail_template
from . import payment_provider
from . import payment_transaction
from . import res_company
from . import res_config_settings
