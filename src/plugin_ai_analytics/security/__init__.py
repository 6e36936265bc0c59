"""Security: identities and roles (``roles``), the route × role table (``policy``), API tokens
(``tokens``), OIDC bearer tokens (``oidc``), the chained audit log (``audit``), encryption of
secrets at rest (``crypto``), masking of personal data (``masking``) and the guard on outbound
requests (``outbound``). Import the submodules; this package re-exports nothing, so the ground
floor (logs, collectors) can use ``masking`` and ``outbound`` without loading the rest.
"""
