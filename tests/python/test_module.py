"""The plena module's assembler, numerics, config and simulator bindings (docs/python.md)."""
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

import plena
from helpers import SOURCE_DIR, cli

# docs/numerics.md section 3.4: one block through every codec (codes, scale, dequantized values).
BLOCK = np.array([0.5, 1, 2, 4, 3.3, -0.7, 0.01, 1.0625], dtype=np.float32)
WORKED = [
    ("ocp-mx:fp8_e4m3:b8:rne", "6068707875E33268", "79", [0.5, 1, 2, 4, 3.25, -0.6875, 0.009765625, 1]),
    ("ocp-mx:fp8_e4m3:b8:ties-away", "6068707875E33269", "79", [0.5, 1, 2, 4, 3.25, -0.6875, 0.009765625, 1.125]),
    ("mase-bfp:int4:b8", "2174F720", "81", [0.5, 1, 2, 3.5, 3.5, -0.5, 0, 1]),
    ("plena-hw-mxfp:fp8_e4m3:b8", "2028303835A30228", "81", [0.5, 1, 2, 4, 3.25, -0.6875, 0.0078125, 1]),
    ("asym-int:uint4:g8", "54F90D62", "03359AB9", None),
]


class Assembler(unittest.TestCase):
    def test_assemble_matches_the_cli_and_disassembles_back(self):
        asm = (SOURCE_DIR / "examples/sim/scale_shift.asm").read_text()
        words = plena.assemble(asm)
        self.assertEqual(words.dtype, np.uint32)
        with tempfile.TemporaryDirectory() as tmp:
            mem = Path(tmp) / "p.mem"
            cli("asm", str(SOURCE_DIR / "examples/sim/scale_shift.asm"), "-o", str(mem))
            self.assertEqual(plena.to_mem_text(words), mem.read_text())
        np.testing.assert_array_equal(plena.assemble(plena.disassemble(words)), words)
        np.testing.assert_array_equal(plena.parse_mem_text(plena.to_mem_text(words)), words)

    def test_words_must_be_32_bit_integers(self):
        with self.assertRaisesRegex(plena.InputError, "expected integers, got an array of dtype float64"):
            plena.disassemble([1.5])
        with self.assertRaisesRegex(plena.InputError, r"value -1 at index 1 is outside 0 \.\. 2\^32-1"):
            plena.to_mem_text([0, -1])
        with self.assertRaisesRegex(plena.InputError, "value 4294967296"):
            plena.Simulator(plena.HardwareConfig.load("reference-small")).load([2**32])

    def test_errors_carry_the_location(self):
        with self.assertRaises(plena.InputError) as e:
            plena.assemble("S_ADDI_INT gp1, gp0, 1\nS_BOGUS gp1\n", "k.asm")
        self.assertIn("k.asm:2:", str(e.exception))
        self.assertTrue(issubclass(plena.InputError, ValueError))


class Numerics(unittest.TestCase):
    def test_worked_example_of_every_codec(self):
        for fmt, payload_hex, scales_hex, values in WORKED:
            with self.subTest(fmt=fmt):
                payload, scales = plena.quantize(BLOCK, fmt)
                self.assertEqual(payload.tobytes().hex().upper(), payload_hex)
                self.assertEqual(scales.tobytes().hex().upper(), scales_hex)
                back = plena.dequantize(payload, scales, fmt, len(BLOCK))
                if values is not None:
                    np.testing.assert_array_equal(back, np.array(values, dtype=np.float32))

    def test_rows_round_trip_bit_exactly_through_fake_quantize(self):
        x = np.random.default_rng(7).normal(size=(3, 5, 40)).astype(np.float32)
        for fmt in ["bf16", "fp16", "fp8_e5m2", "ocp-mx:fp4_e2m1:b32", "ocp-mx:int8:b16", "mase-bfp:int6:b16",
                    "plena-hw-mxfp:fp8_e4m3:b8", "asym-int:uint2:g16"]:
            with self.subTest(fmt=fmt):
                payload, scales = plena.quantize(x, fmt)
                self.assertEqual(payload.shape[:2], (3, 5))
                back = plena.dequantize(payload, scales, fmt, 40)
                self.assertEqual(back.shape, x.shape)
                np.testing.assert_array_equal(back.view(np.uint32), plena.fake_quantize(x, fmt).view(np.uint32))

    def test_plain_bf16_payload_is_fp32_rounded_to_nearest_even(self):
        x = np.array([1.0, -2.5, 3.0e-3, 1.00390625, 1.01171875], dtype=np.float32)  # 3e-3 rounds up; two ties
        payload, scales = plena.quantize(x, "bf16")
        self.assertEqual(scales.size, 0)
        u = x.view(np.uint32).astype(np.uint64)
        rne = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
        np.testing.assert_array_equal(payload.view(np.uint16), rne)
        self.assertEqual(payload.view(np.uint16)[3], 0x3F80)  # tie to even: down
        self.assertEqual(payload.view(np.uint16)[4], 0x3F82)  # tie to even: up

    def test_bad_formats_and_shapes_raise_input_error(self):
        with self.assertRaisesRegex(plena.InputError, "nope"):
            plena.quantize(BLOCK, "nope")
        payload, scales = plena.quantize(BLOCK, "ocp-mx:fp8_e4m3:b8")
        with self.assertRaisesRegex(plena.InputError, r"payload has shape \[8\], expected \[4\]"):
            plena.dequantize(payload, scales, "ocp-mx:fp8_e4m3:b8", 4)
        with self.assertRaisesRegex(plena.InputError, "non-empty last axis"):
            plena.quantize(np.zeros((2, 0), dtype=np.float32), "bf16")

    def test_format_info(self):
        info = plena.format_info("ocp-mx:fp4_e2m1:b32")
        self.assertEqual(info["bits_per_element"], 4.25)
        self.assertEqual(info["block"], 32)


class Config(unittest.TestCase):
    def test_hash_and_toml_match_the_cli(self):
        cfg = plena.HardwareConfig.load("reference-small")
        self.assertIn(cfg.hash, cli("config", "hash", "reference-small"))
        self.assertEqual(plena.HardwareConfig.load(cfg.to_toml()), cfg)
        self.assertEqual(cfg.to_dict()["canonical_hash"], cfg.hash)
        self.assertIn("reference-small", plena.HardwareConfig.presets())
        self.assertEqual(cfg.vlen, cfg.to_dict()["geometry"]["vlen"])

    def test_loads_files_and_reports_located_errors(self):
        path = SOURCE_DIR / "examples/configs/reference-small-full.toml"
        self.assertEqual(plena.HardwareConfig.load(path).hash, plena.HardwareConfig.load(str(path)).hash)
        with self.assertRaisesRegex(plena.InputError, r"geometry"):
            plena.HardwareConfig.load("[geometry]\nmlen = 3\n")
        with self.assertRaisesRegex(plena.InputError, "role 'bias'"):
            plena.HardwareConfig.load("reference-small").format("bias")


class Simulator(unittest.TestCase):
    def setUp(self):
        self.cfg = plena.HardwareConfig.load("reference-small")
        self.act = self.cfg.format("activation")
        self.x = np.load(SOURCE_DIR / "examples/sim/x.npy")

    def scale_shift(self, mode="functional"):
        sim = plena.Simulator(self.cfg, mode)
        sim.load((SOURCE_DIR / "examples/sim/scale_shift.asm").read_text())
        x_t = plena.hbm_layout("x", [4, 64], self.act)
        y_t = plena.hbm_layout("y", [4, 64], self.act, base=65536)
        if mode == "functional":
            sim.write_tensor(x_t, self.x)
            sim.write_fpsram(0, [2.0, 1.0])
        sim.set_addr(0, x_t.base)
        sim.set_addr(1, y_t.base)
        return sim, sim.run(), y_t

    def test_matches_plena_sim_on_the_same_example_bit_exactly(self):
        sim, stats, y_t = self.scale_shift()
        y = sim.read_tensor(y_t)
        with tempfile.TemporaryDirectory() as tmp:
            cli("sim", str(SOURCE_DIR / "examples/sim/scale_shift.toml"), "--out-dir", tmp, "--stats", f"{tmp}/s.json", "-q")
            np.testing.assert_array_equal(y, np.load(f"{tmp}/out/y_hbm.npy"))
            np.testing.assert_array_equal(sim.read_vram(0, 256).reshape(4, 64), np.load(f"{tmp}/out/y_vram.npy"))
            cli_stats = json.loads(Path(f"{tmp}/s.json").read_text())
        self.assertEqual(stats["cycles"], cli_stats["cycles"])
        self.assertEqual(stats["instructions"], cli_stats["instructions"])
        self.assertEqual(stats["time_ps"], cli_stats["time_ps"])
        # Exact in between (2x+1 of MXFP8 values fits the vector SRAM's bf16): only the two HBM roundings.
        np.testing.assert_array_equal(y, plena.fake_quantize(2 * plena.fake_quantize(self.x, self.act) + 1, self.act))

    def test_timing_only_gives_the_same_cycles_and_no_data(self):
        _, functional, _ = self.scale_shift()
        sim, timing, y_t = self.scale_shift("timing-only")
        self.assertEqual(timing["cycles"], functional["cycles"])
        with self.assertRaisesRegex(plena.SimFault, "timing-only"):
            sim.read_tensor(y_t)

    def test_registers_sram_and_faults(self):
        sim = plena.Simulator(self.cfg)
        sim.load(plena.assemble("S_ADDI_INT gp1, gp0, 7\nS_LD_FP f1, gp0, 3\n"))
        sim.write_fpsram(3, [1.5])
        sim.write_intsram(0, [5, 6])
        sim.run()
        self.assertEqual(sim.gp[1], 7)
        self.assertEqual(sim.fp[1], 1.5)
        np.testing.assert_array_equal(sim.read_intsram(0, 2), [5, 6])
        with self.assertRaisesRegex(plena.SimFault, "exceeds"):
            sim.read_vram(10**9, 4)
        with self.assertRaisesRegex(plena.InputError, "mode 'fast'"):
            plena.Simulator(self.cfg, "fast")
        with self.assertRaisesRegex(plena.InputError, "no program"):
            plena.Simulator(self.cfg).run()

    def test_hbm_layout_pads_rows_to_scale_blocks(self):
        t = plena.hbm_layout("w", [3, 10], "ocp-mx:fp8_e4m3:b8", cls="weight")
        self.assertEqual((t.rows, t.cols, t.row_stride, t.scale_reg), (3, 10, 16, 48))
        self.assertEqual(t.bytes, 48 + 6)


class Stubs(unittest.TestCase):
    def test_stubs_name_every_public_function_and_class(self):
        import re
        stub = (SOURCE_DIR / "src/python/plena.pyi").read_text()
        declared = set(re.findall(r"^(?:def|class) (\w+)", stub, flags=re.M))
        public = {n for n in dir(plena) if not n.startswith("_")}
        self.assertEqual(declared, public)
        for cls in [plena.HardwareConfig, plena.Simulator, plena.HbmTensor, plena.Tokenizer]:
            body = stub.split(f"class {cls.__name__}")[1].split("\nclass ")[0].split("\ndef ")[0]
            members = set(re.findall(r"^    (?:def )?(\w+)", body, flags=re.M)) - {"__init__"}
            self.assertEqual(members, {n for n in dir(cls) if not n.startswith("_")}, cls.__name__)


class Version(unittest.TestCase):
    def test_one_version_everywhere(self):
        self.assertEqual(cli("--version").split()[-1], plena.__version__)
        cmake = (SOURCE_DIR / "CMakeLists.txt").read_text()
        self.assertIn(f"VERSION {plena.__version__} ", cmake)


if __name__ == "__main__":
    unittest.main()
