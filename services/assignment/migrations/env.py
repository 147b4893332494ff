from shared.db import run_migrations_env
from services.assignment.models import Base

run_migrations_env(Base.metadata)
