from shared.db import run_migrations_env
from services.intake.models import Base

run_migrations_env(Base.metadata)
