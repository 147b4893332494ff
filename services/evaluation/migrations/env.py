from shared.db import run_migrations_env
from services.evaluation.models import Base

run_migrations_env(Base.metadata)
