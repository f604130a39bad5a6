"""Model lifecycle: add an encoder to a live index, upgrade one without re-embedding first.

* :func:`add_encoder` records a new encoder; :func:`backfill` embeds the items already
  indexed with it, batch by batch, resumable and crash-safe (:mod:`.backfill`); search
  uses it for the items it has embedded from the first batch on.
* :func:`upgrade_encoder` fits a query-side adapter from NEW's space into OLD's on a
  sample (:mod:`.adapter`, :mod:`.upgrade`), so queries use NEW at once; when NEW's
  backfill is complete the index switches to NEW's own vectors in one manifest write.
* :func:`remove_encoder` drops one; :func:`encoders_status` says how far each is.
"""

from polyseek.lifecycle.adapter import Adapter
from polyseek.lifecycle.backfill import BackfillProgress
from polyseek.lifecycle.manage import add_encoder, backfill, encoders_status, remove_encoder
from polyseek.lifecycle.routing import AdaptedEncoder, QueryEncoders
from polyseek.lifecycle.upgrade import UpgradeRefusedError, UpgradeReport, upgrade_encoder

__all__ = [
    "AdaptedEncoder",
    "Adapter",
    "BackfillProgress",
    "QueryEncoders",
    "UpgradeRefusedError",
    "UpgradeReport",
    "add_encoder",
    "backfill",
    "encoders_status",
    "remove_encoder",
    "upgrade_encoder",
]
