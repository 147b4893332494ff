from shared.db import run_migrations_env
from services.gateway.models import Base
import services.gateway.notifications  # noqa: E402,F401 - its table is on the same Base
import services.gateway.digests  # noqa: E402,F401 - with deliveries and preferences: same Base

run_migrations_env(Base.metadata)
