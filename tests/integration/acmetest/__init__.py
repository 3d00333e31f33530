"""Helpers for the integration tests that are too big for harness.py.

* :mod:`acmetest.tinyacme` -- a minimal ACME client (openssl CLI for keys and signatures) used to
  drive pebble and the CA front directly, independent of the product's own client: to check the
  harness and the front, and to set up CA-side state (e.g. issue a certificate a test then
  revokes or renews with the product).
"""
