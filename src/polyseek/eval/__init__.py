"""Evaluation: BEIR / M-BEIR datasets in, trec_eval metrics, modality bias and a report out.

>>> from polyseek.eval import EvalConfig, evaluate, load_dataset   # doctest: +SKIP
>>> dataset = load_dataset("beir", "examples/eval/beir-papers")    # doctest: +SKIP
>>> result = evaluate(dataset, EvalConfig.of(lexical=True))         # doctest: +SKIP
"""

from polyseek.eval.base import MBEIR_TASKS, EvalDataset, EvalDoc, EvalQuery, EvalTask
from polyseek.eval.compare import Difference, compare
from polyseek.eval.datasets import FORMATS, load_beir, load_dataset, load_mbeir
from polyseek.eval.metrics import METRIC_NAMES, PRIMARY_METRIC, per_query
from polyseek.eval.report import write_json, write_report
from polyseek.eval.runner import EvalConfig, EvalProgress, Evaluator, evaluate

__all__ = [
    "FORMATS",
    "MBEIR_TASKS",
    "METRIC_NAMES",
    "PRIMARY_METRIC",
    "EvalConfig",
    "EvalDataset",
    "EvalDoc",
    "EvalProgress",
    "EvalQuery",
    "EvalTask",
    "Difference",
    "Evaluator",
    "compare",
    "evaluate",
    "load_beir",
    "load_dataset",
    "load_mbeir",
    "per_query",
    "write_json",
    "write_report",
]
