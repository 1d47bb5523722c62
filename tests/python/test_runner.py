"""plena.run / compile / estimate / dse against the CLI and the runner's own invariants."""
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

import plena
from helpers import cli

# Two weight formats on reference-small: a 2-point grid.
SPACE = """
[search]
base = "reference-small"
algorithm = "grid"
budget = 2

[[param]]
name = "w"
key = "formats.m_weight"
values = ["plena-hw-mxfp:fp8_e4m3:b8", "mase-bfp:int4:b8"]

[[workload]]
model = "tiny"
prefill = 16
decode = 4

[[objective]]
minimize = "tpot_s"
[[objective]]
minimize = "area_mm2"
"""


class Run(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = plena.run("preset:tiny", plena.HardwareConfig.load("reference-small"), prompt=[[3, 1, 4, 1], [5, 9, 2, 6]],
                            max_new_tokens=3, batch=2)

    def test_tokens_are_the_argmax_of_the_returned_logits(self):
        tokens, logits = self.out["tokens"], self.out["logits"]
        self.assertEqual(tokens.shape, (2, 3))
        self.assertEqual(logits.shape[:2], (3, 2))
        np.testing.assert_array_equal(logits.argmax(axis=2).T, tokens)
        np.testing.assert_array_equal(self.out["ref_logits"].argmax(axis=2).T, self.out["ref_tokens"])

    def test_report_matches_the_cli(self):
        rep = self.out["report"]
        self.assertEqual(rep["prompts"], [[3, 1, 4, 1], [5, 9, 2, 6]])
        self.assertEqual(rep["generated"], self.out["tokens"].tolist())
        self.assertEqual(rep["hw"], "reference-small")
        with tempfile.TemporaryDirectory() as tmp:
            cli("run", "--prompt-ids", "3,1,4,1;5,9,2,6", "--gen", "3", "--batch", "2", "--json", f"{tmp}/r.json", "-q")
            cli_rep = json.loads(Path(f"{tmp}/r.json").read_text())
        for key in ["generated", "ref_generated", "hw_hash", "logits_max_abs", "ttft_s", "tpot_s", "executed"]:
            self.assertEqual(rep[key], cli_rep[key], key)
        self.assertIn("ttft", self.out["text"].lower())

    def test_timing_only_has_no_logits(self):
        out = plena.run(prompt_len=8, max_new_tokens=1, timing_only=True)
        self.assertIsNone(out["logits"])
        self.assertGreater(out["report"]["ttft_s"], 0)

    def test_prompt_errors(self):
        with self.assertRaisesRegex(plena.InputError, "tokenizer"):
            plena.run(prompt="hello")
        with self.assertRaisesRegex(plena.InputError, r"\[T\] or \[B, T\]"):
            plena.run(prompt=np.zeros((1, 1, 2), dtype=np.int64))
        with self.assertRaisesRegex(plena.InputError, "expected integers"):
            plena.run(prompt=[1.0, 2.5])
        with self.assertRaisesRegex(plena.InputError, "empty"):
            plena.run(prompt=[])
        with self.assertRaises(plena.InputError):
            plena.run(prompt=[10**9])  # outside the vocabulary: the runner's own message


class CompileEstimateDse(unittest.TestCase):
    def test_compile_writes_the_files_it_names(self):
        with tempfile.TemporaryDirectory() as tmp:
            files = plena.compile(out_dir=tmp, prompt=[1, 2, 3, 4], weights=False)
            self.assertTrue(files)
            for f in files:
                self.assertTrue(Path(f).is_file(), f)

    def test_estimate_is_the_cli_json(self):
        est = plena.estimate("preset:tiny", "reference-small", prefill=8, decode=4)
        cli_est = json.loads(cli("estimate", "--model", "preset:tiny", "--hw", "reference-small", "--prefill", "8",
                                 "--decode", "4", "--json"))
        self.assertEqual(est, cli_est)
        with self.assertRaisesRegex(plena.InputError, "nosuch"):
            plena.estimate("preset:nosuch")

    def test_dse_grid(self):
        with tempfile.TemporaryDirectory() as tmp:
            space = Path(tmp) / "space.toml"
            space.write_text(SPACE)
            res = plena.dse(space, Path(tmp) / "out")
            self.assertEqual(len(res["trials"]), 2)
            self.assertTrue(all(t["status"] == "ok" for t in res["trials"]))
            self.assertTrue((Path(tmp) / "out" / "pareto.csv").is_file())
            self.assertLess(res["trials"][1]["metrics"]["tpot_s"], res["trials"][0]["metrics"]["tpot_s"])


if __name__ == "__main__":
    unittest.main()
