"""The engine: the only place SpiffWorkflow runs. Deploys diagrams as versions, runs instances to
their wait states, persists them, and turns service tasks into jobs for the other services."""
