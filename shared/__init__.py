"""Code the Zhitongche services share: configuration, persistence helpers, the messaging
extensions, the workflow runtime and the message contracts. Shared code, never shared tables."""
