from ninja import NinjaAPI

from kameng.accounts.api import BearerToken
from kameng.accounts.api import router as auth_router
from kameng.catalog.api import router as catalog_router
from kameng.core.api import StrictJsonParser, install_error_handlers
from kameng.helpcenter.api import router as help_router
from kameng.membership.api import router as membership_router
from kameng.notifications.api import router as notifications_router
from kameng.orders.api import router as orders_router
from kameng.sandbox.api import router as sandbox_router
from kameng.support.api import router as support_router

api = NinjaAPI(
    title="Kameng API",
    version="1",
    description="卡盟 Kameng: products, orders, card keys. Money is integer fen; times are ISO 8601 with offset. "
    'Errors are `{"error": {"code", "message"}}`. Writes accept an `Idempotency-Key` header.',
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=BearerToken(),
    parser=StrictJsonParser(),
)
install_error_handlers(api)
api.add_router("/auth", auth_router)
api.add_router("/", catalog_router)
api.add_router("/", orders_router)
api.add_router("/", membership_router)
api.add_router("/", notifications_router)
api.add_router("/", support_router)
api.add_router("/", help_router)
api.add_router("/sandbox", sandbox_router)
