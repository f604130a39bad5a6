"""polyseek.eval's public names are listed in its __all__, and nothing public is left out."""

from __future__ import annotations

import polyseek.eval as ev
import polyseek.rerank as rr


def test_all_lists_exactly_the_public_names():
    for module in (ev, rr):
        assert all(hasattr(module, n) for n in module.__all__)
        public = {
            n
            for n, v in vars(module).items()
            if not n.startswith("_")
            and getattr(v, "__module__", "").startswith("polyseek")
            and not isinstance(v, type(ev))
        }
        assert public <= set(module.__all__), public - set(module.__all__)
