// Validation driver (not part of plena-cpp): streams reads or writes into one Ramulator 2.1 channel
// through its External frontend and prints sustained bandwidth.
// usage: driver CONFIG.yaml seq|rand read|write N_REQUESTS CAPACITY_BYTES
#include <cstdio>
#include <cstdlib>
#include <string>
#include "ramulator/base/config.h"
#include "ramulator/base/factory.h"
#include "ramulator/base/request.h"
#include "ramulator/frontend/i_frontend.h"
#include "ramulator/memory_system/i_memory_system.h"

int main(int argc, char** argv) {
  if (argc != 6) { std::fprintf(stderr, "usage\n"); return 1; }
  auto config = Ramulator::Config::parse_config_file(argv[1]);
  const bool seq = std::string(argv[2]) == "seq";
  const bool write = std::string(argv[3]) == "write";
  const long n = std::atol(argv[4]);
  const unsigned long long cap = std::strtoull(argv[5], nullptr, 10);
  auto* fe = Ramulator::Factory::create_frontend(config);
  auto* ms = Ramulator::Factory::create_memory_system(config);
  fe->connect_memory_system(ms);
  ms->connect_frontend(fe);
  const int tx = ms->get_tx_bytes();
  const double tck_ns = ms->get_tCK();
  long sent = 0, done = 0, warm_done = -1;
  long long clk = 0, warm_clk = 0;
  const long warm = n / 10;  // skip the fill-up transient
  unsigned long long x = 12345, addr = 0;
  auto next_addr = [&]() -> unsigned long long {
    if (seq) { unsigned long long a = addr; addr += tx; return a % cap; }
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return ((x >> 16) % (cap / tx)) * tx;
  };
  unsigned long long pending = next_addr();
  while (done < n) {
    while (sent < n && fe->receive_external_requests(write ? 1 : 0, pending, 0,
                                                     [&](Ramulator::Request&) { ++done; }, tx)) {
      ++sent;
      pending = next_addr();
    }
    ms->tick();
    ++clk;
    if (write) done = sent;  // writes have no completion callback; count accepted ones
    if (warm_done < 0 && done >= warm) { warm_done = done; warm_clk = clk; }
  }
  const double ns = double(clk - warm_clk) * tck_ns;
  std::printf("tx_bytes=%d tCK_ns=%.4f clocks=%lld GBps=%.3f\n", tx, tck_ns, clk,
              double(done - warm_done) * tx / ns);
  return 0;
}
