// The bench's computations: layout rule, baseline emission (the compiler's kernel emitters, i.e.
// the kernel registry's kernels), host golden in double. docs/bench.md §Placement and §Tasks.
#include "bench/ops.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "support/math.hpp"
#include "support/support.hpp"

namespace plena::bench::detail {

using namespace plena::compiler;

// ---- Placer --------------------------------------------------------------------------------

void Placer::vram(const std::string& name, Role role, uint64_t rows, uint64_t cols, double range) {
  VramPlaceOptions o;
  o.row_multiple = hw().geometry.blen;
  plan_.alloc_vram(name, rows, cols, o);
  record_vram(name, role, range);
}

void Placer::hbm(const std::string& name, Role role, uint64_t rows, uint64_t cols, const numerics::Format& f,
                 double range) {
  plan_.place_hbm(name, role == Role::Input ? TensorClass::Weight : TensorClass::Activation, {rows, cols}, f);
  record_hbm(name, role, range);
}

void Placer::hbm_rows(const std::string& name, Role role, uint64_t rows, uint64_t cols, double range) {
  standalone::hbm_rows(plan_, name, rows, cols);
  record_hbm(name, role, range);
}

void Placer::record_vram(const std::string& name, Role role, double range) {
  const VramTensor& t = plan_.vram(name);
  specs_.push_back({.name = name, .role = role, .region = Region::Vram, .rows = t.rows, .cols = t.cols,
                    .address = t.base(), .rows_alloc = t.rows_alloc, .row_stride = 0, .format = "",
                    .value_range = range});
}

void Placer::record_hbm(const std::string& name, Role role, double range) {
  const HbmTensor& t = plan_.hbm(name);
  specs_.push_back({.name = name, .role = role, .region = Region::Hbm, .rows = t.rows, .cols = t.cols,
                    .address = t.base, .row_stride = t.row_stride, .format = t.format.name(),
                    .value_range = range});
}

namespace {

double silu(double x) { return x / (1.0 + std::exp(-x)); }
double gelu(double x) { return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); }

// y[r, c] = f(x[r, c]).
template <double (*F)(double)>
void map_golden(Tensors& io, const std::string& in, const std::string& out) {
  const auto& x = io.at(in);
  auto& y = io[out];
  y.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = float(F(x[i]));
}

// y = x @ w for row-major x [m, k], w [k, n].
std::vector<double> matmul(const std::vector<double>& x, const std::vector<float>& w, uint64_t m, uint64_t k,
                           uint64_t n) {
  std::vector<double> y(m * n, 0.0);
  for (uint64_t r = 0; r < m; ++r)
    for (uint64_t i = 0; i < k; ++i) {
      const double a = x[r * k + i];
      for (uint64_t c = 0; c < n; ++c) y[r * n + c] += a * double(w[i * n + c]);
    }
  return y;
}
std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }
std::vector<float> narrow(const std::vector<double>& v) {
  std::vector<float> f(v.size());
  for (size_t i = 0; i < v.size(); ++i) f[i] = float(v[i]);
  return f;
}

// ---- element-wise ----

void place_unary(Placer& p, const TaskConfig& c) {
  p.vram("x", Role::Input, c.dim("rows"), c.dim("cols"), 4);
  p.vram("y", Role::Output, c.dim("rows"), c.dim("cols"));
}
template <Activation A>
void emit_act(ProgramBuilder& b, MemoryPlan& plan, const TaskConfig&) {
  emit_activation(b, plan, {"activation", A, "x", "y"});
}
double relu(double x) { return x > 0 ? x : 0.0; }
void golden_silu(const TaskConfig&, Tensors& io) { map_golden<silu>(io, "x", "y"); }
void golden_gelu(const TaskConfig&, Tensors& io) { map_golden<gelu>(io, "x", "y"); }
void golden_relu(const TaskConfig&, Tensors& io) { map_golden<relu>(io, "x", "y"); }

// ---- row-wise ----

void emit_softmax_op(ProgramBuilder& b, MemoryPlan& plan, const TaskConfig&) {
  emit_softmax(b, plan, {"softmax", "x", "y"});
}
void golden_softmax(const TaskConfig& c, Tensors& io) {
  const uint64_t rows = c.dim("rows"), cols = c.dim("cols");
  const auto& x = io.at("x");
  auto& y = io["y"];
  y.assign(x.size(), 0.f);
  for (uint64_t r = 0; r < rows; ++r) {
    const float* row = &x[r * cols];
    const double mx = *std::max_element(row, row + cols);
    double sum = 0;
    for (uint64_t i = 0; i < cols; ++i) sum += std::exp(row[i] - mx);
    for (uint64_t i = 0; i < cols; ++i) y[r * cols + i] = float(std::exp(row[i] - mx) / sum);
  }
}

void place_norm(Placer& p, const TaskConfig& c, bool bias) {
  p.plan().fp_constant("eps", 1e-5f);
  p.hbm_rows("w", Role::Input, 1, c.dim("cols"), 2);
  if (bias) p.hbm_rows("bias", Role::Input, 1, c.dim("cols"), 1);
  place_unary(p, c);
}
void place_rmsnorm(Placer& p, const TaskConfig& c) { place_norm(p, c, false); }
void place_layernorm(Placer& p, const TaskConfig& c) { place_norm(p, c, true); }
void emit_rmsnorm_op(ProgramBuilder& b, MemoryPlan& plan, const TaskConfig&) {
  emit_rmsnorm(b, plan, {"rmsnorm", "x", "y", "w"});
}
void emit_layernorm_op(ProgramBuilder& b, MemoryPlan& plan, const TaskConfig&) {
  emit_layernorm(b, plan, {"layernorm", "x", "y", "w", "bias"});
}
// y = (x - mean) / sqrt(var + eps) * w (+ bias); rms: no mean subtraction, var = mean(x^2).
void golden_norm(const TaskConfig& c, Tensors& io, bool layer) {
  const uint64_t rows = c.dim("rows"), cols = c.dim("cols");
  const auto& x = io.at("x");
  const auto& w = io.at("w");
  auto& y = io["y"];
  y.assign(x.size(), 0.f);
  const double eps = double(1e-5f);
  for (uint64_t r = 0; r < rows; ++r) {
    const float* row = &x[r * cols];
    double mean = 0, sq = 0;
    if (layer) {
      for (uint64_t i = 0; i < cols; ++i) mean += row[i];
      mean /= double(cols);
    }
    for (uint64_t i = 0; i < cols; ++i) sq += (row[i] - mean) * (row[i] - mean);
    const double inv = 1.0 / std::sqrt(sq / double(cols) + eps);
    for (uint64_t i = 0; i < cols; ++i)
      y[r * cols + i] = float((row[i] - mean) * inv * w[i] + (layer ? double(io.at("bias")[i]) : 0.0));
  }
}
void golden_rmsnorm(const TaskConfig& c, Tensors& io) { golden_norm(c, io, false); }
void golden_layernorm(const TaskConfig& c, Tensors& io) { golden_norm(c, io, true); }

// ---- matrix ----

// y = x @ w (+ bias row when Bias).
template <bool Bias>
void place_linear(Placer& p, const TaskConfig& c) {
  const uint64_t rows = c.dim("rows"), k = c.dim("k"), n = c.dim("n");
  p.hbm("w", Role::Input, k, n, p.hw().formats.m_weight, 0.25);
  if (Bias) p.hbm_rows("bias", Role::Input, 1, n, 1);
  p.vram("x", Role::Input, rows, k, 1);
  p.vram("y", Role::Output, rows, n);
}
template <bool Bias>
void emit_linear_op(ProgramBuilder& b, MemoryPlan& plan, const TaskConfig&) {
  emit_linear(b, plan, {.name = "linear", .weight = "w", .input = "x", .output = "y"});
  if (Bias) emit_bias_add(b, plan, {"bias_add", "y", "y", "bias"});
}
template <bool Bias>
void golden_linear(const TaskConfig& c, Tensors& io) {
  const uint64_t rows = c.dim("rows"), k = c.dim("k"), n = c.dim("n");
  auto y = matmul(widen(io.at("x")), io.at("w"), rows, k, n);
  if (Bias)
    for (uint64_t r = 0; r < rows; ++r)
      for (uint64_t j = 0; j < n; ++j) y[r * n + j] += io.at("bias")[j];
  io["y"] = narrow(y);
}

void place_bmm(Placer& p, const TaskConfig& c) {
  const uint64_t batch = c.dim("batch"), rows = c.dim("rows"), k = c.dim("k"), n = c.dim("n");
  p.hbm("w", Role::Input, batch * k, n, p.hw().formats.m_weight, 0.25);
  p.vram("a", Role::Input, batch * rows, k, 1);
  p.vram("c", Role::Output, batch * rows, n);
}
void emit_bmm_op(ProgramBuilder& b, MemoryPlan& plan, const TaskConfig& c) {
  emit_batched_matmul(b, plan, {.name = "bmm", .weight = "w", .input = "a", .output = "c", .batch = c.dim("batch")});
}
void golden_bmm(const TaskConfig& c, Tensors& io) {
  const uint64_t batch = c.dim("batch"), rows = c.dim("rows"), k = c.dim("k"), n = c.dim("n");
  const auto& a = io.at("a");
  const auto& w = io.at("w");
  std::vector<float> out(batch * rows * n);
  for (uint64_t i = 0; i < batch; ++i) {
    std::vector<double> ai(a.begin() + long(i * rows * k), a.begin() + long((i + 1) * rows * k));
    std::vector<float> wi(w.begin() + long(i * k * n), w.begin() + long((i + 1) * k * n));
    const auto ci = matmul(ai, wi, rows, k, n);
    std::copy(ci.begin(), ci.end(), out.begin() + long(i * rows * n));
  }
  io["c"] = std::move(out);
}

// ---- feed-forward: FFN y = gelu(x W1) W2; SwiGLU MLP y = (silu(x Wg) * (x Wu)) Wd ----

void place_ffn(Placer& p, const TaskConfig& c, bool gated) {
  const uint64_t rows = c.dim("rows"), d = c.dim("hidden"), f = c.dim("inter");
  const auto& fmt = p.hw().formats.m_weight;
  const double r1 = 1.0 / std::sqrt(double(d)) * 2, r2 = 1.0 / std::sqrt(double(f)) * 2;
  p.hbm(gated ? "w_gate" : "w1", Role::Input, d, f, fmt, r1);
  if (gated) p.hbm("w_up", Role::Input, d, f, fmt, r1);
  p.hbm(gated ? "w_down" : "w2", Role::Input, f, d, fmt, r2);
  p.vram("x", Role::Input, rows, d, 1);
  p.vram("y", Role::Output, rows, d);
}
void place_ffn_plain(Placer& p, const TaskConfig& c) { place_ffn(p, c, false); }
void place_ffn_gated(Placer& p, const TaskConfig& c) { place_ffn(p, c, true); }
void alloc_scratch(MemoryPlan& plan, const std::string& name, uint64_t rows, uint64_t cols) {
  VramPlaceOptions o;
  o.row_multiple = plan.config().geometry.blen;
  plan.alloc_vram(name, rows, cols, o);
}
void emit_ffn(ProgramBuilder& b, MemoryPlan& plan, const TaskConfig& c) {
  alloc_scratch(plan, "ffn.h", c.dim("rows"), c.dim("inter"));
  emit_linear(b, plan, {.name = "ffn.up", .weight = "w1", .input = "x", .output = "ffn.h"});
  emit_activation(b, plan, {"ffn.gelu", Activation::Gelu, "ffn.h", "ffn.h"});
  emit_linear(b, plan, {.name = "ffn.down", .weight = "w2", .input = "ffn.h", .output = "y"});
}
void emit_swiglu_mlp(ProgramBuilder& b, MemoryPlan& plan, const TaskConfig& c) {
  alloc_scratch(plan, "mlp.gate", c.dim("rows"), c.dim("inter"));
  alloc_scratch(plan, "mlp.up", c.dim("rows"), c.dim("inter"));
  emit_linear(b, plan, {.name = "mlp.gate", .weight = "w_gate", .input = "x", .output = "mlp.gate"});
  emit_linear(b, plan, {.name = "mlp.up", .weight = "w_up", .input = "x", .output = "mlp.up"});
  emit_swiglu(b, plan, {"mlp.swiglu", "mlp.gate", "mlp.up", "mlp.gate"});
  emit_linear(b, plan, {.name = "mlp.down", .weight = "w_down", .input = "mlp.gate", .output = "y"});
}
void golden_ffn(const TaskConfig& c, Tensors& io) {
  const uint64_t rows = c.dim("rows"), d = c.dim("hidden"), f = c.dim("inter");
  auto h = matmul(widen(io.at("x")), io.at("w1"), rows, d, f);
  for (auto& v : h) v = gelu(v);
  io["y"] = narrow(matmul(h, io.at("w2"), rows, f, d));
}
void golden_swiglu_mlp(const TaskConfig& c, Tensors& io) {
  const uint64_t rows = c.dim("rows"), d = c.dim("hidden"), f = c.dim("inter");
  auto g = matmul(widen(io.at("x")), io.at("w_gate"), rows, d, f);
  const auto u = matmul(widen(io.at("x")), io.at("w_up"), rows, d, f);
  for (size_t i = 0; i < g.size(); ++i) g[i] = silu(g[i]) * u[i];
  io["y"] = narrow(matmul(g, io.at("w_down"), rows, f, d));
}

// ---- RoPE: y = x * COS + swap(x) * SIN per head (tables per row, width max(VLEN, head_dim)) ----

void place_rope(Placer& p, const TaskConfig& c) {
  const uint64_t rows = c.dim("rows");
  p.vram("x", Role::Input, rows, c.dim("cols"), 2);
  const RopePlacement t = place_rope_tables(p.plan(), "rope", round_up(rows, p.hw().geometry.blen), c.dim("head_dim"));
  p.record_vram(t.cos, Role::Input);
  p.record_vram(t.sin, Role::Input);
  if (!t.swap.empty()) p.record_hbm(t.swap, Role::Constant);
  p.vram("y", Role::Output, rows, c.dim("cols"));
}
void emit_rope_op(ProgramBuilder& b, MemoryPlan& plan, const TaskConfig& c) {
  const uint64_t hd = c.dim("head_dim");
  RopePlacement t{"rope.cos", "rope.sin", hd <= plan.config().geometry.vlen ? "rope.swap" : ""};
  emit_rope(b, plan, RopeArgs{"rope", "x", "y", hd, t});
}
void golden_rope(const TaskConfig& c, Tensors& io) {
  const uint64_t rows = c.dim("rows"), cols = c.dim("cols"), hd = c.dim("head_dim");
  const uint64_t width = std::max<uint64_t>(c.hardware.geometry.vlen, hd);
  const auto& x = io.at("x");
  const auto& cs = io.at("rope.cos");
  const auto& sn = io.at("rope.sin");
  auto& y = io["y"];
  y.assign(x.size(), 0.f);
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t j = 0; j < cols; ++j) {
      const uint64_t in_head = j % hd, half = hd / 2;
      const uint64_t partner = j - in_head + (in_head < half ? in_head + half : in_head - half);
      const uint64_t tc = j % width;
      y[r * cols + j] = float(double(x[r * cols + j]) * cs[r * width + tc] + double(x[r * cols + partner]) * sn[r * width + tc]);
    }
}

// ---- attention: O = softmax(Q K^T / sqrt(head_dim) + mask) V, GQA by kv head = h / (H / Hkv) ----

struct AttnDims {
  uint64_t batch, q_len, kv_len, heads, kv_heads, head_dim, window;
  bool causal;
};
AttnDims attn_dims(const TaskConfig& c) {
  return {c.dim("batch"), c.dim("q_len"), c.dim("kv_len"), c.dim("heads"), c.dim("kv_heads"), c.dim("head_dim"),
          c.dim("window"), c.dim("causal") != 0};
}
void place_attention(Placer& p, const TaskConfig& c) {
  const AttnDims d = attn_dims(c);
  const auto& hw = p.hw();
  const KvCacheLayout lay = kv_cache_layout(hw, d.batch, d.kv_heads, d.kv_len, d.head_dim);
  place_kv_cache(p.plan(), "k_cache", lay);
  p.record_hbm("k_cache", Role::Input, 2);
  place_kv_cache(p.plan(), "v_cache", lay);
  p.record_hbm("v_cache", Role::Input, 1);
  const uint64_t rows = attention_rows_alloc(hw, d.batch, d.q_len);
  p.plan().alloc_vram("q", rows, d.heads * d.head_dim);
  p.record_vram("q", Role::Input, 2);
  p.plan().alloc_vram("o", rows, d.heads * d.head_dim);
  p.record_vram("o", Role::Output);
  // Q and O hold batch * q_len real rows (rows_alloc pads the last sequence to BLEN).
  p.specs()[p.specs().size() - 2].rows = d.batch * d.q_len;
  p.specs().back().rows = d.batch * d.q_len;
  if (attention_needs_identity(hw, d.head_dim)) {
    place_attention_identity(p.plan(), "identity");
    p.record_hbm("identity", Role::Constant);
  }
}
void emit_attention_op(ProgramBuilder& b, MemoryPlan& plan, const TaskConfig& c) {
  const AttnDims d = attn_dims(c);
  const bool identity = attention_needs_identity(plan.config(), d.head_dim);
  emit_flash_attention(b, plan,
                       {.name = "attention", .q = "q", .out = "o", .k_cache = "k_cache", .v_cache = "v_cache",
                        .identity = identity ? "identity" : "", .batch = d.batch, .q_len = d.q_len,
                        .kv_len = d.kv_len, .num_heads = d.heads, .num_kv_heads = d.kv_heads,
                        .head_dim = d.head_dim, .causal = d.causal, .sliding_window = d.window});
}
// Whether query at position `pos` sees key j.
bool visible(const AttnDims& d, uint64_t pos, uint64_t j) {
  if (!d.causal) return true;
  return j <= pos && (d.window == 0 || j + d.window > pos);
}
void golden_attention(const TaskConfig& c, Tensors& io) {
  const AttnDims d = attn_dims(c);
  const KvCacheLayout lay = kv_cache_layout(c.hardware, d.batch, d.kv_heads, d.kv_len, d.head_dim);
  const auto& q = io.at("q");
  const auto& k = io.at("k_cache");
  const auto& v = io.at("v_cache");
  const uint64_t qc = d.heads * d.head_dim;
  auto& o = io["o"];
  o.assign(d.batch * d.q_len * qc, 0.f);
  const double scale = 1.0 / std::sqrt(double(d.head_dim));
  std::vector<double> s(d.kv_len);
  for (uint64_t b = 0; b < d.batch; ++b)
    for (uint64_t h = 0; h < d.heads; ++h)
      for (uint64_t i = 0; i < d.q_len; ++i) {
        const uint64_t pos = d.kv_len - d.q_len + i, kvh = h / (d.heads / d.kv_heads), qr = b * d.q_len + i;
        double mx = -1e300, sum = 0;
        for (uint64_t j = 0; j < d.kv_len; ++j) {
          if (!visible(d, pos, j)) continue;
          double dot = 0;
          for (uint64_t e = 0; e < d.head_dim; ++e)
            dot += double(q[qr * qc + h * d.head_dim + e]) * k[lay.row(b, j) * lay.width + lay.col(kvh) + e];
          s[j] = dot * scale;
          mx = std::max(mx, s[j]);
        }
        for (uint64_t j = 0; j < d.kv_len; ++j)
          if (visible(d, pos, j)) sum += (s[j] = std::exp(s[j] - mx));
        for (uint64_t e = 0; e < d.head_dim; ++e) {
          double acc = 0;
          for (uint64_t j = 0; j < d.kv_len; ++j)
            if (visible(d, pos, j)) acc += s[j] * v[lay.row(b, j) * lay.width + lay.col(kvh) + e];
          o[qr * qc + h * d.head_dim + e] = float(acc / sum);
        }
      }
}

// ---- L3: decoder blocks (engineer B's compiler function) ----

void place_decoder(Placer&, const TaskConfig&) {}
[[noreturn]] void decoder_unavailable(const TaskConfig& c) {
  throw InputError(fmt::format("bench: {}: the decoder-block baseline and layout are not yet available "
                               "(they come from the compiler's decoder-block function, src/compiler/decoder_block.hpp)",
                               c.id));
}
void emit_decoder(ProgramBuilder&, MemoryPlan&, const TaskConfig& c) { decoder_unavailable(c); }
void golden_decoder(const TaskConfig& c, Tensors&) { decoder_unavailable(c); }

const std::vector<std::string_view> kUnaryDims{"rows", "cols"};
const std::vector<std::string_view> kAttnDims{"batch", "q_len", "kv_len", "heads", "kv_heads", "head_dim", "window",
                                              "causal"};
const std::vector<std::string_view> kFfnDims{"rows", "hidden", "inter"};
const std::vector<std::string_view> kDecoderDims{"rows", "hidden", "inter", "heads", "kv_heads", "head_dim"};

const std::vector<OpDef> kOps{
    {"silu", kUnaryDims, place_unary, emit_act<Activation::Silu>, golden_silu},
    {"relu", kUnaryDims, place_unary, emit_act<Activation::Relu>, golden_relu},
    {"gelu", kUnaryDims, place_unary, emit_act<Activation::Gelu>, golden_gelu},
    {"softmax", kUnaryDims, place_unary, emit_softmax_op, golden_softmax},
    {"layernorm", kUnaryDims, place_layernorm, emit_layernorm_op, golden_layernorm},
    {"rmsnorm", kUnaryDims, place_rmsnorm, emit_rmsnorm_op, golden_rmsnorm},
    {"matmul", {"rows", "k", "n"}, place_linear<false>, emit_linear_op<false>, golden_linear<false>},
    {"linear", {"rows", "k", "n"}, place_linear<true>, emit_linear_op<true>, golden_linear<true>},
    {"batched_matmul", {"batch", "rows", "k", "n"}, place_bmm, emit_bmm_op, golden_bmm},
    {"rope", {"rows", "cols", "head_dim"}, place_rope, emit_rope_op, golden_rope},
    {"ffn", kFfnDims, place_ffn_plain, emit_ffn, golden_ffn},
    {"swiglu_mlp", kFfnDims, place_ffn_gated, emit_swiglu_mlp, golden_swiglu_mlp},
    {"attention", kAttnDims, place_attention, emit_attention_op, golden_attention},
    {"decoder_llama", kDecoderDims, place_decoder, emit_decoder, golden_decoder},
    {"decoder_t5", kDecoderDims, place_decoder, emit_decoder, golden_decoder},
};

}  // namespace

std::span<const OpDef> op_table() { return kOps; }

const OpDef* find_op(std::string_view name) {
  for (const auto& op : kOps)
    if (op.name == name) return &op;
  return nullptr;
}

std::vector<float> constant_data(const TaskConfig& c, const TensorSpec& t) {
  const uint64_t mlen = c.hardware.geometry.mlen;
  std::vector<float> src;
  if (t.name == "identity") src = attention_identity_data(c.hardware);
  if (t.name == "rope.swap") src = rope_swap_matrix(c.dim("head_dim"), mlen);
  if (src.empty()) throw std::logic_error("bench: no data for constant " + t.name);
  src.resize(t.rows * t.cols, 0.f);  // rows past the tile (a whole prefetch) are zero
  return src;
}

void layout_and_emit(const OpDef& op, TaskConfig& cfg, ProgramBuilder& b, bool record) {
  MemoryPlan plan(cfg.hardware, "bench");
  Placer p(plan);
  op.place(p, cfg);
  op.emit(b, plan, cfg);
  if (!record) return;
  cfg.tensors = std::move(p.specs());
  cfg.fp_constants.clear();
  for (const auto& k : plan.fp_constants()) cfg.fp_constants.push_back({k.name, k.slot, k.value});
}

}  // namespace plena::bench::detail
