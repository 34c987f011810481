"""The shop's own limits: how long an order holds its keys, how much one order, import or upload may carry."""

from config.env import env_int

KAMENG_ORDER_TTL_SECONDS = env_int("KAMENG_ORDER_TTL_SECONDS", 15 * 60)
KAMENG_MAX_ORDER_QUANTITY = env_int("KAMENG_MAX_ORDER_QUANTITY", 50)
KAMENG_IMPORT_MAX_BYTES = env_int("KAMENG_IMPORT_MAX_BYTES", 2 * 1024 * 1024)
KAMENG_IMPORT_MAX_LINES = env_int("KAMENG_IMPORT_MAX_LINES", 20_000)
KAMENG_MAX_ATTACHMENT_BYTES = env_int("KAMENG_MAX_ATTACHMENT_BYTES", 5 * 1024 * 1024)
