# Ramulator 2.1 config for one (standard, org preset, timing preset): one channel, External frontend,
# FR-FCFS, all-bank refresh, open rows, MOP4CLXOR mapping. Read by `python3 -m ramulator export`.
import os
import ramulator
std, org, timing, ctrl_cls = (os.environ[k] for k in ("STD", "ORG", "TIMING", "CTRL"))
buf = int(os.environ.get("BUF", "32"))
dram = getattr(ramulator.dram, std)(org_preset=org, timing_preset=timing)
ctrl = getattr(ramulator.controller, ctrl_cls)(
    dram=dram,
    scheduler=ramulator.scheduler.FRFCFS(),
    refresh_manager=ramulator.refresh_manager.AllBank(),
    row_policy=ramulator.row_policy.Open(),
    addr_mapper=ramulator.addr_mapper.MOP4CLXOR(),
    read_buffer_size=buf, write_buffer_size=buf,
)
mem = ramulator.memory_system.GenericDRAM(
    clock_ratio=1, controllers=[ctrl],
    channel_mapper=ramulator.channel_mapper.CacheLineInterleave())
sim = ramulator.Simulation(ramulator.frontend.External(clock_ratio=1), mem)
