# Runs the Ramulator 2.1 validation points and writes the TOML data file for plena-cpp's test.
import subprocess, sys, datetime, yaml
N = {"seq": 200000, "rand": 60000}
rows = []
for line in open("points.txt"):
    ours, speed, std, org, timing, ctrl, buf = line.split()
    cfg = yaml.safe_load(open(f"{ours}-{speed}.yaml"))
    dram = cfg["memory_system"]["controllers"][0]["dram"]
    rate, width = dram["timing"][0], dram["channel_width"]
    pcs = dram["org"]["count"][1] if std.startswith("HBM") else 1
    peak = rate * width * pcs / 8 / 1000
    res = {}
    for pat, kind in (("seq", "read"), ("rand", "read"), ("seq", "write")):
        out = subprocess.run(["./driver", f"{ours}-{speed}.yaml", pat, kind, str(N[pat]), str(128 << 20)],
                             capture_output=True, text=True, check=True).stdout
        kv = dict(x.split("=") for x in out.split())
        res[f"{pat}_{kind}"] = float(kv["GBps"]); tx = int(kv["tx_bytes"])
        print(ours, speed, pat, kind, out.strip(), f"peak={peak:.2f}", flush=True)
    rows.append((ours, speed, std, org, timing, ctrl, buf, tx, peak, res))
with open("ramulator2_bandwidth.toml", "w") as f:
    f.write(open("header.toml").read())
    for ours, speed, std, org, timing, ctrl, buf, tx, peak, res in rows:
        f.write(f'\n[[point]]\nstandard = "{ours}"\nspeed = "{speed}"\nramulator_standard = "{std}"\n'
                f'ramulator_org = "{org}"\nramulator_timing = "{timing}"\ncontroller = "{ctrl}"\n'
                f'read_write_buffer = {buf}\ntx_bytes = {tx}\nchannel_peak_GBps = {peak:.3f}\n'
                f'seq_read_GBps = {res["seq_read"]:.3f}\nrand_read_GBps = {res["rand_read"]:.3f}\n'
                f'seq_write_GBps = {res["seq_write"]:.3f}\n')
