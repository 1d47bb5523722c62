// The executor: dispatch, bounds checks, fault messages, scalar FP/INT units and control (loops).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "sim/exec_detail.hpp"
#include "support/support.hpp"

namespace plena::sim {

std::string fault_message(uint32_t pc, const isa::Instr& in, std::string_view what) {
  if (!isa::is_valid_opcode(uint8_t(in.op)))
    return fmt::format("pc 0x{:04x}: opcode 0x{:02x}: {}", pc, unsigned(in.op), what);
  return fmt::format("pc 0x{:04x}: {}: {}", pc, isa::disassemble(in), what);
}

namespace detail {

void fault(const Ctx& c, std::string_view what) { throw SimFault(fault_message(c.pc, c.in, what)); }

void check_vram(const Ctx& c, uint64_t addr, uint64_t n, std::string_view role) {
  const uint64_t size = c.m.vram_elems();
  if (addr > size || n > size - addr)
    faultf(c, "{} VRAM address {} + {} elements exceeds the Vector SRAM ({} rows x {})", role, addr, n,
           c.m.config().sram.vector_depth, c.g.vlen);
}

void check_vram_rows(const Ctx& c, uint64_t addr, uint64_t rows, std::string_view role) {
  if (mod_geom(addr, c.g.vlen) != 0) faultf(c, "{} VRAM address {} is not a multiple of VLEN ({})", role, addr, c.g.vlen);
  const uint64_t size = c.m.vram_elems();
  const uint64_t n = rows * c.g.vlen;
  if (addr > size || n > size - addr)
    faultf(c, "{} VRAM address {} + {}*{} rows exceeds the Vector SRAM ({} rows x {})", role, addr, rows,
           c.g.vlen, c.m.config().sram.vector_depth, c.g.vlen);
}

void check_mram(const Ctx& c, uint64_t addr, uint64_t n, std::string_view role) {
  const uint64_t size = c.m.mram_elems();
  if (addr > size || n > size - addr)
    faultf(c, "{} MRAM address {} + {} elements exceeds the Matrix SRAM ({} rows x {})", role, addr, n,
           c.m.config().sram.matrix_depth, c.g.mlen);
}

void check_fpsram(const Ctx& c, uint64_t index, uint64_t n, std::string_view role) {
  const uint64_t size = c.m.config().sram.fp_depth;
  if (index > size || n > size - index)
    faultf(c, "{} FP SRAM index {} + {} entries exceeds the FP SRAM ({} entries)", role, index, n, size);
}

void check_intsram(const Ctx& c, uint64_t index, uint64_t n, std::string_view role) {
  const uint64_t size = c.m.config().sram.int_depth;
  if (index > size || n > size - index)
    faultf(c, "{} INT SRAM index {} + {} entries exceeds the INT SRAM ({} entries)", role, index, n, size);
}

namespace {

float clamp_exp_input(float x) {
  // std::clamp keeps NaN (both comparisons are false).
  return x < -88.f ? -88.f : (x > 88.f ? 88.f : x);
}

// ---- scalar FP ----
void exec_st_fp(const Ctx& c) {
  float v = read_fp(c, c.in.rd);
  uint64_t idx = uint64_t(read_gp(c, c.in.rs1)) + c.in.imm;
  check_fpsram(c, idx, 1, "destination");
  c.e.add_write(Space::FpSram, idx, idx + 1);
  if (c.m.functional()) c.m.fpsram()[idx] = v;
}

void exec_map_v_fp(const Ctx& c) {
  Machine& m = c.m;
  uint64_t dst = read_gp(c, c.in.rd);
  uint64_t idx = uint64_t(read_gp(c, c.in.rs1)) + c.in.imm;
  check_vram_rows(c, dst, 1, "destination");
  check_fpsram(c, idx, c.g.vlen, "source");
  c.e.add_read(Space::FpSram, idx, idx + c.g.vlen);
  c.e.add_write(Space::Vram, dst, dst + c.g.vlen);
  if (m.functional()) {
    const float* s = m.fpsram() + idx;
    float* d = m.vram() + dst;
    const Rounder& r = m.vector_round();
    for (uint32_t i = 0; i < c.g.vlen; ++i) d[i] = r(s[i]);
  }
}

float load_fp(const Ctx& c) {
  uint64_t idx = uint64_t(read_gp(c, c.in.rs1)) + c.in.imm;
  check_fpsram(c, idx, 1, "source");
  c.e.add_read(Space::FpSram, idx, idx + 1);
  return c.m.functional() ? c.m.fpsram()[idx] : 0.f;
}

// The FP ops that write f[rd]; the reference skips them entirely (0 cycles) when rd = f0.
template <typename F>
void exec_fp_result(const Ctx& c, F&& compute) {
  Machine& m = c.m;
  fp_index(c, c.in.rd);
  if (c.in.rd == 0) {
    c.e.zero_latency = true;
    return;
  }
  const float result = compute();
  c.e.add_write(Space::FpReg, c.in.rd, c.in.rd + 1u);
  // Registers are tracked in timing-only mode too, but FP values depend on data: keep them 0 there.
  m.set_fp(c.in.rd, m.functional() ? result : 0.f);
}

// ---- scalar INT ----
void exec_ld_int(const Ctx& c) {
  uint64_t idx = uint64_t(read_gp(c, c.in.rs1)) + c.in.imm;
  check_intsram(c, idx, 1, "source");
  c.e.add_read(Space::IntSram, idx, idx + 1);
  write_gp(c, c.in.rd, c.m.intsram()[idx]);  // INT SRAM exists in both modes
}

void exec_st_int(const Ctx& c) {
  uint32_t v = read_gp(c, c.in.rd);
  uint64_t idx = uint64_t(read_gp(c, c.in.rs1)) + c.in.imm;
  check_intsram(c, idx, 1, "destination");
  c.e.add_write(Space::IntSram, idx, idx + 1);
  c.m.intsram()[idx] = v;
}

// Index of the C_LOOP_END that closes the loop started at start_pc (same counter register,
// nested loops on the same register skipped), or -1.
int64_t find_loop_end(std::span<const isa::Instr> prog, uint32_t start_pc, uint8_t reg) {
  int depth = 0;
  for (size_t p = size_t(start_pc) + 1; p < prog.size(); ++p) {
    const auto& q = prog[p];
    if (q.rd != reg) continue;
    if (q.op == isa::Opcode::C_LOOP_START) ++depth;
    if (q.op == isa::Opcode::C_LOOP_END) {
      if (depth == 0) return int64_t(p);
      --depth;
    }
  }
  return -1;
}

// ---- control ----
void exec_set_addr_reg(const Ctx& c) {
  Machine& m = c.m;
  if (c.in.rd >= m.hbm_addr.size())
    faultf(c, "a{} is not an HBM address register (a0-a{})", c.in.rd, m.hbm_addr.size() - 1);
  uint64_t hi = read_gp(c, c.in.rs1), lo = read_gp(c, c.in.rs2);
  m.hbm_addr[c.in.rd] = (hi << 32) | lo;
  c.e.add_write(Space::HbmReg, c.in.rd, c.in.rd + 1u);
}

// C_SET_SCALE_REG / STRIDE_REG / V_MASK_REG: control register `slot` (its Ctrl space entry).
void exec_set_ctrl(const Ctx& c, uint32_t& reg, uint32_t slot) {
  reg = read_gp(c, c.in.rd);
  c.e.add_write(Space::Ctrl, slot, slot + 1);
}

void exec_loop_start(const Ctx& c) {
  Machine& m = c.m;
  if (m.loops.size() >= Machine::kMaxLoopDepth) faultf(c, "loop nesting exceeds {} levels", Machine::kMaxLoopDepth);
  write_gp(c, c.in.rd, c.in.imm);
  m.loops.push_back(LoopFrame{c.in.rd, c.pc});
}

void exec_loop_end(const Ctx& c) {
  Machine& m = c.m;
  const uint8_t rd = c.in.rd;
  auto it = std::find_if(m.loops.rbegin(), m.loops.rend(), [&](const LoopFrame& f) { return f.reg == rd; });
  if (it == m.loops.rend()) faultf(c, "no active loop counts in gp{} (C_LOOP_END without C_LOOP_START)", rd);
  // Frames opened after the matching one are abandoned (their C_LOOP_END was never reached).
  m.loops.erase(it.base(), m.loops.end());
  uint32_t count = read_gp(c, rd);
  if (count > 1) {
    write_gp(c, rd, count - 1);
    ++m.loop_back_edges;
    if (m.loop_back_edges > m.config().timing.loop_iteration_budget)
      faultf(c, "runaway loop: more than {} loop iterations (timing.loop_iteration_budget)",
             m.config().timing.loop_iteration_budget);
    m.next_pc = m.loops.back().start_pc + 1;
  } else {
    write_gp(c, rd, 0);
    m.loops.pop_back();
  }
}

void exec_break(const Ctx& c) {
  Machine& m = c.m;
  if (m.loops.empty()) faultf(c, "C_BREAK outside a hardware loop");
  LoopFrame f = m.loops.back();
  int64_t end = find_loop_end(m.program(), f.start_pc, f.reg);
  if (end < 0) faultf(c, "C_BREAK: the loop started at pc 0x{:04x} has no C_LOOP_END gp{}", f.start_pc, f.reg);
  m.loops.pop_back();
  m.next_pc = uint32_t(end + 1);
}

// The one switch over every opcode, without a default: -Wswitch (-Wall) makes an opcode added to
// opcodes.def without an executor a compile error.
void dispatch(const Ctx& c) {
  const isa::Instr& in = c.in;
  Machine& m = c.m;
  using isa::Opcode;
  switch (in.op) {
    case Opcode::M_MM: return exec_mm(c, false);
    case Opcode::M_TMM: return exec_mm(c, true);
    case Opcode::M_BMM: return exec_bmm(c, false);
    case Opcode::M_BTMM: return exec_bmm(c, true);
    case Opcode::M_BMM_WO: return exec_bmm_wo(c);
    case Opcode::M_MM_WO: return exec_mm_wo(c);
    case Opcode::M_MV: return exec_mv(c, false);
    case Opcode::M_TMV: return exec_mv(c, true);
    case Opcode::M_BMV: return exec_bmv(c, false);
    case Opcode::M_BTMV: return exec_bmv(c, true);
    case Opcode::M_MV_WO: return exec_mv_wo(c);
    case Opcode::M_BMV_WO: return exec_bmv_wo(c);
    case Opcode::V_ADD_VV: return exec_vec_vec(c, VecVecOp::Add);
    case Opcode::V_ADD_VF: return exec_vec_scalar(c, VecScalarOp::Add);
    case Opcode::V_SUB_VV: return exec_vec_vec(c, VecVecOp::Sub);
    case Opcode::V_SUB_VF: return exec_vec_scalar(c, VecScalarOp::Sub);
    case Opcode::V_MUL_VV: return exec_vec_vec(c, VecVecOp::Mul);
    case Opcode::V_MUL_VF: return exec_vec_scalar(c, VecScalarOp::Mul);
    case Opcode::V_EXP_V: return exec_vec_unary(c, VecUnaryOp::Exp);
    case Opcode::V_RECI_V: return exec_vec_unary(c, VecUnaryOp::Reci);
    case Opcode::V_RED_SUM: return exec_vec_reduce(c, VecReduceOp::Sum);
    case Opcode::V_RED_MAX: return exec_vec_reduce(c, VecReduceOp::Max);
    case Opcode::S_ADD_FP: return exec_fp_result(c, [&] { return read_fp(c, in.rs1) + read_fp(c, in.rs2); });
    case Opcode::S_SUB_FP: return exec_fp_result(c, [&] { return read_fp(c, in.rs1) - read_fp(c, in.rs2); });
    case Opcode::S_MAX_FP:
      return exec_fp_result(c, [&] {
        float a = read_fp(c, in.rs1), b = read_fp(c, in.rs2);
        return (a < b) ? b : a;
      });
    case Opcode::S_MUL_FP: return exec_fp_result(c, [&] { return read_fp(c, in.rs1) * read_fp(c, in.rs2); });
    case Opcode::S_EXP_FP: return exec_fp_result(c, [&] { return std::exp(clamp_exp_input(read_fp(c, in.rs1))); });
    case Opcode::S_RECI_FP: return exec_fp_result(c, [&] { return 1.0f / read_fp(c, in.rs1); });
    case Opcode::S_SQRT_FP: return exec_fp_result(c, [&] { return std::sqrt(read_fp(c, in.rs1)); });
    case Opcode::S_LD_FP: return exec_fp_result(c, [&] { return load_fp(c); });
    case Opcode::S_ST_FP: return exec_st_fp(c);
    case Opcode::S_MAP_V_FP: return exec_map_v_fp(c);
    case Opcode::S_ADD_INT: return write_gp(c, in.rd, read_gp(c, in.rs1) + read_gp(c, in.rs2));
    case Opcode::S_ADDI_INT: return write_gp(c, in.rd, read_gp(c, in.rs1) + in.imm);
    case Opcode::S_SUB_INT: return write_gp(c, in.rd, read_gp(c, in.rs1) - read_gp(c, in.rs2));
    case Opcode::S_MUL_INT: return write_gp(c, in.rd, read_gp(c, in.rs1) * read_gp(c, in.rs2));
    case Opcode::S_LUI_INT: return write_gp(c, in.rd, uint32_t(uint64_t(in.imm) << 12));
    case Opcode::S_LD_INT: return exec_ld_int(c);
    case Opcode::S_ST_INT: return exec_st_int(c);
    case Opcode::H_PREFETCH_M: return exec_dma(c, DmaOp::PrefetchM);
    case Opcode::H_PREFETCH_V: return exec_dma(c, DmaOp::PrefetchV);
    case Opcode::H_STORE_V: return exec_dma(c, DmaOp::StoreV);
    case Opcode::C_SET_ADDR_REG: return exec_set_addr_reg(c);
    case Opcode::C_SET_SCALE_REG: return exec_set_ctrl(c, m.scale_reg, 0);
    case Opcode::C_SET_STRIDE_REG: return exec_set_ctrl(c, m.stride_reg, 1);
    case Opcode::C_SET_V_MASK_REG: return exec_set_ctrl(c, m.v_mask, 2);
    case Opcode::C_LOOP_START: return exec_loop_start(c);
    case Opcode::C_LOOP_END: return exec_loop_end(c);
    case Opcode::V_PS_V: return exec_prefix(c);
    case Opcode::V_SHFT_V: return exec_shift(c);
    case Opcode::C_HADAMARD_TRANSFORM: return exec_hadamard(c);
    case Opcode::C_BREAK: return exec_break(c);
    case Opcode::V_MAX_VF: return exec_vec_scalar(c, VecScalarOp::Max);
    case Opcode::V_MIN_VF: return exec_vec_scalar(c, VecScalarOp::Min);
    case Opcode::V_TOPK: return exec_topk(c);
  }
  faultf(c, "invalid opcode 0x{:02x}", unsigned(in.op));  // not a table value (execute checks first)
}

}  // namespace

bool keeps_matrix_queue(isa::Opcode op) {
  using isa::Opcode;
  switch (op) {
    case Opcode::M_MM:
    case Opcode::M_TMM:
    // Registers, FP/INT SRAM, loop control and control registers only.
    case Opcode::S_ADD_FP:
    case Opcode::S_SUB_FP:
    case Opcode::S_MAX_FP:
    case Opcode::S_MUL_FP:
    case Opcode::S_EXP_FP:
    case Opcode::S_RECI_FP:
    case Opcode::S_SQRT_FP:
    case Opcode::S_LD_FP:
    case Opcode::S_ST_FP:
    case Opcode::S_ADD_INT:
    case Opcode::S_ADDI_INT:
    case Opcode::S_SUB_INT:
    case Opcode::S_MUL_INT:
    case Opcode::S_LUI_INT:
    case Opcode::S_LD_INT:
    case Opcode::S_ST_INT:
    case Opcode::C_SET_ADDR_REG:
    case Opcode::C_SET_SCALE_REG:
    case Opcode::C_SET_STRIDE_REG:
    case Opcode::C_SET_V_MASK_REG:
    case Opcode::C_LOOP_START:
    case Opcode::C_LOOP_END:
    case Opcode::C_BREAK: return true;
    default: return false;  // so an opcode added later computes the queue first
  }
}

}  // namespace detail

namespace {
// Per-opcode unit and latency class, looked up once, indexed by the 6-bit opcode field.
static_assert(isa::kMaxOpcode < 64, "every opcode must have a row of op_rows");
struct OpRow {
  bool valid = false;
  isa::Unit unit{};
  isa::Latency latency{};
  isa::Field mask_field = isa::Field::None;
  bool keeps_matrix_queue = false;
};
const std::array<OpRow, 64>& op_rows() {
  static const std::array<OpRow, 64> rows = [] {
    std::array<OpRow, 64> r{};
    for (const isa::OpInfo& oi : isa::all_opcodes()) r[oi.code & 63] =
          OpRow{true, oi.unit, oi.latency, oi.mask_field, detail::keeps_matrix_queue(isa::Opcode(oi.code))};
    return r;
  }();
  return rows;
}
}  // namespace

isa::Field detail::mask_field(isa::Opcode op) { return op_rows()[uint8_t(op) & 63].mask_field; }

void execute(Machine& m, const isa::Instr& in, uint32_t pc, Effects& e) {
  e.op = in.op;
  e.repeat = 1;
  e.zero_latency = false;
  e.n_reads = e.n_writes = e.n_hbm = 0;
  m.next_pc = pc + 1;
  const auto& g = m.config().geometry;
  detail::Ctx c{m, in, pc, e, g};
  const OpRow& row = op_rows()[uint8_t(in.op) & 63];
  if (!row.valid || uint8_t(in.op) > 63) detail::faultf(c, "invalid opcode 0x{:02x}", unsigned(in.op));
  e.unit = row.unit;
  e.latency = row.latency;
  if (m.mm_queue && !row.keeps_matrix_queue) detail::leave_matrix_queue(m, in.op);
  detail::dispatch(c);
}

Effects execute(Machine& m, const isa::Instr& in, uint32_t pc) {
  Effects e;
  execute(m, in, pc, e);
  return e;
}

}  // namespace plena::sim
