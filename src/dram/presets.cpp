// Technology presets. Numbers are representative of the named standard / datasheet class at
// the stated speed grade; each preset's peak (pins x rate) equals its published figure.
#include <cmath>
#include <string>

#include "dram/dram.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::dram {
namespace {

constexpr uint64_t ns(double v) { return static_cast<uint64_t>(v * 1000.0 + 0.5); }

Params hbm2() {
  Params p;
  p.name = "hbm2";
  p.description = "HBM2 stack, 8 channels x 2 pseudo-channels x 64 bit, 2.0 Gbps/pin (the reference's Ramulator2 HBM2_2Gbps)";
  p.source = "JEDEC JESD235 (HBM2) pseudo-channel mode, 8Gb die, 2.0 Gbps speed bin";
  p.channels = 8; p.pseudo_channels = 2; p.bank_groups = 4; p.banks_per_group = 4;
  p.row_bytes = 1024; p.atom_bytes = 32; p.data_rate_mbps = 2000; p.bus_width_bits = 64;
  p.published_peak_GBps = 256.0;
  p.tCK = 1000;
  p.tRCD = ns(14); p.tCL = ns(14); p.tRP = ns(14); p.tRAS = ns(33); p.tRC = ns(47);
  p.tCCD_S = 2 * p.tCK; p.tCCD_L = 4 * p.tCK; p.tRRD_S = ns(4); p.tRRD_L = ns(6); p.tFAW = ns(16);
  p.tWR = ns(16); p.tWTR = ns(8); p.tRTP = ns(4); p.tRTW = 2 * p.tCK;
  p.tRFC = ns(350); p.tREFI = ns(3900); p.tCWL = 4 * p.tCK;
  return p;
}

Params hbm2e() {
  Params p = hbm2();
  p.name = "hbm2e";
  p.description = "HBM2E stack, 8 channels x 2 pseudo-channels x 64 bit, 3.2 Gbps/pin";
  p.source = "JEDEC JESD235C (HBM2E), 16Gb die, 3.2 Gbps speed bin (410 GB/s per stack)";
  p.data_rate_mbps = 3200; p.published_peak_GBps = 409.6;
  p.tCK = 625;
  p.tCCD_S = 2 * p.tCK; p.tCCD_L = 4 * p.tCK; p.tRTP = ns(5); p.tRTW = 2 * p.tCK; p.tCWL = 4 * p.tCK;
  return p;
}

// The paper-equivalent PLENA device's share of 4 x A100-80GB HBM2e (docs/analytic.md §6.2): A100
// has 5 stacks, 5120 pins at 3.186 Gbps (2,039 GB/s); 16 devices get 509.75 GB/s each. Channel
// counts must be powers of two and a 32-byte atom whole bus beats, so the 1.25 stacks' worth is one
// stack's 16 x 64-bit pseudo-channels at 1.25 x the pin rate (3.982 Gbps), HBM2E timings otherwise.
Params hbm2e_a100() {
  Params p = hbm2e();
  p.name = "hbm2e-a100";
  p.description = "1/16 of 4 x A100-80GB HBM2e bandwidth: 8 channels x 2 pseudo-channels x 64 bit at 3.982 Gbps/pin";
  p.source = "NVIDIA A100 80GB SXM datasheet: 2,039 GB/s (5 HBM2e stacks); x 4 / 16 = 509.75 GB/s";
  p.data_rate_mbps = 3982; p.published_peak_GBps = 509.75;
  p.tCK = 502;  // 1.991 GHz command clock (3.982 Gbps DDR)
  p.tCCD_S = 2 * p.tCK; p.tCCD_L = 4 * p.tCK; p.tRTW = 2 * p.tCK; p.tCWL = 4 * p.tCK;
  return p;
}

Params hbm3() {
  Params p;
  p.name = "hbm3";
  p.description = "HBM3 stack, 16 channels x 2 pseudo-channels x 32 bit, 6.4 Gbps/pin";
  p.source = "JEDEC JESD238 (HBM3), 16Gb die, 6.4 Gbps speed bin (819 GB/s per stack)";
  p.channels = 16; p.pseudo_channels = 2; p.bank_groups = 4; p.banks_per_group = 4;
  p.row_bytes = 1024; p.atom_bytes = 32; p.data_rate_mbps = 6400; p.bus_width_bits = 32;
  p.published_peak_GBps = 819.2;
  p.tCK = 625;
  p.tRCD = ns(15); p.tCL = ns(15); p.tRP = ns(15); p.tRAS = ns(33); p.tRC = ns(48);
  p.tCCD_S = 2 * p.tCK; p.tCCD_L = 4 * p.tCK; p.tRRD_S = ns(2.5); p.tRRD_L = ns(3.75); p.tFAW = ns(15);
  p.tWR = ns(16); p.tWTR = ns(7.5); p.tRTP = ns(3.75); p.tRTW = 2 * p.tCK;
  p.tRFC = ns(350); p.tREFI = ns(3900); p.tCWL = 6 * p.tCK;
  return p;
}

Params hbm3e() {
  Params p = hbm3();
  p.name = "hbm3e";
  p.description = "HBM3E stack, 16 channels x 2 pseudo-channels x 32 bit, 9.6 Gbps/pin";
  p.source = "JEDEC JESD238A (HBM3) extended speed bin as shipped by HBM3E vendors, 9.6 Gbps (1.2 TB/s per stack)";
  p.data_rate_mbps = 9600; p.published_peak_GBps = 1228.8;
  p.tCK = 417;                         // 2.4 GHz command clock
  p.tCCD_S = 833; p.tCCD_L = 1667;     // 2 and 4 command clocks (exact value 833.3 ps)
  p.tRTW = 833; p.tCWL = ns(3.75);
  return p;
}

Params lpddr5x() {
  Params p;
  p.name = "lpddr5x";
  p.description = "LPDDR5X-8533, 8 x16 channels (128-bit package), bank-group mode";
  p.source = "JEDEC JESD209-5B (LPDDR5/5X), 16Gb x16 channel, 8533 Mbps, BG mode BL16";
  p.channels = 8; p.pseudo_channels = 1; p.bank_groups = 4; p.banks_per_group = 4;
  p.row_bytes = 2048; p.atom_bytes = 32; p.data_rate_mbps = 8533; p.bus_width_bits = 16;
  p.published_peak_GBps = 136.5;
  p.tCK = 938;  // 1066 MHz CK (WCK:CK 4:1)
  p.tRCD = ns(18); p.tCL = ns(20); p.tRP = ns(18); p.tRAS = ns(42); p.tRC = ns(60);
  p.tCCD_S = 1875; p.tCCD_L = 3750; p.tRRD_S = ns(5); p.tRRD_L = ns(5); p.tFAW = ns(20);
  p.tWR = ns(34); p.tWTR = ns(12); p.tRTP = ns(7.5); p.tRTW = 3750;
  p.tRFC = ns(280); p.tREFI = ns(3906); p.tCWL = ns(10);
  return p;
}

Params gddr6() {
  Params p;
  p.name = "gddr6";
  p.description = "GDDR6 16 Gbps, 8 devices x 2 x16 channels (256-bit bus)";
  p.source = "JEDEC JESD250 (GDDR6), 16Gb device, 16 Gbps, BL16";
  p.channels = 16; p.pseudo_channels = 1; p.bank_groups = 4; p.banks_per_group = 4;
  p.row_bytes = 2048; p.atom_bytes = 32; p.data_rate_mbps = 16000; p.bus_width_bits = 16;
  p.published_peak_GBps = 512.0;
  p.tCK = 500;
  p.tRCD = ns(18); p.tCL = ns(14); p.tRP = ns(18); p.tRAS = ns(32); p.tRC = ns(50);
  p.tCCD_S = 2 * p.tCK; p.tCCD_L = 3 * p.tCK; p.tRRD_S = ns(2); p.tRRD_L = ns(3); p.tFAW = ns(16);
  p.tWR = ns(18); p.tWTR = ns(5); p.tRTP = ns(3); p.tRTW = 3 * p.tCK;
  p.tRFC = ns(280); p.tREFI = ns(1900); p.tCWL = ns(6);
  return p;
}

Params gddr7() {
  Params p = gddr6();
  p.name = "gddr7";
  p.description = "GDDR7 32 Gbps (PAM3), 8 devices x 4 x8 channels (256-bit bus)";
  p.source = "JEDEC JESD239 (GDDR7), 16Gb device, 32 Gbps launch speed, 32 B per column access";
  p.channels = 32; p.row_bytes = 1024; p.data_rate_mbps = 32000; p.bus_width_bits = 8;
  p.published_peak_GBps = 1024.0;
  p.tRCD = ns(16); p.tCL = ns(16); p.tRP = ns(16); p.tRAS = ns(32); p.tRC = ns(48);
  p.tCCD_S = 2 * p.tCK; p.tCCD_L = 4 * p.tCK; p.tWR = ns(16);
  return p;
}

Params ddr5() {
  Params p;
  p.name = "ddr5";
  p.description = "DDR5-6400, 2 DIMM channels x 2 x32 sub-channels, one rank of x8 devices";
  p.source = "JEDEC JESD79-5 (DDR5), 16Gb x8, DDR5-6400B (CL52), BL16";
  p.channels = 2; p.pseudo_channels = 2; p.bank_groups = 8; p.banks_per_group = 4;
  p.row_bytes = 4096; p.atom_bytes = 64; p.data_rate_mbps = 6400; p.bus_width_bits = 32;
  p.published_peak_GBps = 102.4;
  p.tCK = 313;  // 3.2 GHz (312.5 ps)
  p.tRCD = ns(16.25); p.tCL = ns(16.25); p.tRP = ns(16.25); p.tRAS = ns(32); p.tRC = ns(48.25);
  p.tCCD_S = ns(2.5); p.tCCD_L = ns(5); p.tRRD_S = ns(2.5); p.tRRD_L = ns(5); p.tFAW = ns(10);
  p.tWR = ns(30); p.tWTR = ns(10); p.tRTP = ns(7.5); p.tRTW = ns(2.5);
  p.tRFC = ns(295); p.tREFI = ns(3900); p.tCWL = ns(15.625);
  return p;
}

// High-bandwidth flash: an approximation. Banks stand for NAND planes, a row for a page held in
// the plane's page buffer (so "row hits" are page-buffer hits), tRCD for the page read tR and
// tWR for the program time. No refresh. Sized to the announced Gen1 1.6 TB/s read per stack.
Params hbf() {
  Params p;
  p.name = "hbf";
  p.description = "High-bandwidth flash (approximation): 16 ch x 2 pc x 32 bit, 12.5 Gbps, 64 planes/pc, 3 us page read, 200 us program";
  p.source = "SanDisk/SK hynix HBF announcements (Gen1 1.6 TB/s read per stack); tR/tPROG from SLC-class low-latency NAND";
  p.channels = 16; p.pseudo_channels = 2; p.bank_groups = 1; p.banks_per_group = 64;
  p.row_bytes = 16384; p.atom_bytes = 64; p.data_rate_mbps = 12500; p.bus_width_bits = 32;
  p.published_peak_GBps = 1600.0;
  p.tCK = 625;
  p.tRCD = ns(3000); p.tCL = ns(100); p.tRP = p.tCK; p.tRAS = ns(3000); p.tRC = ns(3000) + p.tCK;
  p.tCCD_S = 1280; p.tCCD_L = 1280; p.tRRD_S = ns(10); p.tRRD_L = ns(10); p.tFAW = ns(40);
  p.tWR = ns(200000); p.tWTR = ns(10); p.tRTP = p.tCK; p.tRTW = 1280;
  p.tRFC = 0; p.tREFI = 0; p.tCWL = ns(100);
  p.read_queue_depth = 128; p.write_queue_depth = 64;
  p.write_high_watermark = 48; p.write_low_watermark = 16;
  return p;
}

Params ideal() {
  Params p;
  p.name = "ideal";
  p.description = "Ideal memory: 256 GB/s (HBM2 8-channel peak) serialised, fixed 28 ns latency (HBM2 tRCD+tCL)";
  p.source = "derived from the hbm2 preset";
  p.kind = Kind::Ideal;
  p.channels = 1; p.pseudo_channels = 1; p.bank_groups = 1; p.banks_per_group = 1;
  p.row_bytes = 64; p.atom_bytes = 64; p.data_rate_mbps = 2000; p.bus_width_bits = 1024;
  p.published_peak_GBps = 256.0;
  p.tCK = 1000;
  p.ideal_latency_ps = ns(28);
  return p;
}

struct Entry {
  const char* name;
  Params (*make)();
};
constexpr Entry kPresets[] = {
    {"hbm2", hbm2},   {"hbm2e", hbm2e},     {"hbm2e-a100", hbm2e_a100}, {"hbm3", hbm3}, {"hbm3e", hbm3e},
    {"lpddr5x", lpddr5x}, {"gddr6", gddr6}, {"gddr7", gddr7},           {"ddr5", ddr5}, {"hbf", hbf},
    {"ideal", ideal},
};

}  // namespace

Params preset(std::string_view name) {
  for (const Entry& e : kPresets) {
    if (name == e.name) {
      Params p = e.make();
      if (p.kind == Kind::Dram) p.tBL = p.burst_time_from_rate_ps();
      return p;
    }
  }
  std::string known;
  for (const Entry& e : kPresets) known += std::string(known.empty() ? "" : ", ") + e.name;
  throw InputError(located("dram preset", 0, 0,
                           "unknown DRAM preset '" + std::string(name) + "', expected one of: " + known));
}

std::vector<std::string> preset_names() {
  std::vector<std::string> v;
  for (const Entry& e : kPresets) v.emplace_back(e.name);
  return v;
}

uint64_t Params::burst_time_from_rate_ps() const {
  const double bits = 8.0 * atom_bytes;
  return static_cast<uint64_t>(std::llround(bits * 1e6 / (double(bus_width_bits) * data_rate_mbps)));
}

uint64_t Params::idle_read_latency_ps() const {
  if (kind == Kind::Ideal) {
    const uint64_t bits = uint64_t(atom_bytes) * 8 * 1000000;
    const uint64_t den = uint64_t(bus_width_bits) * data_rate_mbps;
    return ideal_latency_ps + ceil_div(bits, den) + controller_latency_ps;
  }
  return tRCD + tCL + tBL + controller_latency_ps;
}

double Params::refresh_limited_bandwidth_GBps() const {
  if (kind == Kind::Ideal || tREFI == 0) return peak_bandwidth_GBps();
  return peak_bandwidth_GBps() * (1.0 - double(tRFC) / double(tREFI));
}

double Params::peak_bandwidth_GBps() const {
  return double(units()) * bus_width_bits * (data_rate_mbps * 1e6) / 8.0 / 1e9;
}

}  // namespace plena::dram
