"""The shop's own limits: how long an order holds its keys, how much one order, import or upload may carry, and
how much one member may hold or do at once."""

from config.env import env_int, env_str

KAMENG_ORDER_TTL_SECONDS = env_int("KAMENG_ORDER_TTL_SECONDS", 15 * 60)
KAMENG_MAX_ORDER_QUANTITY = env_int("KAMENG_MAX_ORDER_QUANTITY", 50)
KAMENG_IMPORT_MAX_BYTES = env_int("KAMENG_IMPORT_MAX_BYTES", 2 * 1024 * 1024)
KAMENG_IMPORT_MAX_LINES = env_int("KAMENG_IMPORT_MAX_LINES", 20_000)
KAMENG_MAX_ATTACHMENT_BYTES = env_int("KAMENG_MAX_ATTACHMENT_BYTES", 5 * 1024 * 1024)

# What one member may hold or do at once (docs/security.md, "Limits on what one person can make us store"). Rates
# are "count/seconds", per member, in fixed windows; quotas are counted under the member's lock, so parallel
# requests cannot both squeeze under them.
KAMENG_MAX_UNPAID_ORDERS = env_int("KAMENG_MAX_UNPAID_ORDERS", 3)
KAMENG_MAX_RESERVED_KEYS = env_int(
    "KAMENG_MAX_RESERVED_KEYS", 20
)  # units of goods in a member's unpaid orders
KAMENG_RATE_ORDERS = env_str("KAMENG_RATE_ORDERS", "10/600")
KAMENG_RATE_TICKETS = env_str("KAMENG_RATE_TICKETS", "5/600")
KAMENG_RATE_TICKET_REPLIES = env_str("KAMENG_RATE_TICKET_REPLIES", "20/600")
KAMENG_RATE_COMPLAINTS = env_str("KAMENG_RATE_COMPLAINTS", "5/600")
KAMENG_MAX_OPEN_TICKETS = env_int("KAMENG_MAX_OPEN_TICKETS", 10)
KAMENG_MEMBER_ATTACHMENT_BYTES = env_int("KAMENG_MEMBER_ATTACHMENT_BYTES", 50 * 1024 * 1024)  # per 30 days
KAMENG_MAX_ATTACHMENT_PIXELS = env_int("KAMENG_MAX_ATTACHMENT_PIXELS", 40_000_000)
