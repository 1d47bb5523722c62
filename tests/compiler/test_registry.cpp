// The kernel registry: every entry emits standalone on small configs; lookup errors name the
// known kernels; KernelShape's accessors.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

#include "compiler/compiler.hpp"
#include "config/config.hpp"
#include "support/support.hpp"

using namespace plena;
using namespace plena::compiler;

namespace {

// Values for every dimension name a registered kernel takes, valid on `cfg` (k, n whole MLEN
// tiles; head_dim 32 divides VLEN 64 or is a multiple of VLEN 16; cols whole heads).
KernelShape representative(const config::HardwareConfig& cfg, const KernelEntry& e, uint64_t window) {
  const uint64_t mlen = cfg.geometry.mlen, vlen = cfg.geometry.vlen, blen = cfg.geometry.blen;
  const uint64_t rows = 12;
  KernelShape all;
  all.set("rows", rows).set("rows_alloc", (rows + blen - 1) / blen * blen).set("cols", std::max<uint64_t>(2 * vlen, 64));
  all.set("head_dim", 32).set("k", 2 * mlen).set("n", mlen).set("max_k_tiles", 0);
  all.set("batch", 2).set("q_len", 5).set("kv_len", 40).set("past", 3).set("heads", 4).set("kv_heads", 2);
  all.set("window", window).set("first_col", blen).set("causal", 1);
  KernelShape s;
  for (std::string_view d : e.dims) s.set(std::string(d), all.get(d));
  return s;
}

}  // namespace

TEST(KernelRegistry, EntriesAreNamedAndUnique) {
  std::set<std::string_view> names;
  ASSERT_GE(kernel_registry().size(), 17u);
  for (const KernelEntry& e : kernel_registry()) {
    EXPECT_FALSE(e.name.empty());
    EXPECT_FALSE(e.summary.empty()) << e.name;
    EXPECT_FALSE(e.dims.empty()) << e.name;
    EXPECT_NE(e.emit_standalone, nullptr) << e.name;
    EXPECT_TRUE(names.insert(e.name).second) << "duplicate " << e.name;
    EXPECT_EQ(&find_kernel(e.name), &e);
  }
  for (std::string_view k : {"linear", "batched_matmul", "attention", "rmsnorm", "head_rmsnorm", "layernorm", "softmax",
                             "silu", "gelu", "relu", "swiglu", "residual_add", "rope", "embedding", "bias_add",
                             "kv_store", "gather_last"})
    EXPECT_TRUE(names.count(k)) << k;
}

TEST(KernelRegistry, EveryEntryEmitsStandalone) {
  for (const char* preset : {"reference-small", "tiny-fp32"}) {
    const config::HardwareConfig cfg = config::preset(preset);
    for (const KernelEntry& e : kernel_registry())
      for (uint64_t window : {0, 7}) {
        if (window && e.name != "attention") continue;
        const KernelShape shape = representative(cfg, e, window);
        ProgramBuilder b(cfg, preset);
        MemoryPlan plan(cfg, preset);
        ASSERT_NO_THROW(e.emit_standalone(b, plan, shape)) << preset << " " << e.name << " " << shape.text();
        EXPECT_GT(b.size(), 0u) << preset << " " << e.name;
        EXPECT_FALSE(b.words().empty()) << preset << " " << e.name;
        EXPECT_EQ(b.regs().live_gp(), 0) << preset << " " << e.name;  // every register released
      }
  }
}

// Different shapes give different programs (the shape reaches the emitter).
TEST(KernelRegistry, ShapeReachesTheEmitter) {
  const config::HardwareConfig cfg = config::preset("reference-small");
  const KernelEntry& e = find_kernel("rmsnorm");
  auto words = [&](uint64_t cols) {
    ProgramBuilder b(cfg, "t");
    MemoryPlan plan(cfg, "t");
    e.emit_standalone(b, plan, KernelShape().set("rows", 4).set("rows_alloc", 4).set("cols", cols));
    return b.words();
  };
  EXPECT_NE(words(64), words(200));
}

TEST(KernelRegistry, UnknownKernelListsTheKnownNames) {
  try {
    find_kernel("rms_norm");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("unknown kernel 'rms_norm'"), std::string::npos) << m;
    EXPECT_NE(m.find("rmsnorm"), std::string::npos) << m;
    EXPECT_NE(m.find("attention"), std::string::npos) << m;
    EXPECT_NE(m.find("gather_last"), std::string::npos) << m;
  }
}

TEST(KernelRegistry, KernelShape) {
  KernelShape s;
  s.set("rows", 16).set("cols", 576);
  EXPECT_EQ(s.text(), "rows=16 cols=576");
  EXPECT_EQ(s.get("cols"), 576u);
  s.set("rows", 8);  // replaces, keeps the order
  EXPECT_EQ(s.text(), "rows=8 cols=576");
  EXPECT_THROW(s.get("head_dim"), std::logic_error);
}
