"""The web console: server-rendered pages under ``/console`` for members, staff, the committee, unit
handlers and the public, served by the gateway.

A console session is an API token (:mod:`services.gateway.tokens`) issued at login and kept in an
HttpOnly cookie, so the console authenticates exactly as the API does; every page and action calls
the API's own route functions (:mod:`.api`), so it is refused exactly as the API refuses.
"""
