"""The store: one protocol (:mod:`polyseek.store.base`), LanceDB behind it.

Importing the package defers LanceDB's REST namespace client, which polyseek never uses
and which costs most of ``import lancedb`` (:mod:`polyseek.store.deferred`).
"""

from polyseek.store.deferred import defer_rest_namespace_client

defer_rest_namespace_client()
