// HBM DMA: H_PREFETCH_M, H_PREFETCH_V (decode HBM rows into the SRAMs, rounded to the SRAM type)
// and H_STORE_V (encode VRAM rows with the HBM format's encoder). Addressing per the plena-cpp
// layout in hbm_layout.cpp: gp[rs1], SCALE_REG and STRIDE_REG count elements of the format.
#include <fmt/format.h>

#include "numerics/fast.hpp"
#include "sim/exec_detail.hpp"
#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::sim::detail {
namespace {

const numerics::Format& pick_format(const Ctx& c, DmaOp op) {
  const auto& f = c.m.config().formats;
  if (c.in.funct1 > 1) faultf(c, "precision must be 0 (weights/activations) or 1 (KV), got {}", c.in.funct1);
  const bool kv = c.in.funct1 == 1;
  if (op == DmaOp::PrefetchM) return kv ? f.m_kv : f.m_weight;
  return kv ? f.v_kv : f.v_act;
}

// The bytes at addr in place where one page holds them, else copied into `scratch`.
std::span<const uint8_t> hbm_bytes(const HbmStore& hbm, uint64_t addr, std::vector<uint8_t>& scratch) {
  if (const uint8_t* p = hbm.view(addr, scratch.size())) return {p, scratch.size()};
  hbm.read(addr, scratch);
  return scratch;
}

}  // namespace

void exec_dma(const Ctx& c, DmaOp op) {
  Machine& m = c.m;
  const auto& in = c.in;
  const auto& cfg = m.config();
  const numerics::Format& hf = pick_format(c, op);
  if (in.rs3 > 1) faultf(c, "rstride must be 0 (rows packed) or 1 (rows STRIDE_REG elements apart), got {}", in.rs3);
  if (in.rs2 >= m.hbm_addr.size())
    faultf(c, "a{} is not an HBM address register (a0-a{})", in.rs2, m.hbm_addr.size() - 1);

  const bool to_mram = op == DmaOp::PrefetchM;
  const bool store = op == DmaOp::StoreV;
  const uint64_t row_len = to_mram ? c.g.mlen : c.g.vlen;
  uint64_t rows;
  if (to_mram) {
    rows = round_up(cfg.hbm.m_prefetch_amount, c.g.mlen);  // whole tiles
  } else {
    rows = store ? cfg.hbm.v_writeback_amount : cfg.hbm.v_prefetch_amount;
  }

  const uint64_t sram_addr = read_gp(c, in.rd);
  const uint64_t first = read_gp(c, in.rs1);
  c.e.add_read(Space::HbmReg, in.rs2, in.rs2 + 1u);
  const uint64_t base = m.hbm_addr[in.rs2];
  const bool scaled = numerics::scale_bytes(hf, 1) != 0;
  const bool strided = in.rs3 == 1;
  if (scaled || strided) c.e.add_read(Space::Ctrl, scaled ? 0 : 1, strided ? 2 : 1);
  const uint64_t stride = strided ? m.stride_reg : row_len;

  // SRAM side.
  if (to_mram) {
    if (sram_addr % c.g.mlen != 0)
      faultf(c, "MRAM address {} is not a multiple of MLEN ({})", sram_addr, c.g.mlen);
    check_mram(c, sram_addr, rows * row_len, "destination");
    c.e.add_write(Space::Mram, sram_addr, sram_addr + rows * row_len);
  } else {
    check_vram_rows(c, sram_addr, rows, store ? "source" : "destination");
    if (store)
      c.e.add_read(Space::Vram, sram_addr, sram_addr + rows * row_len);
    else
      c.e.add_write(Space::Vram, sram_addr, sram_addr + rows * row_len);
  }

  // HBM side. A prefetch row may start inside an MX block (the reference's rule, see plan_rows); a
  // store there would rewrite the scale that block shares with the elements before the row.
  if (store && scaled && first % uint64_t(hf.block) != 0)
    faultf(c, "HBM element offset {} is inside a {} block of {} elements; H_STORE_V rows must start on a block "
           "boundary (the row's scale would overwrite the scale of the elements before it)",
           first, hf.name(), hf.block);
  RowPlan p;
  std::string err = plan_rows(hf, base, first, row_len, stride, rows, m.scale_reg, p);
  if (!err.empty()) fault(c, fmt::format("HBM {}: {}", hf.name(), err));
  const uint64_t hbm_size = cfg.hbm.size_bytes;
  if (p.elem_end > hbm_size)
    faultf(c, "HBM element rows [0x{:x}, 0x{:x}) exceed the HBM size ({} bytes)", p.elem_base, p.elem_end, hbm_size);
  if (scaled && p.scale_end > hbm_size)
    faultf(c, "HBM scale rows [0x{:x}, 0x{:x}) exceed the HBM size ({} bytes); SCALE_REG = {}", p.scale_base,
           p.scale_end, hbm_size, m.scale_reg);
  c.e.add_hbm(HbmStream{p.elem_base, p.elem_row_bytes, rows, p.elem_stride_bytes, store});
  if (scaled) c.e.add_hbm(HbmStream{p.scale_base, p.scale_row_bytes, rows, p.scale_stride_bytes, store});
  if (!m.functional()) return;

  HbmStore& hbm = m.hbm();
  m.scratch_b.resize(p.elem_row_bytes);
  m.scratch_s.resize(p.scale_row_bytes);
  std::span<float> vals(m.scratch_f.data(), row_len);
  if (store) {
    for (uint64_t r = 0; r < rows; ++r) {
      const float* s = m.vram() + sram_addr + r * row_len;
      std::copy(s, s + row_len, vals.begin());
      try {
        numerics::encode_row(hf, vals, m.scratch_b, m.scratch_s);
      } catch (const InputError& ex) {
        faultf(c, "row {} cannot be encoded as {}: {}", r, hf.name(), ex.what());
      }
      hbm.write(p.elem_base + r * p.elem_stride_bytes, m.scratch_b);
      if (scaled) hbm.write(p.scale_base + r * p.scale_stride_bytes, m.scratch_s);
    }
    return;
  }
  const Rounder& rnd = to_mram ? m.matrix_round() : m.vector_round();
  float* dst = (to_mram ? m.mram() : m.vram()) + sram_addr;
  const numerics::fast::RowDecoder decode(hf);
  for (uint64_t r = 0; r < rows; ++r) {
    const std::span<const uint8_t> eb = hbm_bytes(hbm, p.elem_base + r * p.elem_stride_bytes, m.scratch_b);
    const std::span<const uint8_t> sb =
        scaled ? hbm_bytes(hbm, p.scale_base + r * p.scale_stride_bytes, m.scratch_s) : std::span<const uint8_t>();
    float* d = dst + r * row_len;
    decode(eb, sb, std::span<float>(d, row_len));  // the SRAM rows are this row's own
    rnd.round_row(d, row_len);
  }
}

}  // namespace plena::sim::detail
