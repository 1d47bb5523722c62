// Public header of the simulator: architectural state (Machine), the functional executor of every
// opcode (execute), HBM tensor layout helpers, and the Simulator run loop that feeds each executed
// instruction's Effects to the timing model. Semantics, rounding points and every deviation from
// the reference emulator are specified in docs/isa.md ("Simulator semantics and deviations").
#pragma once
#include <array>
#include <bit>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "isa/isa.hpp"
#include "numerics/hbm_tensor.hpp"
#include "numerics/numerics.hpp"
#include "sim/effects.hpp"
#include "sim/timing.hpp"

namespace plena::sim {

enum class Mode : uint8_t {
  Functional,  // data + registers (default)
  TimingOnly,  // no SRAM/HBM data; registers, addresses, bounds, loops and Effects as in Functional
};

// Rounds f32 values to a plain storage format (the SRAM and FP-register types). Bit-identical to
// numerics::round_to_format; fp32 and bf16 take inline fast paths.
class Rounder {
 public:
  explicit Rounder(const numerics::Format& f);
  float operator()(float x) const {
    if (kind_ == Kind::Identity) return x;
    if (kind_ == Kind::Bf16) return bf16(x);
    return generic(x);
  }
  // Rounds n values in place (a loop the compiler vectorises for bf16).
  void round_row(float* p, size_t n) const {
    if (kind_ == Kind::Identity) return;
    if (kind_ == Kind::Bf16) {
      for (size_t i = 0; i < n; ++i) p[i] = bf16(p[i]);
      return;
    }
    for (size_t i = 0; i < n; ++i) p[i] = generic(p[i]);
  }
  // Same rule as numerics::f32_to_bf16: RNE on the dropped 16 bits, NaN kept quiet with its sign.
  static float bf16(float x) {
    const uint32_t u = std::bit_cast<uint32_t>(x);
    const uint32_t nan = ((u >> 16) | 0x0040u) << 16;
    const uint32_t rne = ((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16) << 16;
    return std::bit_cast<float>((u & 0x7FFFFFFFu) > 0x7F800000u ? nan : rne);
  }

 private:
  enum class Kind : uint8_t { Identity, Bf16, Generic };
  float generic(float x) const;
  Kind kind_;
  numerics::Format format_;
};

// Sparse HBM: 64 KiB pages allocated on first write; never-written bytes read as 0 up to the
// configured size; any access beyond it throws SimFault.
class HbmStore {
 public:
  static constexpr uint64_t kPageBits = 16;
  static constexpr uint64_t kPageBytes = uint64_t(1) << kPageBits;
  explicit HbmStore(uint64_t size_bytes);
  ~HbmStore();
  HbmStore(const HbmStore&) = delete;
  HbmStore& operator=(const HbmStore&) = delete;
  uint64_t size() const { return size_; }
  void read(uint64_t addr, std::span<uint8_t> out) const;
  void write(uint64_t addr, std::span<const uint8_t> in);
  uint64_t allocated_pages() const { return allocated_; }
  // The stored bytes [addr, addr + n) in place when they lie in one written page, else nullptr
  // (read() then copies across pages or supplies zeros). The caller has checked the range.
  const uint8_t* view(uint64_t addr, uint64_t n) const {
    const uint64_t page = addr >> kPageBits, off = addr & (kPageBytes - 1);
    if (off + n > kPageBytes || !pages_[page]) return nullptr;
    return pages_[page] + off;
  }

 private:
  void check(uint64_t addr, uint64_t n, const char* what) const;
  uint8_t* new_page();  // zeroed, carved from a huge-page-backed chunk
  struct Chunk {
    void* map = nullptr;
    size_t bytes = 0;
  };
  uint64_t size_;
  uint64_t allocated_ = 0;
  std::vector<uint8_t*> pages_;
  std::vector<Chunk> chunks_;
  uint8_t* chunk_next_ = nullptr;  // next free page of the newest chunk
  uint8_t* chunk_end_ = nullptr;
};

// One HBM tensor as the DMA instructions see it: the layout shared with the compiler
// (numerics/hbm_tensor.hpp; docs/isa.md ("Simulator semantics and deviations")). The simulator
// reads base, rows, cols, stride() (STRIDE_REG) and scale_elems() (SCALE_REG) and format.
using numerics::HbmTensor;
// InputError when the layout is impossible (sub-byte rows not starting on a byte boundary,
// rows not starting on a block boundary, data size mismatch); SimFault beyond the HBM size.
void write_hbm_tensor(HbmStore& hbm, const HbmTensor& t, std::span<const float> data);  // row-major rows x cols
// Rows [row0, row0 + data.size() / cols) of t (a tensor written in parts).
void write_hbm_rows(HbmStore& hbm, const HbmTensor& t, uint64_t row0, std::span<const float> data);
std::vector<float> read_hbm_tensor(const HbmStore& hbm, const HbmTensor& t);

struct LoopFrame {
  uint8_t reg = 0;        // counter register
  uint32_t start_pc = 0;  // pc of the C_LOOP_START
};

namespace detail {
struct MatrixQueue;  // M_MM/M_TMM products deferred within a run (exec_detail.hpp)
}

class Machine {
 public:
  static constexpr size_t kMaxLoopDepth = 64;

  explicit Machine(const config::HardwareConfig& cfg, Mode mode = Mode::Functional);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  const config::HardwareConfig& config() const { return cfg_; }
  Mode mode() const { return mode_; }
  bool functional() const { return mode_ == Mode::Functional; }

  // ---- architectural registers ----
  std::array<uint32_t, 16> gp{};  // gp[0] stays 0: use set_gp
  std::array<float, 8> fp{};      // f[0] stays 0.0: use set_fp
  std::vector<uint64_t> hbm_addr;  // a0..a(cfg.hbm.addr_regs-1)
  uint32_t scale_reg = 0;
  uint32_t stride_reg = 1;
  uint32_t v_mask = 0;
  std::vector<LoopFrame> loops;
  uint32_t next_pc = 0;           // set by execute()
  uint64_t loop_back_edges = 0;   // taken C_LOOP_END jumps (checked against the loop budget)

  void set_gp(unsigned r, uint32_t v) {
    if (r != 0 && r < 16) gp[r] = v;
  }
  void set_fp(unsigned r, float v);  // rounded to sram.fp_type; writes to f0 are dropped

  // ---- sizes (elements / entries) ----
  uint64_t vram_elems() const { return vram_elems_; }
  uint64_t mram_elems() const { return mram_elems_; }

  // ---- raw data (Functional mode only; nullptr in TimingOnly) ----
  float* vram() { return vram_.get(); }
  float* mram() { return mram_.get(); }
  float* fpsram() { return fpsram_.get(); }
  uint32_t* intsram() { return intsram_.get(); }
  const float* vram() const { return vram_.get(); }
  const float* mram() const { return mram_.get(); }
  HbmStore& hbm();
  const HbmStore& hbm() const;
  // Accumulators (f32, Functional mode only): m [BLEN x BLEN], hm [BROADCAST x MLEN x MLEN] (empty until
  // the first M_BMM/M_BTMM/M_BMM_WO), hv [BROADCAST x MLEN], v [BLEN].
  std::vector<float> acc_m, acc_hm, acc_hv, acc_v;

  // ---- preload / dump helpers (Functional mode; values rounded to the SRAM type; SimFault out of range) ----
  void write_vram(uint64_t addr, std::span<const float> values);
  std::vector<float> read_vram(uint64_t addr, size_t n) const;
  void write_mram(uint64_t addr, std::span<const float> values);
  std::vector<float> read_mram(uint64_t addr, size_t n) const;
  void write_fpsram(uint64_t index, std::span<const float> values);
  std::vector<float> read_fpsram(uint64_t index, size_t n) const;
  void write_intsram(uint64_t index, std::span<const uint32_t> values);
  std::vector<uint32_t> read_intsram(uint64_t index, size_t n) const;

  // The program being run (needed by C_BREAK to find the end of the innermost loop).
  void set_program(std::span<const isa::Instr> program) { program_ = program; }
  std::span<const isa::Instr> program() const { return program_; }

  const Rounder& vector_round() const { return vround_; }
  const Rounder& matrix_round() const { return mround_; }
  const Rounder& fp_round() const { return fround_; }

  // Scratch buffers reused by the executor (no allocation per instruction).
  std::vector<float> scratch_f, scratch_f2;
  std::vector<uint8_t> scratch_b, scratch_s;
  // M_MM/M_TMM waiting to be computed as one blocked kernel; used only while a Simulator run
  // enables it (null before), flushed before anything that could observe acc_m or their operands.
  std::unique_ptr<detail::MatrixQueue> mm_queue;

 private:
  struct FreeDeleter {
    void operator()(void* p) const;
  };
  config::HardwareConfig cfg_;
  Mode mode_;
  Rounder vround_, mround_, fround_;
  uint64_t vram_elems_ = 0, mram_elems_ = 0, fp_elems_ = 0, int_elems_ = 0;
  // calloc'ed: untouched pages stay virtual, so a large declared SRAM costs what a program touches.
  std::unique_ptr<float[], FreeDeleter> vram_, mram_, fpsram_;
  std::unique_ptr<uint32_t[], FreeDeleter> intsram_;
  std::unique_ptr<HbmStore> hbm_;
  std::span<const isa::Instr> program_;
};

// Executes one instruction at `pc`: updates the machine (data only in Functional mode), sets
// m.next_pc, and returns the instruction's Effects. Throws SimFault ("pc 0x0012: <disassembly>:
// <what was violated>") on any architectural violation; never has undefined behaviour.
Effects execute(Machine& m, const isa::Instr& in, uint32_t pc);
// Same, filling a caller-owned record: only the header and the first n_reads/n_writes/n_hbm
// entries are (re)written, so the hot loop does not clear the arrays for every instruction.
void execute(Machine& m, const isa::Instr& in, uint32_t pc, Effects& out);

// "pc 0x0012: M_MM 0, gp4, gp5: <what>"
std::string fault_message(uint32_t pc, const isa::Instr& in, std::string_view what);

struct SimOptions {
  Mode mode = Mode::Functional;
  TimingOptions timing;
  bool use_timing_model = true;      // false: functional only, TimingStats stay zero
  std::string expected_config_hash;  // non-empty: SimFault unless equal to canonical_hash(cfg)
  // Called for every executed instruction (tests, tracing); empty by default.
  std::function<void(const Effects&, uint32_t pc)> observer;
};

// Points of a program where a run may hand over to exact segment reuse (sim/step_reuse.hpp):
// at each mark the run asks where to go on, and whether to show the hook the executed
// instructions until the next mark.
class RunSegments {
 public:
  struct Next {
    uint32_t pc;         // where execution goes on: the mark itself, or a later one the hook
                         // proved the segments before it to repeat (machine, timing and the
                         // executed count are then as if they had run)
    uint32_t next_mark;  // the next pc to call at() for (UINT32_MAX: none)
    bool observe;        // call observe() for every instruction until then
  };
  virtual ~RunSegments() = default;
  virtual uint32_t first_mark() const = 0;
  // Execution reached `pc` >= the last next_mark.
  virtual Next at(uint32_t pc, Machine& m, TimingModel* timing, uint64_t& executed) = 0;
  virtual void observe(const Effects& e, uint32_t pc) = 0;
};

struct SimResult {
  uint64_t executed = 0;  // dynamic instruction count
  TimingStats timing;
  double host_seconds = 0;
};

class Simulator {
 public:
  explicit Simulator(const config::HardwareConfig& cfg, SimOptions opts = {});
  ~Simulator();
  Machine& machine() { return *machine_; }
  const Machine& machine() const { return *machine_; }
  TimingModel* timing() { return timing_.get(); }
  // Called after every executed instruction of later runs (SimOptions::observer).
  std::function<void(const Effects&, uint32_t pc)>& observer() { return opts_.observer; }
  // Timing options of the next run (e.g. a trace stream per run); the current run keeps its own.
  TimingOptions& timing_options() { return opts_.timing; }
  // Runs the program from pc 0 until pc leaves the program. Machine state persists across runs
  // (preload before, dump after); the timing model is finished at the end of each run, and only
  // its calibrated DRAM shapes carry over (a shape is calibrated once per simulator).
  SimResult run(std::span<const uint32_t> words);
  // The same for a program already in decoded form whose every instruction passes
  // isa::validate (a compiler's CompiledProgram::instrs): no encode/decode round trip. The span
  // must stay valid during the call.
  SimResult run(std::span<const isa::Instr> program);
  // The same, handing over to `segments` at its marks (timing model required; no observer).
  SimResult run(std::span<const isa::Instr> program, RunSegments& segments);

 private:
  SimResult execute_program(std::span<const isa::Instr> program, std::span<const uint32_t> words,
                            RunSegments* segments = nullptr);
  void check_config_hash();
  config::HardwareConfig cfg_;
  std::string config_hash_;  // canonical_hash(cfg_), computed at the first check
  SimOptions opts_;
  std::unique_ptr<Machine> machine_;
  std::unique_ptr<TimingModel> timing_;
  std::shared_ptr<CalibratedShapes> shapes_ = make_calibrated_shapes();
  std::vector<isa::Instr> program_;
  std::vector<uint32_t> decoded_words_;  // the words program_ was decoded from (reused by the next run)
};

}  // namespace plena::sim
#include "sim/runspec.hpp"  // run specs for `plena sim` (part of the public API)
