"""The gateway: authentication, the HTTP API, and (later) the web console. No business rules."""
