// Whole-model compilation (docs/run.md): HBM placement of weights and KV caches once, then one
// program per step built from the kernel generators.
#include "compiler/model_compiler.hpp"
#include "support/math.hpp"
#include "compiler/layer_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <numeric>

#include "compiler/kernels_vector.hpp"
#include "support/big_buffer.hpp"
#include "support/support.hpp"

namespace plena::compiler {
namespace {


[[noreturn]] void unsupported(const model::ModelConfig& m, const std::string& what) {
  throw InputError(fmt::format("model '{}': error: {} is not supported by the model compiler yet", m.name, what));
}

std::string layer_name(int64_t i, const char* what) { return fmt::format("layers.{}.{}", i, what); }

}  // namespace

ModelCompiler::ModelCompiler(const config::HardwareConfig& hw, std::string hw_name, const model::ModelConfig& m,
                             const ModelCompileOptions& opt)
    : hw_(hw), hw_name_(std::move(hw_name)), m_(m), opt_(opt), base_(hw, hw_name_) {
  const auto& g = hw_.geometry;
  const uint64_t mlen = g.mlen, vlen = g.vlen;
  if (m.hidden_act != "silu") unsupported(m, fmt::format("hidden_act '{}' (only silu)", m.hidden_act));
  const std::initializer_list<std::pair<const char*, int64_t>> sizes = {
      {"hidden_size", m.hidden_size}, {"intermediate_size", m.intermediate_size}, {"vocab_size", m.vocab_size},
      {"num_attention_heads", m.num_attention_heads}, {"num_key_value_heads", m.num_key_value_heads}};
  for (const auto& [what, v] : sizes)
    if (v <= 0) throw InputError(fmt::format("model '{}': error: {} = {} must be positive", m.name, what, v));
  if (m.head_dim <= 0 || m.head_dim % 2)
    throw InputError(fmt::format("model '{}': error: head_dim = {} must be positive and even (rotate-half RoPE pairs "
                                 "column i with i + head_dim/2)",
                                 m.name, m.head_dim));
  if (opt.batch == 0) throw InputError("error: batch must be at least 1");
  if (opt.max_positions == 0) throw InputError("error: max_positions must be at least 1 (prompt + generated tokens)");
  if (!(hw.formats.m_kv == hw.formats.v_kv))
    throw InputError(fmt::format("config '{}': error: formats.m_kv ({}) and formats.v_kv ({}) differ; the KV cache is "
                                 "written with H_STORE_V (v_kv) and read with H_PREFETCH_M (m_kv), so they must be equal",
                                 hw_name_, hw.formats.m_kv.name(), hw.formats.v_kv.name()));

  define_standard_constants(base_, m_);
  const auto& f = hw_.formats;
  // Every width zero-padded to whole MLEN tiles and every head to placed_head_dim (docs/compiler.md).
  dims_ = model_dims(m_, hw_);
  dims_.fused_residual = !opt.tensor_shard;
  const uint64_t H = dims_.hidden, I = dims_.inter, hd = uint64_t(m.head_dim), P = dims_.head_dim;
  kv_ = kv_cache_layout(hw_, opt.batch, dims_.kv_heads, opt.max_positions + hw.hbm.v_writeback_amount, P,
                        kv_combinable(hw_, dims_.kv_heads, P));  // as PlanBuilder::attention_block
  k_cols_ = kv_.width;  // = dims_.kv_cols: K and V rows are the cache rows
  vocab_pad_ = dims_.vocab;
  const Axis hid{uint64_t(m.hidden_size)}, inter{uint64_t(m.intermediate_size)}, vocab{uint64_t(m.vocab_size)};
  const Axis qh{dims_.heads * hd, dims_.heads}, kvh{dims_.kv_heads * hd, dims_.kv_heads}, one_head{hd, 1};

  HbmPlaceOptions rowvec;
  rowvec.row_multiple = vlen;  // vector params / embedding rows are read in whole VLEN blocks
  auto place = [&](const std::string& name, std::vector<uint64_t> shape, const numerics::Format& fmt_,
                   Source src, const HbmPlaceOptions& o = {}) {
    base_.place_hbm(name, TensorClass::Weight, std::move(shape), fmt_, o);
    weight_names_.push_back(name);
    sources_.emplace_back(name, std::move(src));
  };
  using K = Source::Kind;
  auto linear = [&](const std::string& name, const std::string& hf, Axis in, uint64_t in_cols, Axis out, uint64_t out_cols) {
    place(name, {in_cols, out_cols}, f.m_weight, {K::Transpose, hf, in, out});
  };
  auto vec = [&](const std::string& name, const std::string& hf, Axis ax, uint64_t cols) {
    place(name, {1, cols}, f.v_act, {K::Row, hf, {1}, ax}, rowvec);
  };
  if (opt.first_stage) place("embed_tokens", {uint64_t(m.vocab_size), H}, f.v_act, {K::Copy, "model.embed_tokens.weight", vocab, hid}, rowvec);
  for (int64_t i = 0; i < m.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    vec(layer_name(i, "attn_norm"), p + "input_layernorm.weight", hid, H);
    linear(layer_name(i, "q_proj"), p + "self_attn.q_proj.weight", hid, H, qh, dims_.q_cols);
    if (dims_.fused_kv) {  // [W_k | W_v | 0]: one linear writes the combined K|V cache row
      place(layer_name(i, "kv_proj"), {H, k_cols_}, f.m_weight,
            {K::TransposePair, p + "self_attn.k_proj.weight", hid, kvh, p + "self_attn.v_proj.weight", kv_.v_col0});
    } else {
      linear(layer_name(i, "k_proj"), p + "self_attn.k_proj.weight", hid, H, kvh, k_cols_);
      linear(layer_name(i, "v_proj"), p + "self_attn.v_proj.weight", hid, H, kvh, k_cols_);
    }
    linear(layer_name(i, "o_proj"), p + "self_attn.o_proj.weight", qh, dims_.q_cols, hid, H);
    // Biases and q/k norm weights are vector parameters (v_act), laid out like their activations.
    if (m.attention_bias) {
      vec(layer_name(i, "q_bias"), p + "self_attn.q_proj.bias", qh, dims_.q_cols);
      vec(layer_name(i, "k_bias"), p + "self_attn.k_proj.bias", kvh, k_cols_);
      vec(layer_name(i, "v_bias"), p + "self_attn.v_proj.bias", kvh, k_cols_);
    }
    if (m.o_proj_bias) vec(layer_name(i, "o_bias"), p + "self_attn.o_proj.bias", hid, H);
    if (m.qk_norm) {
      vec(layer_name(i, "q_norm"), p + "self_attn.q_norm.weight", one_head, P);
      vec(layer_name(i, "k_norm"), p + "self_attn.k_norm.weight", one_head, P);
    }
    vec(layer_name(i, "mlp_norm"), p + "post_attention_layernorm.weight", hid, H);
    linear(layer_name(i, "gate_proj"), p + "mlp.gate_proj.weight", hid, H, inter, I);
    linear(layer_name(i, "up_proj"), p + "mlp.up_proj.weight", hid, H, inter, I);
    linear(layer_name(i, "down_proj"), p + "mlp.down_proj.weight", inter, I, hid, H);
  }
  if (attention_needs_identity(hw_, P)) place("attn_identity", {attention_identity_rows(hw_), mlen}, f.m_weight, {K::AttnIdentity, ""});
  if (opt.last_stage) {
    vec("final_norm", "model.norm.weight", hid, H);
    place("lm_head", {H, vocab_pad_}, f.m_weight, {K::LmHead, "", hid, vocab});
  }
  for (int64_t i = 0; i < m.num_hidden_layers; ++i) {
    place_kv_cache(base_, layer_name(i, "k_cache"), kv_);
    if (!kv_.combined()) place_kv_cache(base_, layer_name(i, "v_cache"), kv_);
  }
  // The RoPE swap tensor (head_dim <= VLEN): the same image every step, [swap rows, MLEN] with the
  // swap tile on top (place_rope_tables sizes it). Only steps with host data carry it.
  if (opt.host_data && P <= vlen) {
    const uint64_t swap_rows = std::max<uint64_t>(mlen, hw_.hbm.m_prefetch_amount);
    auto image = std::make_shared<std::vector<float>>(swap_rows * mlen, 0.f);
    const std::vector<float> tile = rope_swap_matrix(P, mlen);
    std::copy(tile.begin(), tile.end(), image->begin());
    rope_swap_ = std::move(image);
  }
}

std::vector<float> ModelCompiler::weight_data(const std::string& tensor, const model::ModelWeights& w) const {
  std::vector<float> staging;
  const std::span<const float> v = weight_data(tensor, w, staging);
  if (v.data() == staging.data()) return staging;
  return {v.begin(), v.end()};
}

std::span<const float> ModelCompiler::weight_data(const std::string& tensor, const model::ModelWeights& w,
                                                  std::vector<float>& staging) const {
  return weight_rows(tensor, w, 0, base_.hbm(tensor).rows, staging);
}

const ModelCompiler::Source& ModelCompiler::weight_source(const std::string& tensor) const {
  auto it = std::find_if(sources_.begin(), sources_.end(), [&](const auto& s) { return s.first == tensor; });
  if (it == sources_.end()) throw InputError(fmt::format("error: '{}' is not a weight tensor of this model", tensor));
  return it->second;
}

int64_t ModelCompiler::model_index(const Axis& ax, uint64_t i) const {
  if (ax.heads == 0) return i < ax.real ? int64_t(i) : -1;
  const uint64_t hd = uint64_t(m_.head_dim), P = dims_.head_dim, h = i / P;
  if (h >= ax.heads) return -1;
  const int64_t j = real_head_column(hd, P, i % P);
  return j < 0 ? -1 : int64_t(h * hd) + j;
}

std::vector<int64_t> ModelCompiler::axis_map(const Axis& ax, uint64_t begin, uint64_t n) const {
  std::vector<int64_t> map(n);
  for (uint64_t i = 0; i < n; ++i) map[i] = model_index(ax, begin + i);
  return map;
}

std::span<const float> ModelCompiler::weight_rows(const std::string& tensor, const model::ModelWeights& w,
                                                  uint64_t row0, uint64_t nrows, std::vector<float>& d) const {
  const Source& src = weight_source(tensor);
  const HbmTensor& t = base_.hbm(tensor);
  const uint64_t rows = t.rows, cols = t.cols;
  if (row0 > rows || nrows > rows - row0)
    throw std::logic_error(fmt::format("weight_rows: rows [{}, {}) of '{}' ({} rows)", row0, row0 + nrows, tensor, rows));
  const uint64_t n = nrows * cols;
  // The model's own layout (no padding, no head placement): a view or a bf16 read, no remapping.
  const bool same_layout = (src.kind == Source::Kind::Row || src.kind == Source::Kind::Copy) && src.cols.heads == 0 &&
                           src.cols.real == cols;
  const std::string& hf = src.kind == Source::Kind::LmHead
                              ? (m_.tie_word_embeddings ? std::string("model.embed_tokens.weight") : std::string("lm_head.weight"))
                              : src.hf;
  const bool from_bf16 = !hf.empty() && !w.bf16_values(hf).empty();  // read in place, never converted
  // Staging is reused across calls: only sized here, and every element is written below.
  if ((!same_layout || from_bf16) && d.size() < n) {
    if (d.capacity() < n) d = zeroed_floats(n);
    d.resize(n);
  }
  switch (src.kind) {
    case Source::Kind::Transpose:
    case Source::Kind::LmHead:
      transpose_rows(tensor, w, src, hf, row0, nrows, cols, d);
      break;
    case Source::Kind::TransposePair:
      std::fill_n(d.begin(), n, 0.f);  // the columns past both halves
      transpose_rows(tensor, w, src, hf, row0, nrows, src.col2, d, cols, 0);
      transpose_rows(tensor, w, src, src.hf2, row0, nrows, src.col2, d, cols, src.col2);
      break;
    case Source::Kind::AttnIdentity: {
      const std::vector<float> all = attention_identity_data(hw_);
      std::copy_n(all.begin() + long(row0 * cols), n, d.begin());
      break;
    }
    case Source::Kind::Row:
    case Source::Kind::Copy: {
      const std::vector<size_t>& shape = w.shape(src.hf);
      const uint64_t numel = std::accumulate(shape.begin(), shape.end(), uint64_t(1), std::multiplies<>());
      const uint64_t expect = (src.kind == Source::Kind::Row ? 1 : rows) * src.cols.real;
      if (numel != expect)
        throw InputError(fmt::format("error: weight '{}' has {} elements, expected {}", src.hf, numel, expect));
      if (!same_layout) {
        padded_rows(w, src, row0, nrows, cols, d);
        break;
      }
      if (!from_bf16) return std::span<const float>(w.get(src.hf).data).subspan(row0 * cols, n);  // no staging copy
      w.read(src.hf, row0 * cols, std::span<float>(d.data(), n));
      break;
    }
  }
  return std::span<const float>(d.data(), n);
}

// Rows of a Row/Copy parameter whose columns are padded or head-placed: each row read once, then
// scattered (zeros elsewhere).
void ModelCompiler::padded_rows(const model::ModelWeights& w, const Source& src, uint64_t row0, uint64_t nrows,
                                uint64_t cols, std::vector<float>& d) const {
  const uint64_t in = src.cols.real;
  const std::vector<int64_t> map = axis_map(src.cols, 0, cols);
  std::vector<float> row(in);
  for (uint64_t r = 0; r < nrows; ++r) {
    w.read(src.hf, (row0 + r) * in, std::span<float>(row.data(), in));
    for (uint64_t c = 0; c < cols; ++c) d[r * cols + c] = map[c] < 0 ? 0.f : row[uint64_t(map[c])];
  }
}

// Rows [row0, row0 + nrows) of the [in (rows axis), out (cols axis)] image of HF [out, in] weight
// `hf`, zeros where either axis is padding. Blocks of 16 HF rows are read (from bf16 in place where
// possible) so each HBM row gets a cache line per block rather than a float.
void ModelCompiler::transpose_rows(const std::string& tensor, const model::ModelWeights& w, const Source& src,
                                   const std::string& hf, uint64_t row0, uint64_t nrows, uint64_t cols,
                                   std::vector<float>& d, uint64_t d_cols, uint64_t d_col0) const {
  if (d_cols == 0) d_cols = cols;  // d's row length; this image goes to its columns [d_col0, +cols)
  const std::vector<size_t>& shape = w.shape(hf);
  const uint64_t out = shape.at(0), in = shape.at(1);
  if (in != src.rows.real || out != src.cols.real)
    throw InputError(fmt::format("error: weight '{}' for '{}' is [{}, {}], expected [{}, {}] ([out, in])", hf, tensor, out,
                                 in, src.cols.real, src.rows.real));
  const std::vector<int64_t> rmap = axis_map(src.rows, row0, nrows), cmap = axis_map(src.cols, 0, cols);
  constexpr uint64_t kBlock = 16;
  std::vector<float> blk(kBlock * nrows);
  const std::span<const uint16_t> b16 = w.bf16_values(hf);
  const float* f32 = b16.empty() ? w.get(hf).data.data() : nullptr;
  auto at = [&](uint64_t o, int64_t i) {
    if (i < 0) return 0.f;
    const uint64_t k = o * in + uint64_t(i);
    return f32 ? f32[k] : std::bit_cast<float>(uint32_t(b16[k]) << 16);
  };
  // Rows of the image that are HF columns r0, r0 + 1, ... (no padding or head placement among
  // them): each HF row's stretch is read as one run, a loop the compiler vectorizes.
  bool contiguous = nrows > 0 && rmap[0] >= 0;
  for (uint64_t i = 1; contiguous && i < nrows; ++i) contiguous = rmap[i] == rmap[0] + int64_t(i);
  for (uint64_t c0 = 0; c0 < cols; c0 += kBlock) {
    const uint64_t nb = std::min(kBlock, cols - c0);
    for (uint64_t c = c0; c < c0 + nb; ++c) {
      float* dst = blk.data() + (c - c0) * nrows;
      if (cmap[c] < 0) {
        std::fill_n(dst, nrows, 0.f);
      } else if (contiguous && !f32) {
        const uint16_t* s = b16.data() + uint64_t(cmap[c]) * in + uint64_t(rmap[0]);
        for (uint64_t i = 0; i < nrows; ++i) dst[i] = std::bit_cast<float>(uint32_t(s[i]) << 16);
      } else {
        for (uint64_t i = 0; i < nrows; ++i) dst[i] = at(uint64_t(cmap[c]), rmap[i]);
      }
    }
    float* out = d.data() + d_col0 + c0;
    if (nb == kBlock) {  // a fixed trip count: one vector gather-and-store per image row
      for (uint64_t i = 0; i < nrows; ++i)
        for (uint64_t c = 0; c < kBlock; ++c) out[i * d_cols + c] = blk[c * nrows + i];
    } else {
      for (uint64_t i = 0; i < nrows; ++i)
        for (uint64_t c = 0; c < nb; ++c) out[i * d_cols + c] = blk[c * nrows + i];
    }
  }
}

const CompiledStep& ModelCompiler::compile_step(const std::vector<std::vector<int64_t>>& tokens, uint64_t past,
                                                bool logits) const {
  const uint64_t B = tokens.size();
  if (B != opt_.batch) throw InputError(fmt::format("error: step has {} sequences, compiled for batch {}", B, opt_.batch));
  const uint64_t T = tokens[0].size();
  if (T == 0) throw InputError("error: a step needs at least one token per sequence");
  std::vector<int64_t> flat;
  for (const auto& seq : tokens) {
    if (seq.size() != T) throw InputError("error: every sequence of a step must have the same number of tokens");
    for (int64_t id : seq) {
      if (id < 0 || id >= m_.vocab_size)
        throw InputError(fmt::format("error: token id {} out of range [0, {})", id, m_.vocab_size));
      flat.push_back(id);
    }
  }
  if (past + T > opt_.max_positions)
    throw InputError(fmt::format("error: positions {}..{} exceed max_positions {}", past, past + T - 1, opt_.max_positions));
  const std::optional<StepKey> key = step_key(B, T, past, logits, flat);
  if (key && template_ && template_->key == *key) {
    patch_step(*template_, past);
    return template_->step;
  }
  CompiledStep step = emit_step(flat, B, T, past, logits);
  if (!key) {
    last_sites_.clear();
    last_ = std::move(step);
    return last_;
  }
  template_ = std::make_unique<StepTemplate>(StepTemplate{*key, std::move(step), past, std::move(last_sites_), rope_place_});
  last_sites_.clear();
  return template_->step;
}

// Steps with the same key compile to the same program but for their load_step_imm sites (the KV
// store's offsets, the attention mask's shift): a decode step and the next one, until the KV
// length reaches the next tile. The prompt's tokens are part of the key (their embedding rows are
// immediates), so only timing-only runs, which re-feed one token, patch every decode step.
std::optional<ModelCompiler::StepKey> ModelCompiler::step_key(uint64_t B, uint64_t T, uint64_t past, bool logits,
                                                              const std::vector<int64_t>& flat) const {
  if (opt_.assembly || !opt_.reuse_programs) return std::nullopt;  // the text names the step's positions
  const auto attention = attention_step_class(hw_, T, past + T, true, uint64_t(std::max<int64_t>(0, m_.sliding_window)));
  if (!attention) return std::nullopt;
  return StepKey{B, T, *attention, logits, flat};
}

void ModelCompiler::patch_step(StepTemplate& t, uint64_t past) const {
  CompiledStep& step = t.step;
  step.past = past;
  ++patched_steps_;
  const int64_t delta = int64_t(past) - int64_t(t.past);
  auto& instrs = step.program.instrs;
  auto& words = step.program.words;
  for (const ProgramBuilder::StepSite& site : t.sites) {
    const auto pair = ProgramBuilder::load_imm_pair(GpReg{instrs[site.pc].rd}, site.value(delta));
    for (size_t k = 0; k < 2; ++k) {
      instrs[site.pc + k] = pair[k];
      if (!words.empty()) words[site.pc + k] = isa::encode(pair[k]);
    }
  }
  step.vram_inits.clear();
  add_rope_inits(step, t.rope);
}

// RoPE tables for every physical row (padding rows get position 0).
void ModelCompiler::add_rope_inits(CompiledStep& step, const RopeInitPlace& rope) const {
  if (!opt_.host_data) return;
  const uint64_t R = step.batch * step.q_len;
  std::vector<int64_t> pos(rope.rows, 0);
  for (uint64_t r = 0; r < R; ++r) pos[r] = int64_t(step.past + r % step.q_len);
  // Placed heads (placed_head_column): pair j < head_dim/2 keeps its frequency; the padding pairs
  // get 0 (cos 1, sin 0: their zeros stay zero).
  std::vector<float> inv = model::rope_inv_freq(m_);
  inv.resize(dims_.head_dim / 2, 0.f);
  RopeTables t = rope_tables(inv, dims_.head_dim, hw_.geometry.vlen, pos);
  step.vram_inits.push_back({rope.cos, std::move(t.cos)});
  step.vram_inits.push_back({rope.sin, std::move(t.sin)});
}

CompiledStep ModelCompiler::emit_step(const std::vector<int64_t>& flat, uint64_t B, uint64_t T, uint64_t past,
                                      bool logits) const {
  MemoryPlan plan = base_;
  ProgramBuilder b(hw_, hw_name_);
  b.set_loop_policy(opt_.loops);
  b.stage(fmt::format("{} step: batch {}, {} token(s) per sequence at positions {}..{}", T > 1 ? "prefill" : "decode", B,
                      T, past, past + T - 1));
  CompiledStep step;
  step.batch = B;
  step.q_len = T;
  step.past = past;
  emit_calls(b, plan, flat, {B, T, past, m_.num_hidden_layers, logits}, &step);
  last_sites_ = b.step_sites();
  step.program = finish_program(std::move(b), plan, opt_.assembly, opt_.words);
  // The final norm + LM head follow the last layer, so every checkpoint names a real instruction;
  // a step without them ends at its last checkpoint. A pipeline stage has no checkpoints.
  if (!step.residual_pcs.empty() && step.residual_pcs.back() > step.program.instrs.size() - (logits ? 1 : 0))
    throw std::logic_error("model compiler: residual checkpoint past the end of the program");
  return step;
}

void ModelCompiler::emit_calls(ProgramBuilder& b, MemoryPlan& plan, const std::vector<int64_t>& flat,
                               const StepShape& sh, CompiledStep* step) const {
  const uint64_t B = sh.batch, T = sh.q_len, R = B * T;
  // One physical height for every activation: attention and the KV store move whole row groups
  // starting at each sequence's first row, so the last sequence's group may run past R.
  const uint64_t need = step_rows_alloc(hw_, B, T);
  VramPlaceOptions act;
  act.row_multiple = need;
  auto alloc = [&](const std::string& name, uint64_t cols) { return plan.alloc_vram(name, R, cols, act); };

  const uint64_t H = dims_.hidden, hd = dims_.head_dim;

  const RopePlacement rope = place_rope_tables(plan, "rope", need, hd);
  if (step) {
    rope_place_ = RopeInitPlace{plan.vram(rope.cos), plan.vram(rope.sin), need};
    add_rope_inits(*step, rope_place_);
    if (opt_.host_data && !rope.swap.empty()) {
      const HbmTensor& sw = plan.hbm(rope.swap);
      if (!rope_swap_ || rope_swap_->size() != sw.rows * sw.cols) throw std::logic_error("model compiler: rope swap image");
      step->hbm_inits.push_back({sw, rope_swap_});
    }
  }
  const VramTensor& x = alloc("x", H);
  if (step) step->residual = x;
  // A stage boundary: the next instruction emitted starts the next stage (see CompiledStep).
  const bool whole_model = opt_.first_stage && opt_.last_stage;
  auto mark_residual = [&] {
    if (!step || !whole_model) return;  // a pipeline stage's boundaries are not the model's
    if (b.loop_depth() != 0 || b.size() == 0)
      throw std::logic_error("model compiler: residual checkpoint inside a loop or before any instruction");
    step->residual_pcs.push_back(b.size());
  };
  // The step's kernels come from the one plan (layer_plan.hpp), bound to this step's tensors.
  StepBinding bind;
  bind.kv = &kv_;
  bind.rope = &rope;
  bind.token_ids = &flat;
  if (attention_needs_identity(hw_, hd)) bind.identity = "attn_identity";
  bind.alloc = [&](const std::string& name, uint64_t cols) { alloc(name, cols); };
  bind.free = [&](const std::string& name) { plan.free_vram(name); };
  const StepPlan sp = step_plan(dims_, hw_, {B, T, sh.past, kv_.capacity, sh.logits}, &bind);
  if (opt_.first_stage)
    for (const PlannedCall& c : sp.head) c.emit(b, plan, "");
  mark_residual();
  // Layer boundaries, for every stage (SegmentReuse: layers differ in HBM addresses only).
  auto mark_layer = [&] {
    if (step && b.loop_depth() == 0) step->layer_pcs.push_back(b.size());
  };
  mark_layer();
  for (int64_t i = 0; i < sh.layers; ++i) {
    const std::string L = fmt::format("layers.{}.", i);
    b.stage(fmt::format("layer {}", i));
    for (const PlannedCall& c : sp.layer) c.emit(b, plan, L);
    mark_residual();
    mark_layer();
  }
  if (!sh.logits || !opt_.last_stage) return;
  b.stage("final norm + lm_head (last token of each sequence)");
  for (const PlannedCall& c : sp.tail) c.emit(b, plan, "");
  if (step) {
    step->hidden = plan.vram(T > 1 ? "final" : "x");
    step->logits = plan.vram("logits");
  }
}

// ---- chunked prefill ----

std::vector<PrefillChunk> split_prefill(uint64_t prompt_len, uint64_t max_chunk, uint64_t granule) {
  if (max_chunk == 0 || granule == 0 || (max_chunk < prompt_len && max_chunk % granule != 0))
    throw std::logic_error(fmt::format("split_prefill: chunk {} of granule {}", max_chunk, granule));
  const uint64_t n = ceil_div(prompt_len, max_chunk);
  const uint64_t len = n == 1 ? prompt_len : std::min(max_chunk, round_up(ceil_div(prompt_len, n), granule));
  std::vector<PrefillChunk> out;
  for (uint64_t p = 0; p < prompt_len; p += len) out.push_back({p, std::min(len, prompt_len - p)});
  return out;
}

uint64_t ModelCompiler::prefill_granule() const {
  return std::lcm<uint64_t>(hw_.geometry.blen, hw_.hbm.v_writeback_amount);
}

bool ModelCompiler::prefill_fits(uint64_t q_len, uint64_t kv_len) const {
  const std::vector<int64_t> ids(opt_.batch * q_len, 0);
  // Executed instructions of the step with `layers` layers; nullopt when an on-chip memory is
  // full (the error names it; a real step would report it).
  auto executed = [&](int64_t layers) -> std::optional<uint64_t> {
    MemoryPlan plan = base_;
    ProgramBuilder b = ProgramBuilder::counting(hw_, hw_name_);
    b.set_loop_policy(opt_.loops);
    try {
      emit_calls(b, plan, ids, {opt_.batch, q_len, kv_len - q_len, layers, true}, nullptr);
    } catch (const InputError&) {
      return std::nullopt;
    }
    return b.cost().instructions();
  };
  const int64_t L = m_.num_hidden_layers;
  const std::optional<uint64_t> one = executed(std::min<int64_t>(1, L));
  if (!one) return false;
  if (L <= 1) return *one <= hw_.timing.instruction_budget;
  // Every layer executes alike: the step is one layer's program plus L - 1 more layers.
  const std::optional<uint64_t> two = executed(2);
  if (!two) return false;
  const long double total = (long double)(*one) + (long double)(L - 1) * (long double)(*two - *one);
  return total <= (long double)hw_.timing.instruction_budget;
}

uint64_t ModelCompiler::max_prefill_chunk(uint64_t prompt_len) const {
  const uint64_t g = prefill_granule(), forced = opt_.max_prefill_chunk;
  if (forced % g != 0)
    throw InputError(fmt::format("--prefill-chunk: error: {} is not a multiple of {} tokens (the prefill granule of "
                                 "config '{}': BLEN {} and the KV write-back group {})",
                                 forced, g, hw_name_, hw_.geometry.blen, hw_.hbm.v_writeback_amount));
  if ((forced == 0 || forced >= prompt_len) && prefill_fits(prompt_len, prompt_len)) return prompt_len;
  // The largest k * g that fits, k in [1, hi]: VRAM use grows with the chunk.
  uint64_t lo = 0, hi = ceil_div(prompt_len, g);
  if (forced) hi = std::min(hi, forced / g);
  while (lo < hi) {
    const uint64_t mid = (lo + hi + 1) / 2;
    if (prefill_fits(std::min(mid * g, prompt_len), prompt_len)) lo = mid;
    else hi = mid - 1;
  }
  if (lo == 0) {
    // Not even one granule fits: the step's own error names the memory and the allocation. When
    // only the instruction budget is exceeded, one granule it is (the simulator reports the budget).
    // The counting back-end runs the same allocations at a fraction of a real emission's cost: it
    // raises a full memory's error first (a design-space sweep meets many such configs).
    const uint64_t q = std::min(g, prompt_len);
    if (prompt_len <= opt_.max_positions) {  // else compile_step names the positions first
      MemoryPlan plan = base_;
      ProgramBuilder b = ProgramBuilder::counting(hw_, hw_name_);
      b.set_loop_policy(opt_.loops);
      emit_calls(b, plan, std::vector<int64_t>(opt_.batch * q, 0),
                 {opt_.batch, q, prompt_len - q, m_.num_hidden_layers, true}, nullptr);
    }
    compile_step(std::vector<std::vector<int64_t>>(opt_.batch, std::vector<int64_t>(std::min(g, prompt_len), 0)),
                 prompt_len - std::min(g, prompt_len));
    lo = 1;
  }
  return std::min(lo * g, prompt_len);
}

std::vector<PrefillChunk> ModelCompiler::prefill_schedule(uint64_t prompt_len) const {
  if (prompt_len == 0) throw InputError("error: a prompt needs at least one token");
  return split_prefill(prompt_len, max_prefill_chunk(prompt_len), prefill_granule());
}

}  // namespace plena::compiler
