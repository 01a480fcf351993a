"""Accuracy on the shared dev set, scored by the shared scorer (skipped without it).

Reproduce by hand: docs/dsp.md, "Accuracy".
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

from twitchwatch.gateway.commands.analyze import analyze_file, stem

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "eval" / "dev"
SCORER = ROOT.parent / "shared" / "eval" / "score.py"

pytestmark = pytest.mark.skipif(not SCORER.is_file() or not DEV.is_dir(),
                                reason="../shared/eval is not available")


def _scorer():
    spec = importlib.util.spec_from_file_location("twitchwatch_eval_score", SCORER)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dev_set_accuracy(tmp_path: pathlib.Path) -> None:
    score = _scorer()
    pooled = score.empty_counts()
    files = sorted(DEV.glob("*.csv.gz"))
    assert files
    for f in files:
        res = analyze_file(f)[""]
        pred = tmp_path / f"{stem(f)}.jsonl"
        pred.write_text("".join(json.dumps(e) + "\n" for e in res["events"]))
        labels = json.loads((DEV / f"{stem(f)}.labels.json").read_text())
        preds, _ = score.read_predictions(str(pred))
        score.score_pair(labels, preds, pooled)
    s = score.summarise(pooled)
    per = {c: s["per_class"][c]["f1"] for c in score.CLASSES}
    # A guard against regressions, set just under what the analyzer measures on the grown
    # dev set (18 recordings, 33.1 h), and raised as improvements land. Measured
    # 2026-12-07: macro-F1 0.934; myoclonic 0.951, hypnic 0.889, tremor 0.963; tremor MAE
    # 0.01 Hz; 0.33 confounder FP/h. After the sleep-onset model: macro-F1 0.948; hypnic
    # 0.929. After the jerk detector's impact, rest and context tests and the matched
    # filter: macro-F1 0.952, myoclonic 0.963, 0.09 confounder FP/h. After the tremor
    # work (short clear episodes, averaged spectra, the gyroscope): tremor 28/28, macro-F1
    # 0.964. After the second jerk round (multiphasic pulses, clusters opened by
    # impact-like and small pulses, the onset context): macro-F1 0.979, myoclonic 0.970,
    # hypnic 0.966 (14/1/0), tremor 1.000, 0.09 confounder FP/h. The targets
    # (docs/dsp.md) are measured by the benchmark, not here.
    assert s["macro_f1"] >= 0.975, per
    assert per["myoclonic_jerk"] >= 0.965, per
    assert per["hypnic_jerk"] >= 0.96, per
    assert per["tremor"] >= 0.98, per
    assert s["tremor_freq_mae_hz"] <= 0.2
    fp_conf = sum(v["count"] for k, v in s["fp_by_confounder"].items()
                  if not k.startswith("event:") and k != "none")
    assert fp_conf / s["hours"] <= 0.15
