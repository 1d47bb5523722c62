// Up-front host-memory accounting for the simulator (see resources.hpp).
#include "sim/resources.hpp"

#include "sim/sim.hpp"

namespace plena::sim {

MemoryNeed simulator_memory(const config::HardwareConfig& cfg, bool functional) {
  const auto& g = cfg.geometry;
  const auto& s = cfg.sram;
  constexpr uint64_t f32 = sizeof(float);
  MemoryNeed n;
  n.add("INT SRAM", sat_mul({s.int_depth, sizeof(uint32_t)}), "sram.int_depth");
  if (!functional) return n;
  n.add("Vector SRAM", sat_mul({s.vector_depth, g.vlen, f32}), "sram.vector_depth");
  n.add("Matrix SRAM", sat_mul({s.matrix_depth, g.mlen, f32}), "sram.matrix_depth");
  n.add("FP SRAM", sat_mul({s.fp_depth, f32}), "sram.fp_depth");
  // Two MLEN x MLEN scratch tiles for every matmul, and the batched accumulator that the first
  // M_BMM/M_BTMM allocates (BROADCAST_AMOUNT tiles).
  n.add("matmul scratch", sat_mul({2, g.mlen, g.mlen, f32}), "geometry.mlen");
  n.add("batched accumulator", sat_mul({g.broadcast_amount, g.mlen, g.mlen, f32}), "geometry.mlen");
  n.add("HBM page table", hbm_page_table_bytes(cfg), "hbm.size_bytes");
  return n;
}

uint64_t hbm_page_table_bytes(const config::HardwareConfig& cfg) {
  return sat_mul({cfg.hbm.size_bytes / HbmStore::kPageBytes + 1, sizeof(void*)});
}

uint64_t hbm_pages_bytes(uint64_t begin, uint64_t end) {
  if (end <= begin) return 0;
  const uint64_t first = begin / HbmStore::kPageBytes, last = (end - 1) / HbmStore::kPageBytes;
  return sat_mul({last - first + 1, HbmStore::kPageBytes});
}

uint64_t trace_bytes(uint64_t instructions) {
  return sat_mul({instructions, kTraceBytesPerEvent});
}

}  // namespace plena::sim
