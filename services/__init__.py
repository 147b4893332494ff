"""The Zhitongche services: engine, intake, assignment, supervision, evaluation, gateway."""
