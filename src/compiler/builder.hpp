// Typed instruction builder: registers as typed handles, scoped register allocation,
// immediate legalization, hardware loops or unrolling, and the annotated .asm listing.
// Included through compiler/compiler.hpp.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compiler/cost.hpp"
#include "config/config.hpp"
#include "isa/isa.hpp"

namespace plena::compiler {

// ---- register handles (value types: just an index in their class) ----
struct GpReg {
  uint8_t index = 0;
  friend bool operator==(GpReg, GpReg) = default;
};
struct FpReg {
  uint8_t index = 0;
  friend bool operator==(FpReg, FpReg) = default;
};
struct HbmReg {
  uint8_t index = 0;
  friend bool operator==(HbmReg, HbmReg) = default;
};
inline constexpr GpReg gp0{0};  // reads as zero, never allocated
inline constexpr FpReg f0{0};   // reads as 0.0, never allocated

inline constexpr int kGpRegs = 16;
inline constexpr int kFpRegs = 8;
inline constexpr uint32_t kImm18Max = (1u << 18) - 1;  // S_ADDI_INT and other I18 immediates
inline constexpr uint32_t kImm22Max = (1u << 22) - 1;  // S_LUI_INT, C_LOOP_START and other I22 immediates

class RegisterAllocator;
class CostCounter;

// RAII ownership of one allocated register. It IS-A register handle (derives from it), so it
// passes wherever a GpReg/FpReg/HbmReg is expected; the register is released on destruction.
template <class Reg>
class Scoped : public Reg {
 public:
  Scoped() = default;
  Scoped(RegisterAllocator* owner, Reg r) : Reg(r), owner_(owner) {}
  Scoped(Scoped&& o) noexcept : Reg(o), owner_(std::exchange(o.owner_, nullptr)) {}
  Scoped& operator=(Scoped&& o) noexcept {
    if (this != &o) {
      release();
      static_cast<Reg&>(*this) = o;
      owner_ = std::exchange(o.owner_, nullptr);
    }
    return *this;
  }
  Scoped(const Scoped&) = delete;
  Scoped& operator=(const Scoped&) = delete;
  ~Scoped() { release(); }
  Reg reg() const { return *this; }
  void release();

 private:
  RegisterAllocator* owner_ = nullptr;
};
using ScopedGp = Scoped<GpReg>;
using ScopedFp = Scoped<FpReg>;
using ScopedHbm = Scoped<HbmReg>;

// Allocates gp1..gp15, f1..f7 and a0..a(n-1) (n = config hbm.addr_regs), lowest free first.
// Every allocation carries a purpose and the kernel that asked, so exhaustion errors say what is
// live. Exhaustion throws plena::InputError (a config with fewer registers can cause it).
class RegisterAllocator {
 public:
  explicit RegisterAllocator(uint32_t hbm_regs = 8);
  ScopedGp gp(std::string_view purpose);
  ScopedFp fp(std::string_view purpose);
  ScopedHbm hbm(std::string_view purpose);

  // Kernel attribution: RAII scope pushing a kernel name (nested names join with '/').
  class KernelScope {
   public:
    KernelScope(RegisterAllocator& a, std::string_view name);
    ~KernelScope();
    KernelScope(const KernelScope&) = delete;
    KernelScope& operator=(const KernelScope&) = delete;

   private:
    RegisterAllocator& a_;
  };
  KernelScope kernel(std::string_view name) { return KernelScope(*this, name); }
  std::string current_kernel() const;

  int live_gp() const;
  int live_fp() const;
  int live_hbm() const;
  int peak_gp() const { return peak_[0]; }
  int peak_fp() const { return peak_[1]; }
  int peak_hbm() const { return peak_[2]; }
  std::string describe_live() const;  // "gp1=act (linear), gp3=..." over all classes

  // Used by Scoped<>; releasing a register that is not live is a logic_error.
  void release(GpReg r) { release_index(0, r.index); }
  void release(FpReg r) { release_index(1, r.index); }
  void release(HbmReg r) { release_index(2, r.index); }

 private:
  struct Slot {
    bool live = false;
    std::string purpose, kernel;
  };
  uint8_t take(int cls, std::string_view purpose);
  void release_index(int cls, uint8_t index);
  std::vector<Slot> slots_[3];
  int first_[3] = {1, 1, 0};
  int peak_[3] = {0, 0, 0};
  std::vector<std::string> kernels_;
};

template <class Reg>
void Scoped<Reg>::release() {
  if (owner_) std::exchange(owner_, nullptr)->release(static_cast<const Reg&>(*this));
}

// One operand of a generic emit(): a typed register, an unsigned immediate/flag, or literal 0.
struct Arg {
  enum class Kind : uint8_t { Gp, Fp, Hbm, Imm, Zero };
  Kind kind = Kind::Zero;
  uint32_t value = 0;
  Arg(GpReg r) : kind(Kind::Gp), value(r.index) {}
  Arg(FpReg r) : kind(Kind::Fp), value(r.index) {}
  Arg(HbmReg r) : kind(Kind::Hbm), value(r.index) {}
  static Arg imm(uint32_t v) { return Arg(Kind::Imm, v); }
  static Arg zero() { return Arg(Kind::Zero, 0); }

 private:
  Arg(Kind k, uint32_t v) : kind(k), value(v) {}
};
inline Arg imm(uint32_t v) { return Arg::imm(v); }

// How loop() emits a counted loop.
enum class LoopKind : uint8_t { Hardware, Unroll, Auto };
struct LoopPolicy {
  LoopKind kind = LoopKind::Hardware;
  uint64_t threshold = 0;  // Auto: unroll when count <= threshold, else hardware loop
  static constexpr LoopPolicy hardware() { return {LoopKind::Hardware, 0}; }
  static constexpr LoopPolicy unroll() { return {LoopKind::Unroll, 0}; }
  static constexpr LoopPolicy automatic(uint64_t threshold) { return {LoopKind::Auto, threshold}; }
  bool unrolls(uint64_t count) const;
};

// Emits a program, or counts what it would execute (ProgramBuilder::counting). Misuse by kernel code (wrong operand class, immediate out of range for a
// direct emit) is a std::logic_error: it is a compiler bug, not a user input problem.
class ProgramBuilder {
 public:
  ProgramBuilder(const config::HardwareConfig& cfg, std::string config_name);
  // The counting back-end: the same emitters run against it, but nothing is stored; each
  // instruction is tallied into cost(), and a loop's body is generated once and multiplied by its
  // trip count (hardware loops and unrolled ones alike: a loop body emits the same instructions
  // every iteration, which hardware loops require anyway). Cost is independent of where the
  // memory plan put tensors: load_imm and set_addr_reg have a fixed length.
  static ProgramBuilder counting(const config::HardwareConfig& cfg, std::string config_name);
  bool is_counting() const { return counter_ != nullptr; }
  const KernelCost& cost() const;  // logic_error unless counting

  const config::HardwareConfig& config() const { return cfg_; }
  const std::string& config_name() const { return config_name_; }
  const std::string& config_hash() const { return config_hash_; }
  RegisterAllocator& regs() { return regs_; }
  RegisterAllocator::KernelScope kernel(std::string_view name) { return regs_.kernel(name); }

  // ---- listing annotations (kept in the .asm text; the assembler sees comments) ----
  void comment(std::string_view text);   // "; text"
  void stage(std::string_view name);     // "; ==== stage: name ====" (a stage marker)
  void label(std::string_view name);     // "; label: name" (records the instruction index too)
  // Instruction index of a label (logic_error if unknown).
  size_t label_index(std::string_view name) const;

  // ---- generic emission, checked against isa::info(op).form ----
  void emit(isa::Opcode op, std::initializer_list<Arg> args);
  void emit_instr(const isa::Instr& in);  // already-built instruction; validated

  // ---- typed emission, one method per mnemonic (operands in canonical form order) ----
  void m_mm(GpReg mram, GpReg vram) { emit(isa::Opcode::M_MM, {Arg::zero(), mram, vram}); }
  void m_tmm(GpReg vram, GpReg mram) { emit(isa::Opcode::M_TMM, {Arg::zero(), vram, mram}); }
  void m_bmm(GpReg mram, GpReg vram) { emit(isa::Opcode::M_BMM, {Arg::zero(), mram, vram}); }
  void m_btmm(GpReg mram, GpReg vram) { emit(isa::Opcode::M_BTMM, {Arg::zero(), mram, vram}); }
  void m_bmm_wo(GpReg vram, uint32_t offset) { emit(isa::Opcode::M_BMM_WO, {vram, imm(offset)}); }
  void m_mm_wo(GpReg vram, GpReg stride, uint32_t offset) { emit(isa::Opcode::M_MM_WO, {vram, stride, imm(offset)}); }
  void m_mv(GpReg mram, GpReg vram) { emit(isa::Opcode::M_MV, {Arg::zero(), mram, vram}); }
  void m_tmv(GpReg mram, GpReg vram) { emit(isa::Opcode::M_TMV, {Arg::zero(), mram, vram}); }
  void m_bmv(GpReg mram_off, GpReg mram, GpReg vram) { emit(isa::Opcode::M_BMV, {mram_off, mram, vram}); }
  void m_btmv(GpReg mram_off, GpReg mram, GpReg vram) { emit(isa::Opcode::M_BTMV, {mram_off, mram, vram}); }
  void m_mv_wo(GpReg vram, uint32_t offset) { emit(isa::Opcode::M_MV_WO, {vram, imm(offset)}); }
  void m_bmv_wo(GpReg vram, uint32_t offset) { emit(isa::Opcode::M_BMV_WO, {vram, imm(offset)}); }

  void v_add_vv(GpReg d, GpReg a, GpReg b, uint32_t rmask = 0) { emit(isa::Opcode::V_ADD_VV, {d, a, b, imm(rmask)}); }
  void v_add_vf(GpReg d, GpReg a, FpReg s, uint32_t rmask = 0) { emit(isa::Opcode::V_ADD_VF, {d, a, s, imm(rmask)}); }
  void v_sub_vv(GpReg d, GpReg a, GpReg b, uint32_t rmask = 0) { emit(isa::Opcode::V_SUB_VV, {d, a, b, imm(rmask)}); }
  // rorder 0: V - f; rorder 1: f - V.
  void v_sub_vf(GpReg d, GpReg a, FpReg s, uint32_t rmask = 0, uint32_t rorder = 0) {
    emit(isa::Opcode::V_SUB_VF, {d, a, s, imm(rmask), imm(rorder)});
  }
  void v_mul_vv(GpReg d, GpReg a, GpReg b, uint32_t rmask = 0) { emit(isa::Opcode::V_MUL_VV, {d, a, b, imm(rmask)}); }
  void v_mul_vf(GpReg d, GpReg a, FpReg s, uint32_t rmask = 0) { emit(isa::Opcode::V_MUL_VF, {d, a, s, imm(rmask)}); }
  void v_exp_v(GpReg d, GpReg a, uint32_t rmask = 0) { emit(isa::Opcode::V_EXP_V, {d, a, imm(rmask)}); }
  void v_reci_v(GpReg d, GpReg a, uint32_t rmask = 0) { emit(isa::Opcode::V_RECI_V, {d, a, imm(rmask)}); }
  void v_red_sum(FpReg acc, GpReg src) { emit(isa::Opcode::V_RED_SUM, {acc, src}); }
  void v_red_max(FpReg acc, GpReg src, uint32_t rmask = 0) { emit(isa::Opcode::V_RED_MAX, {acc, src, imm(rmask)}); }
  void v_ps_v(GpReg d, GpReg a) { emit(isa::Opcode::V_PS_V, {d, a}); }
  void v_shft_v(GpReg d, GpReg a, GpReg shift) { emit(isa::Opcode::V_SHFT_V, {d, a, shift}); }
  void c_hadamard_transform(GpReg d, GpReg a) { emit(isa::Opcode::C_HADAMARD_TRANSFORM, {d, a}); }
  void v_max_vf(GpReg d, GpReg a, FpReg s, uint32_t rmask = 0) { emit(isa::Opcode::V_MAX_VF, {d, a, s, imm(rmask)}); }
  void v_min_vf(GpReg d, GpReg a, FpReg s, uint32_t rmask = 0) { emit(isa::Opcode::V_MIN_VF, {d, a, s, imm(rmask)}); }
  void v_topk(GpReg fpsram_base, GpReg vram, GpReg intsram_base, uint32_t policy) {
    emit(isa::Opcode::V_TOPK, {fpsram_base, vram, intsram_base, imm(policy)});
  }

  void s_add_fp(FpReg d, FpReg a, FpReg b) { emit(isa::Opcode::S_ADD_FP, {d, a, b}); }
  void s_sub_fp(FpReg d, FpReg a, FpReg b) { emit(isa::Opcode::S_SUB_FP, {d, a, b}); }
  void s_max_fp(FpReg d, FpReg a, FpReg b) { emit(isa::Opcode::S_MAX_FP, {d, a, b}); }
  void s_mul_fp(FpReg d, FpReg a, FpReg b) { emit(isa::Opcode::S_MUL_FP, {d, a, b}); }
  void s_exp_fp(FpReg d, FpReg a) { emit(isa::Opcode::S_EXP_FP, {d, a}); }
  void s_reci_fp(FpReg d, FpReg a) { emit(isa::Opcode::S_RECI_FP, {d, a}); }
  void s_sqrt_fp(FpReg d, FpReg a) { emit(isa::Opcode::S_SQRT_FP, {d, a}); }
  void s_ld_fp(FpReg d, GpReg base, uint32_t offset) { emit(isa::Opcode::S_LD_FP, {d, base, imm(offset)}); }
  void s_st_fp(FpReg s, GpReg base, uint32_t offset) { emit(isa::Opcode::S_ST_FP, {s, base, imm(offset)}); }
  void s_map_v_fp(GpReg vram, GpReg fpsram, uint32_t offset) { emit(isa::Opcode::S_MAP_V_FP, {vram, fpsram, imm(offset)}); }

  void s_add_int(GpReg d, GpReg a, GpReg b) { emit(isa::Opcode::S_ADD_INT, {d, a, b}); }
  void s_addi_int(GpReg d, GpReg a, uint32_t v) { emit(isa::Opcode::S_ADDI_INT, {d, a, imm(v)}); }
  void s_sub_int(GpReg d, GpReg a, GpReg b) { emit(isa::Opcode::S_SUB_INT, {d, a, b}); }
  void s_mul_int(GpReg d, GpReg a, GpReg b) { emit(isa::Opcode::S_MUL_INT, {d, a, b}); }
  void s_lui_int(GpReg d, uint32_t v) { emit(isa::Opcode::S_LUI_INT, {d, imm(v)}); }
  void s_ld_int(GpReg d, GpReg base, uint32_t offset) { emit(isa::Opcode::S_LD_INT, {d, base, imm(offset)}); }
  void s_st_int(GpReg s, GpReg base, uint32_t offset) { emit(isa::Opcode::S_ST_INT, {s, base, imm(offset)}); }

  // rstride 1: HBM rows STRIDE_REG elements apart; precision 0 = weight/activation, 1 = KV.
  void h_prefetch_m(GpReg mram, GpReg hbm_off, HbmReg base, uint32_t rstride, uint32_t precision) {
    emit(isa::Opcode::H_PREFETCH_M, {mram, hbm_off, base, imm(rstride), imm(precision)});
  }
  void h_prefetch_v(GpReg vram, GpReg hbm_off, HbmReg base, uint32_t rstride, uint32_t precision) {
    emit(isa::Opcode::H_PREFETCH_V, {vram, hbm_off, base, imm(rstride), imm(precision)});
  }
  void h_store_v(GpReg vram, GpReg hbm_off, HbmReg base, uint32_t rstride, uint32_t precision) {
    emit(isa::Opcode::H_STORE_V, {vram, hbm_off, base, imm(rstride), imm(precision)});
  }

  void c_set_addr_reg(HbmReg d, GpReg hi, GpReg lo) { emit(isa::Opcode::C_SET_ADDR_REG, {d, hi, lo}); }
  void c_set_scale_reg(GpReg r) { emit(isa::Opcode::C_SET_SCALE_REG, {r}); }
  void c_set_stride_reg(GpReg r) { emit(isa::Opcode::C_SET_STRIDE_REG, {r}); }
  void c_set_v_mask_reg(GpReg r) { emit(isa::Opcode::C_SET_V_MASK_REG, {r}); }
  // Raw loop markers; prefer loop(), which manages the counter register and policy.
  void c_loop_start(GpReg counter, uint32_t count) { emit(isa::Opcode::C_LOOP_START, {counter, imm(count)}); }
  void c_loop_end(GpReg counter) { emit(isa::Opcode::C_LOOP_END, {counter}); }
  void c_break() { emit(isa::Opcode::C_BREAK, {}); }
  void nop() { s_addi_int(gp0, gp0, 0); }  // the upstream NOP spelling

  // ---- immediates ----
  // dst = value. Legal range: 0 .. 2^32-1 (the register width). Always two instructions,
  //   S_LUI_INT dst, value >> 12 ; S_ADDI_INT dst, dst, value & 0xFFF
  // so a kernel's length never depends on where the memory plan put its tensors (the cost model
  // counts kernels standalone and must get the same number as in a model program).
  // InputError for value >= 2^32 (no instruction sequence can hold it in a 32-bit register).
  void load_imm(GpReg dst, uint64_t value);
  // dst = src + value (wrapping u32; value 0 .. 2^32-1). One S_ADDI_INT when value < 2^18,
  // else load_imm into dst (dst != src) or a scratch register, then S_ADD_INT.
  void add_imm(GpReg dst, GpReg src, uint64_t value);
  // dst = src - value (there are no negative immediates: S_SUB_INT with a loaded register).
  void sub_imm(GpReg dst, GpReg src, uint64_t value);
  // a = byte address (u64): hi/lo halves through gp registers, then C_SET_ADDR_REG.
  void set_addr_reg(HbmReg a, uint64_t byte_address);
  void set_scale_reg(uint64_t value);   // C_SET_SCALE_REG via a scratch register
  void set_stride_reg(uint64_t value);  // C_SET_STRIDE_REG via a scratch register
  void set_v_mask(uint64_t value);      // C_SET_V_MASK_REG via a scratch register

  // ---- what the cost model cannot read from the instructions ----
  // RAII: the transfers emitted while it lives carry the hint (see DmaHint).
  class DmaHintScope {
   public:
    DmaHintScope(ProgramBuilder& b, DmaHint h);
    ~DmaHintScope();
    DmaHintScope(const DmaHintScope&) = delete;
    DmaHintScope& operator=(const DmaHintScope&) = delete;

   private:
    ProgramBuilder& b_;
    DmaHint saved_;
  };
  DmaHintScope dma_hint(DmaHint h) { return DmaHintScope(*this, h); }
  // Marks the start of a burst of weight prefetches that waits for the previous burst's products
  // (KernelCost::bursts). Emits nothing.
  void burst();

  // ---- loops ----
  void set_loop_policy(LoopPolicy p) { policy_ = p; }
  LoopPolicy loop_policy() const { return policy_; }
  // Runs body `count` times. count 0 emits nothing, count 1 emits the body once. Hardware:
  // C_LOOP_START gpN, count ... C_LOOP_END gpN with a dedicated counter register (it does NOT
  // hold the iteration index: keep induction variables in other registers and advance them in
  // the body). Counts above 2^22-1 become nested hardware loops (count = q*2^21 + r: a q-trip
  // loop around a 2^21-trip loop, then an r-trip loop), so the body may be generated more than
  // once. Unroll: the body is generated `count` times.
  void loop(uint64_t count, const std::function<void()>& body);
  void loop(uint64_t count, LoopPolicy policy, const std::function<void()>& body);
  int loop_depth() const { return loop_depth_; }

  // ---- results ----
  const std::vector<isa::Instr>& instrs() const { return instrs_; }
  size_t size() const;  // instructions emitted so far (counting: generated)
  std::vector<uint32_t> words() const;
  // Assembly text: header comments (schema, config name, "; plena-config-hash: <hash>"), then
  // one line per instruction/annotation. isa::assemble(assembly()) yields words().
  std::string assembly() const;

 private:
  struct Note {
    size_t before;  // instruction index the note precedes
    std::string text;
  };
  void emit_hardware_loop(uint64_t count, const std::function<void()>& body);
  void emit_checked(const isa::Instr& in);
  config::HardwareConfig cfg_;
  std::shared_ptr<CostCounter> counter_;  // set: counting back-end
  DmaHint hint_;
  std::string config_name_, config_hash_;
  RegisterAllocator regs_;
  LoopPolicy policy_ = LoopPolicy::hardware();
  int loop_depth_ = 0;
  std::vector<isa::Instr> instrs_;
  std::vector<Note> notes_;
  std::vector<std::pair<std::string, size_t>> labels_;
};

// The first lines of every program text. The simulator reads the hash line to refuse a program
// built for another config.
inline constexpr std::string_view kConfigHashPrefix = "; plena-config-hash: ";
inline constexpr std::string_view kConfigNamePrefix = "; plena-config: ";
// The hash stamped in a program text, or "" if it has none (only the leading comment block is read).
std::string program_config_hash(std::string_view assembly_text);

}  // namespace plena::compiler
