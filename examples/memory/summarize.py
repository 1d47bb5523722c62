#!/usr/bin/env python3
"""MemExplorer-style study summary (README.md): reads each workload's baseline estimate and the
prefill / decode design-space runs under OUT, computes the improvement factors the MemExplorer
abstract reports (prefill energy efficiency at the baseline's power budget; decode power
efficiency at the baseline's performance), evaluates the combined best deployment, and writes
OUT/report.md and OUT/factors.csv. Standard library only.

usage: summarize.py OUT PLENA_BINARY
"""
import csv
import json
import os
import subprocess
import sys

WORKLOADS = [
    ("bfcl_70b", "LLaMA-3.3-70B, BFCL-like agentic turns (114k prompt / 5k output)"),
    ("osworld_70b", "LLaMA-3.3-70B, OSWorld-like episodes (90k prompt / 8k output)"),
    ("chat_8b", "LLaMA-3.1-8B chat mix (512/2k/8k prompts 3:2:1, 64-512 output)"),
]
MEMEXPLORER_PREFILL, MEMEXPLORER_DECODE = 2.3, 1.93
HERE = os.path.dirname(os.path.abspath(__file__))


def rows(path):
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if r["status"] == "ok"]


def pool_metrics(report):
    pre, dec = report["pools"]["prefill"], report["pools"]["decode"]
    return {
        "prefill_tokens_per_j": pre["tokens"] / pre["busy_energy_j"],
        "prefill_power_w": pre["busy_power_w"],
        "decode_power_w": dec["average_power_w"],
        "tpot_s": report["tpot_s"]["mean"],
    }


def params_of(row, names):
    return ", ".join(f"{n}={row[n]}" for n in names)


def estimate(plena, toml_path):
    out = subprocess.run([plena, "estimate", "--deployment", toml_path, "--json"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def combined_toml(base_path, pre, dec, path):
    """The baseline deployment with the best prefill and best decode choices set."""
    text = open(base_path).read()
    vram_rows = int(pre["vram_mib"]) * 1048576 // (2 * 2048)
    text = text.replace('[prefill]\nhw = "reference-analytic"\nset = { "hbm.dram" = "hbm2e" }',
                        f'[prefill]\nhw = "reference-analytic"\nset = {{ "hbm.dram" = "{pre["prefill_dram"]}", '
                        f'"sram.vector_depth" = {vram_rows} }}')
    text = text.replace('[decode]\nhw = "reference-analytic"\nset = { "hbm.dram" = "hbm2e" }',
                        f'[decode]\nhw = "{os.path.join(HERE, dec["decode_hw"])}"')
    lines, section = [], ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line
        if section == "[prefill]" and line.startswith("devices ="):
            line = f"devices = {pre['prefill_devs']}"
        if section == "[decode]" and line.startswith("devices ="):
            line = f"devices = {dec['decode_devs']}"
        lines.append(line)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def study(out, plena, name):
    base = json.load(open(os.path.join(out, name, "baseline.json")))
    b = pool_metrics(base)
    pre_rows = rows(os.path.join(out, name, "prefill", "trials.csv"))
    dec_rows = rows(os.path.join(out, name, "decode", "trials.csv"))
    within = [r for r in pre_rows if float(r["prefill_power_w"]) <= b["prefill_power_w"] * (1 + 1e-9)]
    best_pre = max(within, key=lambda r: float(r["prefill_tokens_per_j"]))
    iso = [r for r in dec_rows if float(r["tpot_s"]) <= b["tpot_s"] * (1 + 1e-9)]
    best_dec = min(iso, key=lambda r: float(r["decode_power_w"]))
    comb_path = os.path.join(out, name, "best_combined.toml")
    combined_toml(os.path.join(HERE, name + ".toml"), best_pre, best_dec, comb_path)
    comb = estimate(plena, comb_path)
    return {
        "workload": name,
        "base": base, "b": b,
        "best_pre": best_pre, "best_dec": best_dec, "comb": comb,
        "prefill_factor": float(best_pre["prefill_tokens_per_j"]) / b["prefill_tokens_per_j"],
        "decode_factor": b["decode_power_w"] / float(best_dec["decode_power_w"]),
        "n_pre": (len(within), len(pre_rows)), "n_dec": (len(iso), len(dec_rows)),
    }


def main():
    out, plena = sys.argv[1], sys.argv[2]
    results = [study(out, plena, name) for name, _ in WORKLOADS]
    with open(os.path.join(out, "factors.csv"), "w") as f:
        f.write("workload,prefill_tokens_per_j_base,prefill_tokens_per_j_best,prefill_factor,prefill_power_budget_w,"
                "decode_power_w_base,decode_power_w_best,decode_factor,tpot_s_base,tpot_s_best,"
                "system_tokens_per_j_base,system_tokens_per_j_combined,usd_per_mtok_base,usd_per_mtok_combined\n")
        for r in results:
            b, bp, bd, c = r["b"], r["best_pre"], r["best_dec"], r["comb"]
            f.write(f"{r['workload']},{b['prefill_tokens_per_j']:.6g},{float(bp['prefill_tokens_per_j']):.6g},"
                    f"{r['prefill_factor']:.4f},{b['prefill_power_w']:.6g},{b['decode_power_w']:.6g},"
                    f"{float(bd['decode_power_w']):.6g},{r['decode_factor']:.4f},{b['tpot_s']:.6g},"
                    f"{float(bd['tpot_s']):.6g},{r['base']['tokens_per_j']:.6g},{c['tokens_per_j']:.6g},"
                    f"{r['base']['usd_per_million_tokens']:.6g},{c['usd_per_million_tokens']:.6g}\n")
    write_report(out, results)


def write_report(out, results):
    best_p = max(results, key=lambda r: r["prefill_factor"])
    best_d = max(results, key=lambda r: r["decode_factor"])
    md = ["# MemExplorer-style memory study (generated by examples/memory/run_study.sh)\n"]
    md.append("| | ours (best workload) | MemExplorer (abstract) |\n|---|---|---|")
    md.append(f"| prefill energy efficiency at the baseline's power budget | **{best_p['prefill_factor']:.2f}x** "
              f"({best_p['workload']}) | 2.3x |")
    md.append(f"| decode power efficiency at the baseline's performance | **{best_d['decode_factor']:.2f}x** "
              f"({best_d['workload']}) | 1.93x |\n")
    md.append("Baseline NPU: `reference-analytic` (MLEN 2048, BLEN 128, 256 MiB VRAM, 1 GHz, 7 nm) with "
              "**HBM2E** (`hbm.dram = \"hbm2e\"`, 409.6 GB/s, 6.0 pJ/bit, 128 GiB per device), the same device in "
              "both pools (16 + 16 for 70B, 1 + 1 for 8B). Every number: `plena estimate --deployment` (analytic "
              "model + event simulation of the request stream, src/serve).\n")
    for (name, title), r in zip(WORKLOADS, results):
        b, bp, bd, c = r["b"], r["best_pre"], r["best_dec"], r["comb"]
        md.append(f"## {title}\n")
        md.append(f"Baseline: TTFT {r['base']['ttft_s']['mean']:.3f} s, TPOT {b['tpot_s']*1e3:.1f} ms, "
                  f"{r['base']['tokens_per_s']:.2f} output tokens/s, {r['base']['tokens_per_j']:.4g} tokens/J, "
                  f"{r['base']['average_power_w']:.1f} W, ${r['base']['usd_per_million_tokens']:.3g} per million "
                  f"output tokens.\n")
        md.append("| | baseline | best | factor | best point |\n|---|---|---|---|---|")
        md.append(f"| prefill prompt tokens/J (power <= {b['prefill_power_w']:.1f} W: {r['n_pre'][0]} of "
                  f"{r['n_pre'][1]} points) | {b['prefill_tokens_per_j']:.4g} | "
                  f"{float(bp['prefill_tokens_per_j']):.4g} | {r['prefill_factor']:.2f}x | "
                  f"{params_of(bp, ['prefill_dram', 'prefill_devs', 'vram_mib'])} |")
        md.append(f"| decode pool power, W (TPOT <= {b['tpot_s']*1e3:.1f} ms: {r['n_dec'][0]} of {r['n_dec'][1]} "
                  f"points) | {b['decode_power_w']:.1f} | {float(bd['decode_power_w']):.1f} | "
                  f"{r['decode_factor']:.2f}x | {params_of(bd, ['decode_hw', 'decode_devs'])} |")
        md.append(f"| system tokens/J, both choices together (`{name}/best_combined.toml`) | "
                  f"{r['base']['tokens_per_j']:.4g} | {c['tokens_per_j']:.4g} | "
                  f"{c['tokens_per_j']/r['base']['tokens_per_j']:.2f}x | TTFT {c['ttft_s']['mean']:.3f} s, TPOT "
                  f"{c['tpot_s']['mean']*1e3:.1f} ms |")
        md.append(f"| $ per million output tokens | {r['base']['usd_per_million_tokens']:.4g} | "
                  f"{c['usd_per_million_tokens']:.4g} | "
                  f"{r['base']['usd_per_million_tokens']/c['usd_per_million_tokens']:.2f}x | |\n")
        md.append(f"Fronts: `{name}/prefill/pareto.csv` + `{name}/prefill/front_*.svg`, "
                  f"`{name}/decode/pareto.csv` + `{name}/decode/front_*.svg` (every point: `trials.csv`).\n")
    md.append(open(os.path.join(HERE, "differences.md")).read())
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
