// The run loop: predecode once, execute from pc 0 until pc leaves the program, enforce the
// instruction budget and the config hash, and feed every Effects record to the timing model.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "sim/exec_detail.hpp"
#include "sim/sim.hpp"
#include "support/support.hpp"

namespace plena::sim {

Simulator::Simulator(const config::HardwareConfig& cfg, SimOptions opts)
    : cfg_(cfg), opts_(std::move(opts)), machine_(std::make_unique<Machine>(cfg_, opts_.mode)) {}

Simulator::~Simulator() = default;

void Simulator::check_config_hash() {
  if (opts_.expected_config_hash.empty()) return;
  if (config_hash_.empty()) config_hash_ = config::canonical_hash(cfg_);  // cfg_ never changes
  if (config_hash_ != opts_.expected_config_hash)
    throw SimFault(fmt::format("program built for config {}, running on {}", opts_.expected_config_hash, config_hash_));
}

SimResult Simulator::run(std::span<const uint32_t> words) {
  check_config_hash();
  if (words.size() > UINT32_MAX) throw InputError("program has more than 2^32 instructions");
  // Decoding costs more than comparing: a program run again (a benchmark, a decode step) reuses it.
  if (!std::equal(words.begin(), words.end(), decoded_words_.begin(), decoded_words_.end())) {
    // Invalid words stay in place (op 0): they fault only if executed.
    program_.assign(words.size(), isa::Instr{});
    for (size_t i = 0; i < words.size(); ++i) {
      if (auto in = isa::try_decode(words[i]))
        program_[i] = *in;
      else
        program_[i].op = isa::Opcode(uint8_t(words[i] & 0x3F));
    }
    decoded_words_.assign(words.begin(), words.end());
  }
  return execute_program(program_, words);
}

SimResult Simulator::run(std::span<const isa::Instr> program) {
  check_config_hash();
  if (program.size() > UINT32_MAX) throw InputError("program has more than 2^32 instructions");
  return execute_program(program, {});
}

SimResult Simulator::run(std::span<const isa::Instr> program, RunSegments& segments) {
  check_config_hash();
  if (program.size() > UINT32_MAX) throw InputError("program has more than 2^32 instructions");
  if (!opts_.use_timing_model || opts_.observer)
    throw std::logic_error("Simulator::run with segments needs the timing model and no observer");
  return execute_program(program, {}, &segments);
}

// `words`: the encoded program when there is one (for the message of an invalid word).
SimResult Simulator::execute_program(std::span<const isa::Instr> program, std::span<const uint32_t> words,
                                     RunSegments* segments) {
  Machine& m = *machine_;
  m.set_program(program);
  m.loops.clear();
  m.loop_back_edges = 0;
  timing_.reset();
  if (opts_.use_timing_model) timing_ = std::make_unique<TimingModel>(cfg_, opts_.timing, shapes_);

  SimResult res;
  const uint64_t budget = cfg_.timing.instruction_budget;
  const uint32_t n = uint32_t(program.size());
  const auto t0 = std::chrono::steady_clock::now();
  uint32_t pc = 0;
  uint64_t executed = 0;
  TimingModel* tm = timing_.get();
  const bool observe = bool(opts_.observer);
  const bool lean = !tm && !observe;  // nothing reads the Effects records
  Effects e;
  // Deferred M_MM/M_TMM are computed before the run returns or a fault leaves it.
  struct QueueScope {
    Machine& m;
    explicit QueueScope(Machine& mm) : m(mm) { detail::set_matrix_queue(m, true); }
    ~QueueScope() { detail::set_matrix_queue(m, false); }
  } queue_scope(m);
  uint32_t mark = segments ? segments->first_mark() : UINT32_MAX;
  bool seg_observe = false;
  while (pc < n) {
    if (pc >= mark) [[unlikely]] {
      const RunSegments::Next next = segments->at(pc, m, tm, executed);
      pc = next.pc;
      mark = next.next_mark;
      seg_observe = next.observe;
      if (pc >= n) break;
    }
    if (lean) {
      detail::execute_lean_run(m, program, pc, executed, budget);
      if (pc >= n) break;
    }
    const isa::Instr& in = program[pc];
    if (executed >= budget)
      throw SimFault(fault_message(
          pc, in, fmt::format("instruction budget of {} exceeded (timing.instruction_budget)", budget)));
    if (uint8_t(in.op) < isa::kMinOpcode || uint8_t(in.op) > isa::kMaxOpcode) [[unlikely]]  // isa::is_valid_opcode, inline
      throw SimFault(fault_message(pc, in, fmt::format("invalid instruction word 0x{:08X}",
                                                       pc < words.size() ? words[pc] : uint32_t(in.op))));
    execute(m, in, pc, e);
    if (observe) opts_.observer(e, pc);
    if (seg_observe) [[unlikely]]
      segments->observe(e, pc);
    if (tm) tm->issue(e, pc);
    ++executed;
    pc = m.next_pc;
  }
  if (tm) {
    tm->finish();
    res.timing = tm->stats();
    res.timing.energy = ppa::EnergyModel(cfg_)(res.timing.activity());
  }
  res.executed = executed;
  res.host_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace plena::sim
