// Internal to the simulator: shared helpers of the executor files (not a public header).
#pragma once
#include <fmt/format.h>

#include <array>
#include <bit>
#include <string>
#include <vector>

#include "sim/sim.hpp"

namespace plena::sim::detail {

struct Ctx {
  Machine& m;
  const isa::Instr& in;
  uint32_t pc;
  Effects& e;
  const config::Geometry& g;
};

[[noreturn]] void fault(const Ctx& c, std::string_view what);

template <typename... A>
[[noreturn]] void faultf(const Ctx& c, fmt::format_string<A...> f, A&&... a) {
  fault(c, fmt::format(f, std::forward<A>(a)...));
}

// Reads gp[r] and records the register read (gp0 is constant: no dependency).
inline uint32_t read_gp(const Ctx& c, unsigned r) {
  if (r != 0) c.e.add_read(Space::GpReg, r, r + 1);
  return c.m.gp[r & 15];
}
inline void write_gp(const Ctx& c, unsigned r, uint32_t v) {
  if (r != 0) {
    c.e.add_write(Space::GpReg, r, r + 1);
    c.m.gp[r & 15] = v;
  }
}
// FP register index check (4-bit fields, 8 registers).
inline unsigned fp_index(const Ctx& c, unsigned r) {
  if (r >= 8) faultf(c, "f{} is not an FP register (f0-f7)", r);
  return r;
}
inline float read_fp(const Ctx& c, unsigned r) {
  fp_index(c, r);
  if (r != 0) c.e.add_read(Space::FpReg, r, r + 1);
  return c.m.fp[r];
}

// a % m, by mask when m is a power of two (the validated geometry's MLEN, BLEN and VLEN are):
// 64-bit division is a visible share of a small matrix op.
inline uint64_t mod_geom(uint64_t a, uint64_t m) { return (m & (m - 1)) == 0 ? a & (m - 1) : a % m; }
inline uint64_t div_geom(uint64_t a, uint64_t m) { return (m & (m - 1)) == 0 ? a >> std::countr_zero(m) : a / m; }

// Element range [addr, addr+n) of the Vector SRAM; `role` names the operand in messages.
void check_vram(const Ctx& c, uint64_t addr, uint64_t n, std::string_view role);
// One or more whole VRAM rows starting at a VLEN-aligned address.
void check_vram_rows(const Ctx& c, uint64_t addr, uint64_t rows, std::string_view role);
void check_mram(const Ctx& c, uint64_t addr, uint64_t n, std::string_view role);
void check_fpsram(const Ctx& c, uint64_t index, uint64_t n, std::string_view role);
void check_intsram(const Ctx& c, uint64_t index, uint64_t n, std::string_view role);

// Where the op's rmask operand lives (isa::OpInfo::mask_field, cached; Field::None if unmasked).
isa::Field mask_field(isa::Opcode op);

// M_MM/M_TMM deferred while a run allows it (BLEN 4 on AVX-512 hosts, where one 4x4 block fills a
// 16-lane register and a single block would leave the adder idle): each entry's product is still
// summed from 0 over k ascending and added to acc_m in program order, but several entries run as
// independent chains of one kernel. execute() flushes before every opcode that keeps_matrix_queue
// rejects (anything that reads acc_m or writes VRAM/MRAM), the run loop at its end or on a fault.
struct MatrixQueue {
  static constexpr size_t kCap = 16;
  bool enabled = false;
  size_t n = 0;
  std::array<const float*, kCap> x{};   // activation block (rows MLEN apart)
  std::array<uint32_t, kCap> panel{};   // slot of the entry's packed weights
  std::vector<float> parts;             // kCap BLEN x BLEN products
  // Weight columns packed as [MLEN x BLEN] (rows MLEN apart in MRAM each touch a cache line of
  // their own), reused while MRAM cannot have changed: a GEMM reads each once per row block. A
  // slot is valid while its generation is `gen`; ++gen forgets them all. Key and generation
  // share a cache line: the kernel's operands evict the tags between lookups.
  struct PanelTag {
    uint64_t key = 0, gen = 0;
  };
  std::vector<PanelTag> panel_tags;
  std::vector<float> panels;
  uint64_t gen = 1;
};
// Enables (or disables and flushes) deferral for a run; a no-op where it does not pay.
void set_matrix_queue(Machine& m, bool on);
void flush_matrix_queue(Machine& m);
// Before an opcode that keeps_matrix_queue rejects: computes the queue; packed weights are
// forgotten unless the opcode is M_MM_WO (which writes VRAM only).
void leave_matrix_queue(Machine& m, isa::Opcode op);
// Opcodes that neither read acc_m nor write VRAM/MRAM: they leave queued M_MM/M_TMM pending.
bool keeps_matrix_queue(isa::Opcode op);

// Functional runs that nobody observes (no timing model, no observer) need no Effects: the run
// loop executes the scalar integer ALU ops here, without execute(). False for any other opcode.
inline bool execute_lean_int_alu(Machine& m, const isa::Instr& in) {
  using isa::Opcode;
  auto& gp = m.gp;
  const uint32_t a = gp[in.rs1 & 15], b = gp[in.rs2 & 15];
  uint32_t v;
  switch (in.op) {  // the same results as dispatch()
    case Opcode::S_ADD_INT: v = a + b; break;
    case Opcode::S_ADDI_INT: v = a + in.imm; break;
    case Opcode::S_SUB_INT: v = a - b; break;
    case Opcode::S_MUL_INT: v = a * b; break;
    case Opcode::S_LUI_INT: v = uint32_t(uint64_t(in.imm) << 12); break;
    default: return false;
  }
  if (in.rd != 0) gp[in.rd & 15] = v;
  return true;
}

// Runs program[pc...] while each instruction is one of the above (integer ALU ops; M_MM/M_TMM/
// M_MM_WO while deferral is on, passing every check) and `executed` is below `budget`; stops at
// the first other one, which the caller runs through execute() (which faults where a check fails).
// One tight loop: in a GEMM most instructions are these, and the generic loop's per-instruction
// work was a third of the run.
void execute_lean_run(Machine& m, std::span<const isa::Instr> program, uint32_t& pc, uint64_t& executed,
                      uint64_t budget);

// Per-opcode executors, called from the one exhaustive switch over isa::Opcode in exec.cpp (so
// a new opcode without an executor does not compile). They return normally and leave next_pc.
// Matrix unit (exec_matrix.cpp); `transposed` selects the T variant.
void exec_mm(const Ctx& c, bool transposed);   // M_MM, M_TMM
void exec_mv(const Ctx& c, bool transposed);   // M_MV, M_TMV
void exec_bmm(const Ctx& c, bool transposed);  // M_BMM, M_BTMM
void exec_bmv(const Ctx& c, bool transposed);  // M_BMV, M_BTMV
void exec_mm_wo(const Ctx& c);
void exec_mv_wo(const Ctx& c);
void exec_bmm_wo(const Ctx& c);
void exec_bmv_wo(const Ctx& c);
// Vector unit (exec_vector.cpp).
enum class VecVecOp : uint8_t { Add, Sub, Mul };               // V_*_VV
enum class VecScalarOp : uint8_t { Add, Sub, Mul, Max, Min };  // V_*_VF
enum class VecUnaryOp : uint8_t { Exp, Reci };                 // V_EXP_V, V_RECI_V
enum class VecReduceOp : uint8_t { Sum, Max };                 // V_RED_SUM, V_RED_MAX
void exec_vec_vec(const Ctx& c, VecVecOp op);
void exec_vec_scalar(const Ctx& c, VecScalarOp op);
void exec_vec_unary(const Ctx& c, VecUnaryOp op);
void exec_vec_reduce(const Ctx& c, VecReduceOp op);
void exec_shift(const Ctx& c);      // V_SHFT_V
void exec_prefix(const Ctx& c);     // V_PS_V
void exec_hadamard(const Ctx& c);   // C_HADAMARD_TRANSFORM
void exec_topk(const Ctx& c);       // V_TOPK
// HBM DMA (dma.cpp).
enum class DmaOp : uint8_t { PrefetchM, PrefetchV, StoreV };  // H_PREFETCH_M, H_PREFETCH_V, H_STORE_V
void exec_dma(const Ctx& c, DmaOp op);

// HBM row transfer plan for `rows` rows of `row_len` elements in format f (plena-cpp layout).
struct RowPlan {
  uint64_t elem_base = 0, elem_row_bytes = 0, elem_stride_bytes = 0;
  uint64_t scale_base = 0, scale_row_bytes = 0, scale_stride_bytes = 0;
  uint64_t rows = 0;
  uint64_t elem_end = 0, scale_end = 0;  // one past the last byte touched
};
// Empty string on success, otherwise what is wrong (alignment or address overflow).
std::string plan_rows(const numerics::Format& f, uint64_t base, uint64_t first_elem, uint64_t row_len,
                      uint64_t stride_elems, uint64_t rows, uint64_t scale_elems, RowPlan& out);

}  // namespace plena::sim::detail
