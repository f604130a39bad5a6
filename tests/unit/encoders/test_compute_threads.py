"""Compute threads per process: ``set_compute_threads`` reaches ONNX Runtime sessions.

Ray embedding actors call it so that two actors on a 2-core machine run one thread each
instead of one per core each.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from polyseek.encoders import _onnx, set_compute_threads
from polyseek.errors import ConfigError


def _identity_model(path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph), path)
    return path


def test_sessions_use_the_threads_set_for_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _identity_model(tmp_path / "id.onnx")
    monkeypatch.delenv(_onnx.THREADS_ENV, raising=False)
    default = _onnx.make_session(ort, model).get_session_options().intra_op_num_threads
    assert default == 0  # the runtime's own choice: one thread per core

    set_compute_threads(1)
    assert _onnx.compute_threads() == 1
    options = _onnx.make_session(ort, model).get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)


def test_bad_thread_counts_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="compute threads"):
        set_compute_threads(0)
    monkeypatch.setenv(_onnx.THREADS_ENV, "two")
    with pytest.raises(ConfigError, match="POLYSEEK_THREADS='two'"):
        _onnx.compute_threads()
