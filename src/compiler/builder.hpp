// Typed instruction builder: registers as typed handles, scoped register allocation,
// immediate legalization, hardware loops or unrolling, and the annotated .asm listing.
// Included through compiler/compiler.hpp.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "compiler/cost.hpp"
#include "config/config.hpp"
#include "isa/isa.hpp"
#include "isa/static_form.hpp"

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

// ---- typed emission: the parameter kinds of each opcode's builder method, from its FORM ----
namespace detail {
// Operand 0 of M_MM and friends is a zgp placeholder the compiler always encodes as 0.
constexpr bool has_placeholder(isa::Opcode op) {
  const isa::StaticForm f = isa::static_form(op);
  return f.count > 0 && f.ops[0].kind == isa::OperandKind::ZeroOrGp;
}
// FORM without the placeholder: the typed method's parameters.
constexpr isa::StaticForm typed_form(isa::Opcode op) {
  isa::StaticForm f = isa::static_form(op);
  if (!has_placeholder(op)) return f;
  isa::StaticForm t;
  for (int i = 1; i < f.count; ++i) t.ops[i - 1] = f.ops[i];
  t.count = uint8_t(f.count - 1);
  t.min_count = uint8_t(f.min_count - 1);
  return t;
}
template <class T>
constexpr bool operand_fits(isa::OperandKind k) {
  switch (k) {
    case isa::OperandKind::Gp: return std::is_base_of_v<GpReg, T>;
    case isa::OperandKind::Fp: return std::is_base_of_v<FpReg, T>;
    case isa::OperandKind::Hbm: return std::is_base_of_v<HbmReg, T>;
    case isa::OperandKind::Imm:
    case isa::OperandKind::Flag: return std::is_integral_v<T> && !std::is_same_v<T, bool>;
    case isa::OperandKind::ZeroOrGp: return false;  // only as the placeholder
  }
  return false;
}
template <isa::Opcode Op, class... A>
constexpr bool typed_operands_fit() {
  constexpr isa::StaticForm f = typed_form(Op);
  if (sizeof...(A) < f.min_count || sizeof...(A) > f.count) return false;
  [[maybe_unused]] size_t i = 0;
  return (operand_fits<A>(f.ops[i++].kind) && ...);
}
template <class T>
Arg typed_arg(const T& v) {
  if constexpr (std::is_base_of_v<GpReg, T>) return Arg(static_cast<const GpReg&>(v));
  else if constexpr (std::is_base_of_v<FpReg, T>) return Arg(static_cast<const FpReg&>(v));
  else if constexpr (std::is_base_of_v<HbmReg, T>) return Arg(static_cast<const HbmReg&>(v));
  else return Arg::imm(uint32_t(v));  // range-checked against the FORM by emit()
}

// builder_ops.def lists every opcode exactly once, under its lower-case mnemonic, and no FORM
// has a zgp operand anywhere but operand 0 (the typed methods could not express it).
struct TypedOpRow {
  isa::Opcode op;
  std::string_view method, mnemonic;
};
inline constexpr TypedOpRow kTypedOps[] = {
#define PLENA_BUILDER_OP(method, OP) {isa::Opcode::OP, #method, #OP},
#include "compiler/builder_ops.def"
};
constexpr bool is_lower_case_of(std::string_view lower, std::string_view upper) {
  if (lower.size() != upper.size()) return false;
  for (size_t i = 0; i < lower.size(); ++i) {
    const char u = upper[i] >= 'A' && upper[i] <= 'Z' ? char(upper[i] - 'A' + 'a') : upper[i];
    if (lower[i] != u) return false;
  }
  return true;
}
constexpr bool typed_ops_cover_the_table() {
  if (std::size(kTypedOps) != size_t(isa::kNumOpcodes)) return false;
  for (size_t i = 0; i < std::size(kTypedOps); ++i) {
    const TypedOpRow& r = kTypedOps[i];
    if (uint8_t(r.op) != isa::kMinOpcode + i || !is_lower_case_of(r.method, r.mnemonic)) return false;
    const isa::StaticForm f = typed_form(r.op);
    for (int k = 0; k < f.count; ++k)
      if (f.ops[k].kind == isa::OperandKind::ZeroOrGp) return false;
  }
  return true;
}
static_assert(typed_ops_cover_the_table(),
              "compiler/builder_ops.def must list every opcode once, in table order, as PLENA_BUILDER_OP(lower-case "
              "mnemonic, MNEMONIC), and zgp operands may only be operand 0");
}  // namespace detail

template <isa::Opcode Op, class... A>
concept TypedOperands = detail::typed_operands_fit<Op, std::remove_cvref_t<A>...>();

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
  // Counting: how to find the class of the HBM tensor at a byte address (MemoryPlan::hbm_class_at),
  // so each counted transfer carries the placement that routes it to a memory pool.
  void classify_hbm_with(std::function<std::optional<numerics::TensorClass>(uint64_t)> class_at);

  const config::HardwareConfig& config() const { return cfg_; }
  const std::string& config_name() const { return config_name_; }
  const std::string& config_hash() const;
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

  // ---- typed emission: one method per opcode, signatures derived from the ISA table ----
  // (compiler/builder_ops.def): m_mm(mram, vram), v_add_vv(d, a, b[, rmask]), h_prefetch_m(mram,
  // hbm_off, base, rstride, precision), ... Operands in FORM order; arguments of the wrong kind
  // or count do not compile.
#define PLENA_BUILDER_OP(method, OP)                    \
  template <class... A>                                 \
    requires TypedOperands<isa::Opcode::OP, A...>       \
  void method(const A&... a) {                          \
    emit_typed<isa::Opcode::OP>(a...);                  \
  }
#include "compiler/builder_ops.def"
  void nop() { s_addi_int(gp0, gp0, 0); }  // the upstream NOP spelling

  // ---- immediates ----
  // dst = value. Legal range: 0 .. 2^32-1 (the register width). Always two instructions,
  //   S_LUI_INT dst, value >> 12 ; S_ADDI_INT dst, dst, value & 0xFFF
  // so a kernel's length never depends on where the memory plan put its tensors (the cost model
  // counts kernels standalone and must get the same number as in a model program).
  // InputError for value >= 2^32 (no instruction sequence can hold it in a 32-bit register).
  void load_imm(GpReg dst, uint64_t value);
  // load_imm(dst, value(0)) where the value depends on the step's position: `value(d)` is the
  // immediate the same code needs when every position of the step moves by d (the KV store's
  // offset, the attention mask's shift). ModelCompiler re-evaluates these sites to turn one
  // decode step's program into the next one's (ModelCompiler::compile_step).
  using StepValue = std::function<uint64_t(int64_t position_delta)>;
  void load_step_imm(GpReg dst, StepValue value);
  struct StepSite {
    size_t pc;  // the S_LUI_INT of the pair
    StepValue value;
  };
  const std::vector<StepSite>& step_sites() const { return step_sites_; }
  // The two instructions load_imm(dst, value) emits (InputError for value >= 2^32).
  static std::array<isa::Instr, 2> load_imm_pair(GpReg dst, uint64_t value);
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
  // (KernelCost::bursts), or with `ahead` for the products of the burst before that (double
  // buffering: it fills the other buffer while the previous burst computes). Emits nothing.
  void burst(bool ahead = false);
  // Chained linears (KernelCost::handoff_transfers / chained_in). Emits nothing.
  void chain_note(bool chained_in, uint64_t handoff_transfers);

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
  // `count` straight-line copies of body(i) (no loop instructions) whose instruction counts are
  // the same for every i — only immediates of fixed-length loads differ (e.g. one copy per head).
  // Emission runs every copy; counting runs body(0) once and multiplies it by `count`.
  void repeat(uint64_t count, const std::function<void(uint64_t)>& body);

  // ---- results ----
  const std::vector<isa::Instr>& instrs() const { return instrs_; }
  std::vector<isa::Instr> take_instrs() && { return std::move(instrs_); }
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
  template <isa::Opcode Op, class... A>
  void emit_typed(const A&... a) {
    if constexpr (detail::has_placeholder(Op))
      emit(Op, {Arg::zero(), detail::typed_arg(a)...});
    else
      emit(Op, {detail::typed_arg(a)...});
  }
  config::HardwareConfig cfg_;
  std::shared_ptr<CostCounter> counter_;  // set: counting back-end
  DmaHint hint_;
  std::string config_name_;
  mutable std::string config_hash_;  // lazily: config_hash()
  RegisterAllocator regs_;
  LoopPolicy policy_ = LoopPolicy::hardware();
  int loop_depth_ = 0;
  std::vector<isa::Instr> instrs_;
  std::vector<StepSite> step_sites_;
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
