// ProgramBuilder and RegisterAllocator: typed emission, allocation, immediates, loops, listing.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "compiler/builder.hpp"
#include "compiler/cost_counter.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace {

constexpr std::string_view kClassName[3] = {"GP", "FP", "HBM address"};
constexpr std::string_view kClassPrefix[3] = {"gp", "f", "a"};

[[noreturn]] void misuse(std::string_view what) { throw std::logic_error("ProgramBuilder: " + std::string(what)); }

std::string_view kind_name(Arg::Kind k) {
  switch (k) {
    case Arg::Kind::Gp: return "a GP register";
    case Arg::Kind::Fp: return "an FP register";
    case Arg::Kind::Hbm: return "an HBM address register";
    case Arg::Kind::Imm: return "an immediate";
    case Arg::Kind::Zero: return "literal 0";
  }
  return "?";
}

// Local (not isa's) so the builder depends only on the committed ISA API.
void put_operand_field(isa::Instr& in, isa::Field f, uint32_t v) {
  switch (f) {
    case isa::Field::None: break;
    case isa::Field::Rd: in.rd = uint8_t(v); break;
    case isa::Field::Rs1: in.rs1 = uint8_t(v); break;
    case isa::Field::Rs2: in.rs2 = uint8_t(v); break;
    case isa::Field::Rs3: in.rs3 = uint8_t(v); break;
    case isa::Field::Funct1: in.funct1 = uint8_t(v); break;
    case isa::Field::Imm: in.imm = v; break;
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// RegisterAllocator

RegisterAllocator::RegisterAllocator(uint32_t hbm_regs) {
  slots_[0].resize(kGpRegs);
  slots_[1].resize(kFpRegs);
  // The 4-bit field could name 16, but the ISA (and the RTL) has a0..a7.
  slots_[2].resize(std::min<uint32_t>(hbm_regs, 8));
}

std::string RegisterAllocator::current_kernel() const {
  std::string s;
  for (const auto& k : kernels_) s += (s.empty() ? "" : "/") + k;
  return s.empty() ? std::string("<top level>") : s;
}

RegisterAllocator::KernelScope::KernelScope(RegisterAllocator& a, std::string_view name) : a_(a) {
  a_.kernels_.emplace_back(name);
}
RegisterAllocator::KernelScope::~KernelScope() { a_.kernels_.pop_back(); }

std::string RegisterAllocator::describe_live() const {
  std::string s;
  for (int c = 0; c < 3; ++c)
    for (size_t i = 0; i < slots_[c].size(); ++i)
      if (slots_[c][i].live)
        s += fmt::format("{}{}{}={} ({})", s.empty() ? "" : ", ", kClassPrefix[c], i, slots_[c][i].purpose,
                         slots_[c][i].kernel);
  return s.empty() ? std::string("none") : s;
}

uint8_t RegisterAllocator::take(int cls, std::string_view purpose) {
  auto& v = slots_[cls];
  for (size_t i = size_t(first_[cls]); i < v.size(); ++i) {
    if (v[i].live) continue;
    v[i] = Slot{true, std::string(purpose), current_kernel()};
    int live = 0;
    for (const auto& s : v) live += s.live;
    peak_[cls] = std::max(peak_[cls], live);
    return uint8_t(i);
  }
  int usable = int(v.size()) - first_[cls];
  throw InputError(fmt::format(
      "kernel '{}' needs more {} registers than exist ({} usable, {}{}..{}{}): cannot allocate one for '{}'; "
      "live: {}",
      current_kernel(), kClassName[cls], usable, kClassPrefix[cls], first_[cls], kClassPrefix[cls],
      int(v.size()) - 1, purpose, describe_live()));
}

void RegisterAllocator::release_index(int cls, uint8_t index) {
  auto& v = slots_[cls];
  if (index >= v.size() || !v[index].live)
    throw std::logic_error(fmt::format("RegisterAllocator: releasing {}{} which is not live", kClassPrefix[cls], index));
  v[index] = Slot{};
}

ScopedGp RegisterAllocator::gp(std::string_view purpose) { return ScopedGp(this, GpReg{take(0, purpose)}); }
ScopedFp RegisterAllocator::fp(std::string_view purpose) { return ScopedFp(this, FpReg{take(1, purpose)}); }
ScopedHbm RegisterAllocator::hbm(std::string_view purpose) { return ScopedHbm(this, HbmReg{take(2, purpose)}); }

int RegisterAllocator::live_gp() const { return int(std::count_if(slots_[0].begin(), slots_[0].end(), [](const Slot& s) { return s.live; })); }
int RegisterAllocator::live_fp() const { return int(std::count_if(slots_[1].begin(), slots_[1].end(), [](const Slot& s) { return s.live; })); }
int RegisterAllocator::live_hbm() const { return int(std::count_if(slots_[2].begin(), slots_[2].end(), [](const Slot& s) { return s.live; })); }

// ------------------------------------------------------------------------------------------------
// LoopPolicy

bool LoopPolicy::unrolls(uint64_t count) const {
  switch (kind) {
    case LoopKind::Hardware: return false;
    case LoopKind::Unroll: return true;
    case LoopKind::Auto: return count <= threshold;
  }
  return false;
}

// ------------------------------------------------------------------------------------------------
// ProgramBuilder

ProgramBuilder::ProgramBuilder(const config::HardwareConfig& cfg, std::string config_name)
    : cfg_(cfg), config_name_(std::move(config_name)),
      regs_(cfg.hbm.addr_regs) {}

const std::string& ProgramBuilder::config_hash() const {
  // Computed when first asked: counting builders (many per estimate) never need it.
  if (config_hash_.empty()) config_hash_ = config::canonical_hash(cfg_);
  return config_hash_;
}

void ProgramBuilder::comment(std::string_view text) {
  // One note per line so the text never escapes the comment.
  size_t start = 0;
  while (true) {
    size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    notes_.push_back({instrs_.size(), line.empty() ? std::string(";") : "; " + std::string(line)});
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
}

void ProgramBuilder::stage(std::string_view name) { comment(fmt::format("==== stage: {} ====", name)); }

void ProgramBuilder::label(std::string_view name) {
  for (const auto& [n, i] : labels_)
    if (n == name) misuse(fmt::format("label '{}' defined twice", name));
  labels_.emplace_back(std::string(name), instrs_.size());
  comment(fmt::format("label: {}", name));
}

size_t ProgramBuilder::label_index(std::string_view name) const {
  for (const auto& [n, i] : labels_)
    if (n == name) return i;
  misuse(fmt::format("unknown label '{}'", name));
}

void ProgramBuilder::emit(isa::Opcode op, std::initializer_list<Arg> args) {
  const isa::OpInfo& inf = isa::info(op);
  const isa::Form& form = inf.form;
  if (args.size() < form.min_count || args.size() > form.count)
    misuse(fmt::format("{} takes {}..{} operands, got {}", inf.mnemonic, form.min_count, form.count, args.size()));
  isa::Instr in{};
  in.op = op;
  if (counter_) {  // counting: the same emitter runs for real elsewhere, where operands are checked
    size_t j = 0;
    for (const Arg& a : args) put_operand_field(in, form.ops[j++].field, a.value);
    counter_->hint = hint_;
    counter_->record(in, inf);
    return;
  }
  size_t k = 0;
  for (const Arg& a : args) {
    const isa::Operand& o = form.ops[k++];
    auto bad = [&](std::string_view expected) {
      misuse(fmt::format("{} operand {} ({}): expected {}, got {} {}", inf.mnemonic, k, o.role, expected,
                         kind_name(a.kind), a.value));
    };
    uint32_t v = a.value;
    switch (o.kind) {
      case isa::OperandKind::Gp:
        if (a.kind != Arg::Kind::Gp || v >= kGpRegs) bad("a GP register");
        break;
      case isa::OperandKind::Fp:
        if (a.kind != Arg::Kind::Fp || v >= kFpRegs) bad("an FP register");
        break;
      case isa::OperandKind::Hbm:
        if (a.kind != Arg::Kind::Hbm || v >= std::min<uint32_t>(cfg_.hbm.addr_regs, 8))
          bad(fmt::format("an HBM address register a0..a{}", std::min<uint32_t>(cfg_.hbm.addr_regs, 8) - 1));
        break;
      case isa::OperandKind::Imm:
        if (a.kind != Arg::Kind::Imm || (uint64_t(v) >> inf.imm_bits) != 0)
          bad(fmt::format("an immediate 0..{} ({} bits; use load_imm/add_imm for larger values)",
                          (uint64_t(1) << inf.imm_bits) - 1, inf.imm_bits));
        break;
      case isa::OperandKind::Flag:
        if (a.kind != Arg::Kind::Imm || v > 15) bad("a flag 0..15");
        break;
      case isa::OperandKind::ZeroOrGp:
        if (a.kind == Arg::Kind::Zero) break;
        if (a.kind != Arg::Kind::Gp || v >= kGpRegs) bad("literal 0 or a GP register");
        break;
    }
    put_operand_field(in, o.field, v);
  }
  emit_checked(in);
}

void ProgramBuilder::emit_instr(const isa::Instr& in) {
  if (std::string err = isa::validate(in); !err.empty()) misuse(err);
  if (counter_) {
    counter_->hint = hint_;
    counter_->record(in, isa::info(in.op));
    return;
  }
  instrs_.push_back(in);
}

// emit()'s operand checks already hold every field to its form (and leave the fields it does not
// encode 0), so neither counting nor emission re-validates: it was most of the per-instruction
// cost of counting a long-context kernel and a third of emitting a decode step.
void ProgramBuilder::emit_checked(const isa::Instr& in) {
  if (counter_) {
    counter_->hint = hint_;
    counter_->record(in, isa::info(in.op));
    return;
  }
  instrs_.push_back(in);
}

ProgramBuilder ProgramBuilder::counting(const config::HardwareConfig& cfg, std::string config_name) {
  ProgramBuilder b(cfg, std::move(config_name));
  b.counter_ = std::make_shared<CostCounter>(b.cfg_);
  return b;
}

const KernelCost& ProgramBuilder::cost() const {
  if (!counter_) misuse("cost() of a builder that emits (use ProgramBuilder::counting)");
  return counter_->cost();
}

size_t ProgramBuilder::size() const { return counter_ ? size_t(counter_->cost().static_instructions) : instrs_.size(); }

void ProgramBuilder::burst(bool ahead) {
  if (counter_) counter_->mark_burst(ahead);
}

void ProgramBuilder::chain_note(bool chained_in, uint64_t handoff_transfers) {
  if (counter_) counter_->mark_chain(chained_in, handoff_transfers);
}

ProgramBuilder::DmaHintScope::DmaHintScope(ProgramBuilder& b, DmaHint h) : b_(b), saved_(b.hint_) { b.hint_ = h; }
ProgramBuilder::DmaHintScope::~DmaHintScope() { b_.hint_ = saved_; }

// ---- immediates ----

std::array<isa::Instr, 2> ProgramBuilder::load_imm_pair(GpReg dst, uint64_t value) {
  if (value > 0xFFFFFFFFull)
    throw InputError(fmt::format("load_imm: value {} does not fit a 32-bit GP register (legal range 0..4294967295)",
                                 value));
  // LUI writes imm << 12; the upper 20 bits of a u32 fit its 22-bit immediate, the low 12 bits
  // always fit ADDI's 18-bit immediate.
  const auto v = uint32_t(value);
  std::array<isa::Instr, 2> p{};
  p[0].op = isa::Opcode::S_LUI_INT;
  p[0].rd = uint8_t(dst.index);
  p[0].imm = v >> 12;
  p[1].op = isa::Opcode::S_ADDI_INT;
  p[1].rd = p[1].rs1 = uint8_t(dst.index);
  p[1].imm = v & 0xFFF;
  return p;
}

void ProgramBuilder::load_imm(GpReg dst, uint64_t value) {
  if (dst == gp0) misuse("load_imm into gp0");
  for (const isa::Instr& in : load_imm_pair(dst, value)) emit_checked(in);
}

void ProgramBuilder::load_step_imm(GpReg dst, StepValue value) {
  const size_t pc = instrs_.size();
  load_imm(dst, value(0));
  if (!counter_) step_sites_.push_back({pc, std::move(value)});
}

void ProgramBuilder::add_imm(GpReg dst, GpReg src, uint64_t value) {
  if (value > 0xFFFFFFFFull)
    throw InputError(fmt::format("add_imm: value {} is outside 0..4294967295", value));
  if (dst == gp0) misuse("add_imm into gp0");
  if (value == 0 && dst == src) return;
  if (value <= kImm18Max) {
    s_addi_int(dst, src, uint32_t(value));
    return;
  }
  if (dst != src) {
    load_imm(dst, value);
    s_add_int(dst, src, dst);
    return;
  }
  auto tmp = regs_.gp("add_imm scratch");
  load_imm(tmp, value);
  s_add_int(dst, src, tmp);
}

void ProgramBuilder::sub_imm(GpReg dst, GpReg src, uint64_t value) {
  if (value > 0xFFFFFFFFull)
    throw InputError(fmt::format("sub_imm: value {} is outside 0..4294967295", value));
  if (dst == gp0) misuse("sub_imm into gp0");
  if (value == 0) {
    add_imm(dst, src, 0);
    return;
  }
  if (dst != src) {
    load_imm(dst, value);
    s_sub_int(dst, src, dst);
    return;
  }
  auto tmp = regs_.gp("sub_imm scratch");
  load_imm(tmp, value);
  s_sub_int(dst, src, tmp);
}

void ProgramBuilder::set_addr_reg(HbmReg a, uint64_t byte_address) {
  // Both halves always loaded: the length must not depend on the placement.
  auto hi = regs_.gp("address high word");
  auto lo = regs_.gp("address low word");
  load_imm(hi, byte_address >> 32);
  load_imm(lo, byte_address & 0xFFFFFFFFull);
  c_set_addr_reg(a, hi, lo);
  if (counter_) counter_->set_addr(a.index, byte_address);
}

void ProgramBuilder::classify_hbm_with(std::function<std::optional<numerics::TensorClass>(uint64_t)> class_at) {
  if (!counter_) misuse("classify_hbm_with on a builder that emits (use ProgramBuilder::counting)");
  counter_->class_at = std::move(class_at);
}

void ProgramBuilder::set_scale_reg(uint64_t value) {
  if (counter_) counter_->set_scale(value);
  if (value == 0) return c_set_scale_reg(gp0);
  auto r = regs_.gp("SCALE_REG value");
  load_imm(r, value);
  c_set_scale_reg(r);
}

void ProgramBuilder::set_stride_reg(uint64_t value) {
  if (counter_) counter_->set_stride(value);
  if (value == 0) return c_set_stride_reg(gp0);
  auto r = regs_.gp("STRIDE_REG value");
  load_imm(r, value);
  c_set_stride_reg(r);
}

void ProgramBuilder::set_v_mask(uint64_t value) {
  if (value == 0) return c_set_v_mask_reg(gp0);
  auto r = regs_.gp("V_MASK value");
  load_imm(r, value);
  c_set_v_mask_reg(r);
}

// ---- loops ----

void ProgramBuilder::loop(uint64_t count, const std::function<void()>& body) { loop(count, policy_, body); }

void ProgramBuilder::loop(uint64_t count, LoopPolicy policy, const std::function<void()>& body) {
  if (count == 0) return;  // C_LOOP_START with 0 would still run the body once (do-while)
  if (count == 1) {
    body();
    return;
  }
  if (policy.unrolls(count)) {
    if (counter_) {  // straight-line copies: one phase repeated, no loop instructions
      counter_->enter_loop(count);
      body();
      counter_->leave_loop();
      return;
    }
    for (uint64_t i = 0; i < count; ++i) body();
    return;
  }
  emit_hardware_loop(count, body);
}

void ProgramBuilder::repeat(uint64_t count, const std::function<void(uint64_t)>& body) {
  if (count == 0) return;
  if (counter_ && count > 1) {
    counter_->enter_loop(count);
    body(0);
    counter_->leave_loop();
    return;
  }
  for (uint64_t i = 0; i < count; ++i) body(i);
}

void ProgramBuilder::emit_hardware_loop(uint64_t count, const std::function<void()>& body) {
  if (count <= kImm22Max) {
    auto counter = regs_.gp(fmt::format("loop counter (depth {})", loop_depth_ + 1));
    c_loop_start(counter, uint32_t(count));
    if (counter_) counter_->enter_loop(count);
    ++loop_depth_;
    body();
    --loop_depth_;
    c_loop_end(counter);  // executes every iteration: part of the body's phase
    if (counter_) counter_->leave_loop();
    return;
  }
  // C_LOOP_START takes only an immediate: split into a power-of-two inner trip count.
  constexpr uint64_t inner = uint64_t(1) << 21;
  const uint64_t q = count / inner, r = count % inner;
  const LoopPolicy hw = LoopPolicy::hardware();
  loop(q, hw, [&] { loop(inner, hw, body); });
  loop(r, hw, body);
}

// ---- results ----

std::vector<uint32_t> ProgramBuilder::words() const {
  std::vector<uint32_t> w;
  w.reserve(instrs_.size());
  for (const auto& in : instrs_) w.push_back(isa::encode(in));
  return w;
}

std::string ProgramBuilder::assembly() const {
  std::string out;
  out += "; plena program (generated by the plena-cpp compiler)\n";
  out += fmt::format("{}{}\n", kConfigNamePrefix, config_name_);
  out += fmt::format("{}{}\n", kConfigHashPrefix, config_hash());
  // Indentation mirrors hardware-loop nesting, recovered from the loop markers themselves.
  int depth = 0;
  size_t n = 0;
  auto flush_notes = [&](size_t before) {
    for (; n < notes_.size() && notes_[n].before <= before; ++n)
      out += fmt::format("{:{}}{}\n", "", 2 * depth, notes_[n].text);
  };
  for (size_t i = 0; i < instrs_.size(); ++i) {
    flush_notes(i);
    const isa::Instr& in = instrs_[i];
    if (in.op == isa::Opcode::C_LOOP_END && depth > 0) --depth;
    out += fmt::format("{:{}}{}\n", "", 2 * depth, isa::disassemble(in));
    if (in.op == isa::Opcode::C_LOOP_START) ++depth;
  }
  flush_notes(instrs_.size());
  return out;
}

std::string program_config_hash(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    size_t s = line.find_first_not_of(" \t");
    if (s != std::string_view::npos) {
      line = line.substr(s);
      if (line.front() != ';') break;  // the header ends at the first non-comment line
      if (line.starts_with(kConfigHashPrefix)) return std::string(line.substr(kConfigHashPrefix.size()));
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return {};
}

}  // namespace plena::compiler
