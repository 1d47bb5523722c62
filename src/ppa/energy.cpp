// Energy per event and energy from activity (docs/ppa.md §Energy): Horowitz 45 nm operation
// energies (power laws between the published widths) scaled to the node, SRAM access energy by
// size, DRAM pJ/bit by technology, link pJ/bit, leakage x time.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "isa/isa.hpp"
#include "dram/standards.hpp"
#include "ppa/model.hpp"
#include "support/support.hpp"

namespace plena::ppa {
namespace detail {
namespace {

// y through (x0, y0) and (x1, y1) as a power law, evaluated at x.
double power_law(double x0, double y0, double x1, double y1, double x) {
  const double p = std::log(y1 / y0) / std::log(x1 / x0);
  return y0 * std::pow(x / x0, p);
}

// Operation energies at the node (pJ).
struct Ops {
  const Tables& t;
  double s;  // 45 nm -> node energy factor
  double int_add(double bits) const {
    return s * power_law(8, t.e("horowitz.int_add_8b").v, 32, t.e("horowitz.int_add_32b").v, bits);
  }
  double int_mult(double tb, double lb) const {
    return s * power_law(64, t.e("horowitz.int_mult_8b").v, 1024, t.e("horowitz.int_mult_32b").v, tb * lb);
  }
  // Mantissa multiply (hidden bit included: fp16 11 x 11, fp32 24 x 24) dominates an FP multiply.
  double fp_mult(double mt, double ml) const {
    return s * power_law(121, t.e("horowitz.fp_mult_16b").v, 576, t.e("horowitz.fp_mult_32b").v, (mt + 1) * (ml + 1));
  }
  double fp_add(double bits) const {
    return s * power_law(16, t.e("horowitz.fp_add_16b").v, 32, t.e("horowitz.fp_add_32b").v, bits);
  }
  // Per bit of one access to a memory of `bytes` (banked beyond bank_bytes).
  double sram_bit(double bytes) const {
    const double b = std::min(bytes, t.e("sram.bank_bytes").v);
    return s * power_law(8192, t.e("horowitz.sram_read_64b_8kib").v / 64, 1048576,
                         t.e("horowitz.sram_read_64b_1mib").v / 64, b);
  }
};

double mantissa_bits(const Operand& o) { return o.is_int ? o.width - 1 : o.mbits; }

double mac_pj(const Ops& ops, const config::HardwareConfig& cfg) {
  const Operand T = weight_side(cfg), L = activation_side(cfg);
  if (T.is_int && L.is_int)  // exact integer sum of MLEN products
    return ops.int_mult(T.width, L.width) + ops.int_add(T.width + L.width + std::ceil(std::log2(cfg.geometry.mlen)));
  return ops.fp_mult(mantissa_bits(T), mantissa_bits(L)) + ops.fp_add(ops.t.e("accumulator.fp_bits").v);
}

}  // namespace

EventEnergy event_energy(const config::HardwareConfig& cfg, const Options& opt) {
  const Tables& t = tables();
  check_options(opt, "node");
  const Ops ops{t, energy_scale(t, t.e("horowitz.node_nm").v, opt.node_nm)};
  EventEnergy e;
  e.mac_pj = mac_pj(ops, cfg);
  const auto& vt = cfg.sram.vector_type;
  e.vector_add_pj = ops.fp_add(vt.width);
  e.vector_mul_pj = ops.fp_mult(vt.mbits, vt.mbits);
  e.vector_exp_pj = e.vector_mul_pj * t.e("vector.exp_mult_equivalents").v;
  e.vector_reci_pj = e.vector_mul_pj * t.e("vector.reci_mult_equivalents").v;
  const auto& ft = cfg.sram.fp_type;
  e.scalar_fp_add_pj = ops.fp_add(ft.width);
  e.scalar_fp_mul_pj = ops.fp_mult(ft.mbits, ft.mbits);
  e.scalar_int_add_pj = ops.int_add(32);
  e.scalar_int_mul_pj = ops.int_mult(32, 32);
  for (const Memory& m : memories(cfg, t)) {
    const double pj = ops.sram_bit(m.bits / 8.0);
    const std::string_view n = m.name;
    (n == "vram" ? e.vram_bit_pj : n == "mram" ? e.mram_bit_pj : n == "fp_sram" ? e.fp_sram_bit_pj
                   : n == "int_sram"          ? e.int_sram_bit_pj : e.imem_bit_pj) = pj;
  }
  if (!cfg.memory.empty()) {
    // Pools: each pool's technology (data/memory [tech]) for its own traffic (docs/memory.md
    // "Energy"); dram_bit_pj, the weights pool's, prices traffic given without a pool split.
    for (size_t i = 0; i < cfg.memory.size(); ++i)
      e.pool_bit_pj[i] = dram::standard_info(cfg.memory[i].standard).tech.pj_per_bit;
    e.dram_bit_pj = e.pool_bit_pj[config::pool_index(cfg, config::MemoryClass::Weights)];
    e.link_bit_pj = t.e("link.pj_per_bit").v;
    return e;
  }
  auto it = t.dram_pj_per_bit.find(cfg.hbm.dram);
  if (it == t.dram_pj_per_bit.end())
    throw InputError(fmt::format("hbm.dram = \"{}\": no DRAM energy per bit in data/ppa/energy.toml [dram]",
                                 cfg.hbm.dram));
  e.dram_bit_pj = it->second.v;  // device + I/O: not node-scaled
  e.link_bit_pj = t.e("link.pj_per_bit").v;
  return e;
}

}  // namespace detail

using isa::Opcode;

double EnergyModel::dram_joules(const Activity& a) const {
  double split = 0, pj_bytes = 0;
  for (size_t i = 0; i < a.pool_bytes.size(); ++i) {
    split += a.pool_bytes[i];
    pj_bytes += a.pool_bytes[i] * ev_.pool_bit_pj[i];
  }
  if (!pooled_ || split == 0) pj_bytes = (a.hbm_read_bytes + a.hbm_write_bytes) * ev_.dram_bit_pj;
  return pj_bytes * 8.0 * 1e-12;
}

Activity& Activity::add(const Activity& o, double times) {
  for (size_t i = 0; i < per_opcode.size(); ++i) per_opcode[i] += o.per_opcode[i] * times;
  hbm_read_bytes += o.hbm_read_bytes * times;
  hbm_write_bytes += o.hbm_write_bytes * times;
  for (size_t i = 0; i < pool_bytes.size(); ++i) pool_bytes[i] += o.pool_bytes[i] * times;
  link_bytes += o.link_bytes * times;
  seconds += o.seconds * times;
  return *this;
}

Energy& Energy::add(const Energy& o, double times) {
  matrix_j += o.matrix_j * times;
  vector_j += o.vector_j * times;
  scalar_j += o.scalar_j * times;
  sram_j += o.sram_j * times;
  control_j += o.control_j * times;
  dma_j += o.dma_j * times;
  dram_j += o.dram_j * times;
  link_j += o.link_j * times;
  leakage_j += o.leakage_j * times;
  return *this;
}

std::vector<std::pair<std::string_view, double>> breakdown(const Energy& e) {
  return {{"matrix", e.matrix_j}, {"vector", e.vector_j}, {"scalar", e.scalar_j},
          {"sram", e.sram_j},     {"control", e.control_j}, {"dma", e.dma_j},
          {"dram", e.dram_j},     {"link", e.link_j},     {"leakage", e.leakage_j}};
}

std::string shares_text(const Energy& e) {
  std::string s;
  const double total = e.total_j();
  for (const auto& [part, joules] : breakdown(e))
    if (joules > 0) s += fmt::format("{}{} {:.1f}%", s.empty() ? "" : " ", part, total > 0 ? 100 * joules / total : 0.0);
  return s;
}

namespace {

struct OpEvents {
  double compute_pj = 0, sram_pj = 0;
};

// Arithmetic and SRAM traffic of one matrix instruction (semantics: isa/opcodes.def).
OpEvents matrix_events(Opcode op, const EventEnergy& e, const config::HardwareConfig& cfg) {
  const auto& g = cfg.geometry;
  const double M = g.mlen, B = g.blen, V = g.vlen, H = g.hlen, Bc = g.broadcast_amount;
  const double vb = cfg.sram.vector_type.width * e.vram_bit_pj, mb = cfg.sram.matrix_type.width * e.mram_bit_pj;
  switch (op) {
    case Opcode::M_MM: case Opcode::M_TMM: return {e.mac_pj * B * M * B, vb * B * M + mb * M * B};
    case Opcode::M_MV: case Opcode::M_TMV: return {e.mac_pj * M * B, vb * M + mb * M * B};
    case Opcode::M_BMM: case Opcode::M_BTMM: return {e.mac_pj * Bc * M * M * H, vb * M * M + mb * H * M};
    case Opcode::M_BMV: case Opcode::M_BTMV: return {e.mac_pj * Bc * M * H, vb * M + mb * H * M};
    case Opcode::M_MM_WO: return {0, vb * B * B};
    case Opcode::M_MV_WO: return {0, vb * B};
    case Opcode::M_BMM_WO: return {0, vb * Bc * M * V};
    case Opcode::M_BMV_WO: return {0, vb * Bc * V};
    default: return {};
  }
}

// One VLEN-element vector instruction: element operations, rows read and written.
OpEvents vector_events(Opcode op, const EventEnergy& e, const config::HardwareConfig& cfg) {
  const double V = cfg.geometry.vlen;
  const double row = cfg.sram.vector_type.width * e.vram_bit_pj * V;
  switch (op) {
    case Opcode::V_ADD_VV: case Opcode::V_SUB_VV: return {e.vector_add_pj * V, 3 * row};
    case Opcode::V_ADD_VF: case Opcode::V_SUB_VF: return {e.vector_add_pj * V, 2 * row};
    case Opcode::V_MUL_VV: return {e.vector_mul_pj * V, 3 * row};
    case Opcode::V_MUL_VF: return {e.vector_mul_pj * V, 2 * row};
    case Opcode::V_EXP_V: return {e.vector_exp_pj * V, 2 * row};
    case Opcode::V_RECI_V: return {e.vector_reci_pj * V, 2 * row};
    case Opcode::V_RED_SUM: case Opcode::V_RED_MAX: case Opcode::V_TOPK: return {e.vector_add_pj * V, row};
    case Opcode::V_MAX_VF: case Opcode::V_MIN_VF: return {e.vector_add_pj * V, 2 * row};
    case Opcode::V_PS_V: return {2 * e.vector_add_pj * V, 2 * row};  // work-efficient scan
    case Opcode::V_SHFT_V: return {0, 2 * row};
    case Opcode::C_HADAMARD_TRANSFORM: return {e.vector_add_pj * V * std::log2(V), 2 * row};
    default: return {};
  }
}

OpEvents scalar_events(Opcode op, const EventEnergy& e, const config::HardwareConfig& cfg, const detail::Tables& t) {
  const double fpw = cfg.sram.fp_type.width, V = cfg.geometry.vlen;
  switch (op) {
    case Opcode::S_ADD_FP: case Opcode::S_SUB_FP: case Opcode::S_MAX_FP: return {e.scalar_fp_add_pj, 0};
    case Opcode::S_MUL_FP: return {e.scalar_fp_mul_pj, 0};
    case Opcode::S_EXP_FP: return {e.scalar_fp_mul_pj * t.e("vector.exp_mult_equivalents").v, 0};
    case Opcode::S_RECI_FP: case Opcode::S_SQRT_FP:
      return {e.scalar_fp_mul_pj * t.e("vector.reci_mult_equivalents").v, 0};
    case Opcode::S_LD_FP: case Opcode::S_ST_FP: return {0, fpw * e.fp_sram_bit_pj};
    case Opcode::S_MAP_V_FP: return {0, V * (fpw * e.fp_sram_bit_pj + cfg.sram.vector_type.width * e.vram_bit_pj)};
    case Opcode::S_MUL_INT: return {e.scalar_int_mul_pj, 0};
    case Opcode::S_LD_INT: case Opcode::S_ST_INT: return {0, 32 * e.int_sram_bit_pj};
    case Opcode::S_ADD_INT: case Opcode::S_ADDI_INT: case Opcode::S_SUB_INT: case Opcode::S_LUI_INT:
      return {e.scalar_int_add_pj, 0};
    default: return {};
  }
}

// DMA: the on-chip side of a transfer (the SRAM rows it fills or drains) and the MX
// conversion (one 8-bit add per element, assumption); the HBM side is charged per byte.
OpEvents dma_events(Opcode op, const EventEnergy& e, const config::HardwareConfig& cfg, double add8_pj) {
  const auto& g = cfg.geometry;
  const auto& h = cfg.hbm;
  double elems = 0, bit_pj = 0;
  if (op == Opcode::H_PREFETCH_M) {
    elems = double(h.m_prefetch_amount) * g.mlen;
    bit_pj = cfg.sram.matrix_type.width * e.mram_bit_pj;
  } else if (op == Opcode::H_PREFETCH_V || op == Opcode::H_STORE_V) {
    elems = double(op == Opcode::H_STORE_V ? h.v_writeback_amount : h.v_prefetch_amount) * g.vlen;
    bit_pj = cfg.sram.vector_type.width * e.vram_bit_pj;
  }
  return {elems * add8_pj, elems * bit_pj};
}

}  // namespace

EnergyModel::EnergyModel(const config::HardwareConfig& cfg, const Options& opt) {
  const detail::Tables& t = detail::tables();
  ev_ = detail::event_energy(cfg, opt);
  pooled_ = !cfg.memory.empty();
  leakage_w_ = detail::compute_area(cfg, opt, nullptr).leakage_w;
  const double s = detail::energy_scale(t, t.e("horowitz.node_nm").v, opt.node_nm);
  const double add8 = s * t.e("horowitz.int_add_8b").v;
  const double fetch = 32 * ev_.imem_bit_pj + t.e("control.decode_int_add_equivalents").v * ev_.scalar_int_add_pj;
  for (int i = 0; i < isa::kNumOpcodes; ++i) {
    const Opcode op{uint8_t(isa::kMinOpcode + i)};
    const isa::Unit u = isa::unit_of(op);
    OpEvents ev;
    switch (u) {
      case isa::Unit::Matrix: ev = matrix_events(op, ev_, cfg); break;
      case isa::Unit::Vector: ev = vector_events(op, ev_, cfg); break;
      case isa::Unit::ScalarInt: case isa::Unit::ScalarFp: ev = scalar_events(op, ev_, cfg, t); break;
      case isa::Unit::Dma: ev = dma_events(op, ev_, cfg, add8); break;
      case isa::Unit::Control: break;
    }
    op_[uint8_t(op)] = PerOp{ev.compute_pj, ev.sram_pj, fetch, uint8_t(u)};
  }
}

double EnergyModel::instruction_pj(uint8_t opcode) const {
  const PerOp& p = op_.at(opcode);
  return p.compute_pj + p.sram_pj + p.fetch_pj;
}

Energy EnergyModel::operator()(const Activity& a) const {
  Energy e;
  for (size_t i = 0; i < op_.size(); ++i) {
    const double n = a.per_opcode[i];
    if (n == 0) continue;
    const PerOp& p = op_[i];
    const double c = n * p.compute_pj * 1e-12;
    switch (isa::Unit(p.unit)) {
      case isa::Unit::Matrix: e.matrix_j += c; break;
      case isa::Unit::Vector: e.vector_j += c; break;
      case isa::Unit::Dma: e.dma_j += c; break;
      default: e.scalar_j += c; break;
    }
    e.sram_j += n * p.sram_pj * 1e-12;
    e.control_j += n * p.fetch_pj * 1e-12;
  }
  e.dram_j = dram_joules(a);
  e.link_j = a.link_bytes * 8.0 * ev_.link_bit_pj * 1e-12;
  e.leakage_j = leakage_w_ * a.seconds;
  return e;
}

}  // namespace plena::ppa
