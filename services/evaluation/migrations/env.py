from shared.db import run_migrations_env
from services.evaluation.models import Base
import services.evaluation.points.models  # noqa: F401,E402 - its tables share this Base

run_migrations_env(Base.metadata)
