"""plena.run / compile / estimate / dse against the CLI and the runner's own invariants."""
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

import plena
from helpers import SOURCE_DIR, cli

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


TOKENIZERS = SOURCE_DIR / "tests/tokenizer/data"


class Tokenizers(unittest.TestCase):
    """plena.Tokenizer / tokenize / detokenize and text prompts, against the CLI on the same files."""

    def test_ids_equal_the_cli_for_both_file_formats(self):
        text = "Hello  world 12345 \u4e16\u754c \U0001F600 caf\u00e9"
        for name in ["bytelevel", "sp", "sp-json"]:
            path = TOKENIZERS / name
            try:
                tok = plena.Tokenizer.load(path)
            except plena.InputError:  # tokenizer.model in a build without libsentencepiece
                self.assertEqual(name, "sp")
                continue
            want = json.loads(cli("tokenize", str(path), text, "--json"))["ids"]
            got = tok.encode(text)
            self.assertEqual(got.dtype, np.int64)
            self.assertEqual(got.tolist(), want, name)
            self.assertEqual(plena.tokenize(path, text).tolist(), want)
            self.assertEqual(tok.decode(got, skip_special=True), plena.detokenize(path, got, skip_special=True))
            self.assertIn(text.split()[0], tok.decode(got))

    def test_text_prompt_runs_as_the_cli(self):
        path = TOKENIZERS / "bytelevel"
        with tempfile.TemporaryDirectory() as d:
            cli("run", "--tokenizer", str(path), "--prompt", "hello the", "--gen", "2", "--json", f"{d}/r.json", "-q")
            want = json.loads(Path(f"{d}/r.json").read_text())
        out = plena.run(prompt="hello the", tokenizer=plena.Tokenizer.load(path), max_new_tokens=2)
        self.assertEqual(out["report"]["prompts"], want["prompts"])
        self.assertEqual(out["tokens"].tolist(), want["generated"])
        # The tiny preset's vocabulary is larger than the test tokenizer's: ids outside it give None.
        tok = plena.Tokenizer.load(path)
        expect = [tok.decode(ids) if max(ids) < tok.vocab_size else None for ids in want["generated"]]
        self.assertEqual(out["generated_text"], expect)

    def test_chat_prompt_uses_the_template(self):
        tok = plena.Tokenizer.load(TOKENIZERS / "bytelevel")
        self.assertEqual(tok.chat_family, "llama3")
        text = tok.apply_chat_template([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
        out = plena.run(prompt="hi", tokenizer=tok, chat=True, system="Be brief.", max_new_tokens=1)
        self.assertEqual(out["report"]["prompts"][0], tok.encode(text, add_special=False).tolist())

    def test_errors_are_input_errors(self):
        tok = plena.Tokenizer.load(TOKENIZERS / "bytelevel")
        with self.assertRaisesRegex(plena.InputError, "needs a tokenizer"):
            plena.run(prompt="hello")
        with self.assertRaisesRegex(plena.InputError, "no such file"):
            plena.Tokenizer.load("/nonexistent/tokenizer.json")
        with self.assertRaises(plena.InputError):
            tok.decode([1.5])
        with self.assertRaises(plena.InputError):
            tok.decode([tok.vocab_size + 5])
        with self.assertRaisesRegex(plena.InputError, "role"):
            tok.apply_chat_template([{"content": "x"}])


if __name__ == "__main__":
    unittest.main()
