// A tiny independent interpreter for the scalar-integer subset and hardware loops, used to check
// what the builder emits. Loop semantics follow the reference emulator (plena_simulator.md §1.10):
// C_LOOP_START rd, n writes n to gp[rd] and pushes a frame; C_LOOP_END rd finds the innermost
// frame of that register: gp[rd] > 1 -> decrement and jump to start+1, else zero it and pop.
// Every other instruction is recorded in a trace with the VALUES of its GP operands, so programs
// that allocate registers differently can still be compared.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "isa/isa.hpp"

namespace plena::compiler::test {

struct TraceEntry {
  isa::Opcode op{};
  std::vector<uint64_t> values;  // gp operand values, then immediates/flags, in form order
  friend bool operator==(const TraceEntry&, const TraceEntry&) = default;
};

struct Interp {
  std::array<uint32_t, 16> gp{};
  std::array<uint64_t, 8> a{};
  uint32_t scale = 0, stride = 1, vmask = 0;
  std::vector<TraceEntry> trace;
  uint64_t steps = 0;

  void run(std::span<const uint32_t> words, uint64_t max_steps = 100000000) {
    struct Frame {
      uint8_t reg;
      size_t start;
    };
    std::vector<Frame> frames;
    size_t pc = 0;
    while (pc < words.size()) {
      if (++steps > max_steps) throw std::runtime_error("interp: step budget exceeded");
      isa::Instr in = isa::decode(words[pc]);
      size_t next = pc + 1;
      switch (in.op) {
        case isa::Opcode::S_ADDI_INT: gp[in.rd] = gp[in.rs1] + in.imm; break;
        case isa::Opcode::S_ADD_INT: gp[in.rd] = gp[in.rs1] + gp[in.rs2]; break;
        case isa::Opcode::S_SUB_INT: gp[in.rd] = gp[in.rs1] - gp[in.rs2]; break;
        case isa::Opcode::S_MUL_INT: gp[in.rd] = gp[in.rs1] * gp[in.rs2]; break;
        case isa::Opcode::S_LUI_INT: gp[in.rd] = uint32_t(uint64_t(in.imm) << 12); break;
        case isa::Opcode::C_SET_ADDR_REG: a[in.rd] = uint64_t(gp[in.rs1]) << 32 | gp[in.rs2]; break;
        case isa::Opcode::C_SET_SCALE_REG: scale = gp[in.rd]; break;
        case isa::Opcode::C_SET_STRIDE_REG: stride = gp[in.rd]; break;
        case isa::Opcode::C_SET_V_MASK_REG: vmask = gp[in.rd]; break;
        case isa::Opcode::C_LOOP_START:
          gp[in.rd] = in.imm;
          frames.push_back({in.rd, pc});
          break;
        case isa::Opcode::C_LOOP_END: {
          size_t f = frames.size();
          while (f > 0 && frames[f - 1].reg != in.rd) --f;
          if (f == 0) throw std::runtime_error("interp: C_LOOP_END without a matching C_LOOP_START");
          if (gp[in.rd] > 1) {
            --gp[in.rd];
            next = frames[f - 1].start + 1;
            frames.resize(f);
          } else {
            gp[in.rd] = 0;
            frames.resize(f - 1);
          }
          break;
        }
        default: record(in); break;
      }
      gp[0] = 0;
      pc = next;
    }
    if (!frames.empty()) throw std::runtime_error("interp: program ended inside a loop");
  }

  void record(const isa::Instr& in) {
    const isa::OpInfo& inf = isa::info(in.op);
    TraceEntry e{in.op, {}};
    for (int k = 0; k < inf.form.count; ++k) {
      const isa::Operand& o = inf.form.ops[k];
      if (o.field == isa::Field::None) continue;
      uint64_t v = o.field == isa::Field::Imm ? in.imm : isa::field_value(in, o.field);
      if (o.kind == isa::OperandKind::Gp || o.kind == isa::OperandKind::ZeroOrGp) v = gp[v];
      if (o.kind == isa::OperandKind::Hbm) v = a[v];
      e.values.push_back(v);
    }
    trace.push_back(std::move(e));
  }
};

}  // namespace plena::compiler::test
