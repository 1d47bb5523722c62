// The model step plan (layer_plan.hpp): a LLaMA-family decoder layer with the Qwen2 biases, the
// Qwen3 q/k norms and Mistral's sliding window as plan features.
#include "compiler/layer_plan.hpp"

#include <algorithm>
#include <memory>

#include "compiler/compiler.hpp"
#include "compiler/kernels/linear_pass.hpp"
#include "compiler/shard.hpp"
#include "support/math.hpp"

namespace plena::compiler {

ModelDims model_dims(const model::ModelConfig& model, const config::HardwareConfig& cfg, uint32_t tp) {
  const model::ModelConfig m = tensor_shard(model, tp);  // the one split rule (shard.hpp)
  const uint64_t mlen = cfg.geometry.mlen;
  ModelDims d;
  d.heads = uint64_t(m.num_attention_heads);
  d.kv_heads = uint64_t(m.num_key_value_heads);
  d.model_head_dim = uint64_t(m.head_dim);
  d.head_dim = placed_head_dim(cfg, d.model_head_dim);
  d.q_cols = round_up(d.heads * d.head_dim, mlen);
  d.kv_cols = round_up(d.kv_heads * d.head_dim, mlen);
  d.inter = round_up(uint64_t(m.intermediate_size), mlen);
  d.vocab = round_up(uint64_t(m.vocab_size), mlen);
  d.model_hidden = uint64_t(m.hidden_size);
  d.hidden = round_up(d.model_hidden, mlen);
  d.window = uint64_t(std::max<int64_t>(0, m.sliding_window));
  d.attention_bias = m.attention_bias;
  d.qk_norm = m.qk_norm;
  d.o_proj_bias = m.o_proj_bias;
  d.fused_kv = kv_combinable(cfg, d.kv_heads, d.head_dim) && !d.attention_bias && !d.qk_norm;
  d.fused_residual = tp == 1;
  return d;
}

uint64_t step_rows_alloc(const config::HardwareConfig& cfg, uint64_t batch, uint64_t q_len) {
  const uint64_t blen = cfg.geometry.blen, wb = cfg.hbm.v_writeback_amount;
  return round_up(std::max({batch * q_len, attention_rows_alloc(cfg, batch, q_len), (batch - 1) * q_len + round_up(q_len, wb)}),
                  blen);
}

namespace {

// Builds the calls; with a binding, each call also gets its emission into the step's tensors.
class PlanBuilder {
 public:
  PlanBuilder(const ModelDims& m, const config::HardwareConfig& cfg, const StepDims& s, const StepBinding* bind)
      : m_(m), cfg_(cfg), s_(s), bind_(bind), rows_(s.batch * s.q_len), ra_(step_rows_alloc(cfg, s.batch, s.q_len)) {}

  StepPlan build() {
    StepPlan p;
    head(p.head);
    attention_block(p.layer);
    mlp_block(p.layer);
    if (s_.logits) tail(p.tail);
    return p;
  }

 private:
  using Emit = std::function<void(ProgramBuilder&, MemoryPlan&, const std::string&)>;

  KernelShape rows_shape(uint64_t cols) const {
    KernelShape k;
    k.set("rows", rows_).set("rows_alloc", ra_).set("cols", cols);
    return k;
  }
  KernelShape linear_shape(uint64_t rows, uint64_t k, uint64_t n) const {
    KernelShape sh;
    sh.set("rows", rows).set("k", k).set("n", n).set("max_k_tiles", 0);
    return sh;
  }
  // Chained linears (LinearArgs::next_weight / chained) when the MRAM holds two prefetches: the
  // first chunk of the next one streams under the last step of this one.
  bool can_chain() const {
    return cfg_.matrix_tiles() / 2 >= cfg_.hbm.m_prefetch_amount / cfg_.geometry.mlen;
  }
  // A linear with the preceding RMSNorm fused (LinearArgs::norm) over the step's real rows.
  KernelShape normed_shape(KernelShape sh) const { return sh.set("norm", 1).set("norm_rows", rows_); }
  KernelShape chained_shape(KernelShape sh, bool in, uint64_t next_k, uint64_t next_n) const {
    if (!can_chain()) return sh;
    if (in) sh.set("chained", 1);
    if (next_n) sh.set("next_k", next_k).set("next_n", next_n);
    return sh;
  }
  LinearArgs chained(LinearArgs a, bool in, const std::string& next_weight) {
    if (!can_chain()) return a;
    a.chained = in;
    a.next_weight = next_weight;
    a.chain_half = &chain_half_;
    return a;
  }
  void add(std::vector<PlannedCall>& v, std::string kernel, std::string name, KernelShape shape, Emit emit) {
    PlannedCall c{std::move(kernel), std::move(name), std::move(shape), false, {}};
    if (bind_) c.emit = std::move(emit);
    v.push_back(std::move(c));
  }
  void alloc(const std::string& name, uint64_t cols) const { bind_->alloc(name, cols); }
  RmsNormArgs norm_args(std::string name, std::string in, std::string out, std::string weight) const {
    RmsNormArgs a{std::move(name), std::move(in), std::move(out), std::move(weight)};
    a.mean_cols = m_.model_hidden;
    return a;
  }
  void free(const std::string& name) const { bind_->free(name); }

  void head(std::vector<PlannedCall>& v) {
    add(v, "embedding", "embedding", rows_shape(m_.hidden), [this](ProgramBuilder& b, MemoryPlan& plan, const std::string&) {
      emit_embedding(b, plan, {"embedding", "embed_tokens", "x", *bind_->token_ids});
    });
  }

  void projections(std::vector<PlannedCall>& v);
  void projections_kv(std::vector<PlannedCall>& v);
  void rope(std::vector<PlannedCall>& v);
  bool swap_handoff() const;
  bool swap_prefetch() const;
  void attention_block(std::vector<PlannedCall>& v);
  void mlp_block(std::vector<PlannedCall>& v);
  void residual(std::vector<PlannedCall>& v, const std::string& name, const std::string& out);
  void tail(std::vector<PlannedCall>& v);

  ModelDims m_;
  const config::HardwareConfig& cfg_;
  StepDims s_;
  const StepBinding* bind_;
  uint64_t rows_, ra_;
  uint64_t chain_half_ = 0;  // between chained linears: which MRAM buffer holds the next one's first chunk
  uint64_t swap_address_ = 0;  // swap_prefetch: where kv_proj put RoPE's swap tile (MRAM element address)
};

// Norm, the q/k/v projections, their biases and per-head norms, RoPE.
void PlanBuilder::projections(std::vector<PlannedCall>& v) {
  const uint64_t H = m_.hidden, qd = m_.q_cols, kvd = m_.kv_cols;
  const bool fused = m_.fused_kv;
  // attn_norm runs inside q_proj (LinearArgs::norm), under its first column block's multiplies.
  add(v, "linear", "q_proj", normed_shape(chained_shape(linear_shape(ra_, H, qd), false, H, kvd)),
      [this, H, qd, kvd, fused](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
        alloc("h", H);
        alloc("q", qd);
        alloc(fused ? "kv" : "k", kvd);
        if (!fused) alloc("v", kvd);
        const RmsNormArgs norm = norm_args(L + "attn_norm", "x", "h", L + "attn_norm");
        LinearArgs a = chained({L + "q_proj", L + "q_proj", "h", "q"}, false, L + (fused ? "kv_proj" : "k_proj"));
        a.norm = &norm;
        emit_linear(b, plan, a);
      });
  if (fused) {
    // With swap_prefetch, kv_proj's last step also loads RoPE's swap tile into its free buffer.
    const bool pre = swap_prefetch();
    add(v, "linear", "kv_proj", chained_shape(linear_shape(ra_, H, kvd), true, pre ? rope_swap_rows(cfg_) : 0,
                                              pre ? cfg_.geometry.mlen : 0),
        [this, pre](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
          LinearArgs a = chained({L + "kv_proj", L + "kv_proj", "h", "kv"}, true, pre ? bind_->rope->swap : "");
          a.handoff_address = &swap_address_;
          emit_linear(b, plan, a);
          free("h");
        });
  } else {
    projections_kv(v);
  }
  rope(v);
}

// Separate K and V projections with their Qwen2 biases and Qwen3 q/k norms.
void PlanBuilder::projections_kv(std::vector<PlannedCall>& v) {
  const uint64_t H = m_.hidden, qd = m_.q_cols, kvd = m_.kv_cols, hd = m_.head_dim;
  add(v, "linear", "k_proj", chained_shape(linear_shape(ra_, H, kvd), true, H, kvd),
      [this](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
        emit_linear(b, plan, chained({L + "k_proj", L + "k_proj", "h", "k"}, true, L + "v_proj"));
      });
  add(v, "linear", "v_proj", chained_shape(linear_shape(ra_, H, kvd), true, 0, 0),
      [this](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
        emit_linear(b, plan, chained({L + "v_proj", L + "v_proj", "h", "v"}, true, ""));
        free("h");
      });
  if (m_.attention_bias)  // Qwen2: q, k, v biases
    for (const char* t : {"q", "k", "v"})
      add(v, "bias_add", std::string(t) + "_bias", rows_shape(*t == 'q' ? qd : kvd),
          [t](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
            const std::string n = L + t + "_bias";
            emit_bias_add(b, plan, {n, t, t, n});
          });
  if (m_.qk_norm)  // Qwen3: per-head RMSNorm of q and k before RoPE
    for (const char* t : {"q", "k"})
      add(v, "head_rmsnorm", std::string(t) + "_norm", rows_shape(*t == 'q' ? qd : kvd).set("head_dim", hd),
          [this, t, hd](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
            const std::string n = L + t + "_norm";
            emit_head_rmsnorm(b, plan, {n, t, t, n, hd, m_.model_head_dim});
          });
}

// RoPE of q and k; with the fused K|V projection only the K columns of "kv" rotate.
void PlanBuilder::rope(std::vector<PlannedCall>& v) {
  const uint64_t qd = m_.q_cols, kvd = m_.kv_cols, hd = m_.head_dim;
  const bool fused = m_.fused_kv;
  const uint64_t k_cols = m_.kv_heads * hd;
  // rope_q leaves the swap tile (head_dim <= VLEN) in MRAM for rope_k: one prefetch per layer.
  const bool shared_swap = hd <= cfg_.geometry.vlen;
  const bool handoff = swap_handoff(), pre = swap_prefetch();
  for (const char* t : {"q", "k"}) {
    const bool second = *t == 'k';
    KernelShape sh = rows_shape(second ? kvd : qd).set("head_dim", hd);
    if ((second && shared_swap) || pre) sh.set("swap_loaded", 1);
    if (second && fused) sh.set("rotate_cols", k_cols);
    if (!second && handoff) sh.set("swapped_output", 1);
    add(v, "rope", std::string("rope_") + t, sh,
        [this, t, hd, second, shared_swap, fused, k_cols, handoff, pre](ProgramBuilder& b, MemoryPlan& plan,
                                                                         const std::string& L) {
          const char* x = second && fused ? "kv" : t;
          RopeArgs a{L + "rope_" + t, x, x, hd, *bind_->rope};
          a.keep_swap = (!second && shared_swap) || handoff;
          a.swap_loaded = (second && shared_swap) || pre;
          if (pre) {  // the tile is in kv_proj's chain buffers; rope_k frees them
            a.tile_block = kChainMram;
            a.tile_address = swap_address_;
          }
          if (second && fused) a.rotate_cols = k_cols;
          a.swapped_output = !second && handoff;
          emit_rope(b, plan, a);
        });
  }
}

// RoPE's swap tile is prefetched by the fused K|V projection during its last step, into the chain
// buffer it leaves free (LinearArgs::next_weight), so rope_q multiplies at once. Not with the decode
// hand-off (attention reads the tile by its own name) or where one prefetch is not whole tiles.
bool PlanBuilder::swap_prefetch() const {
  const uint64_t hd = m_.head_dim, mlen = cfg_.geometry.mlen;
  return m_.fused_kv && hd <= cfg_.geometry.vlen && can_chain() && !swap_handoff() &&
         rope_swap_rows(cfg_) % mlen == 0;
}

// Decode with combined K|V rows and head_dim < MLEN: rope_q writes Q with each head's halves
// swapped, and the swap tile stays in MRAM through rope_k for attention's Q copy (which undoes the
// swap), so the identity tile is never read. Prefill keeps the identity copy.
bool PlanBuilder::swap_handoff() const {
  const uint64_t hd = m_.head_dim;
  return s_.q_len == 1 && hd <= cfg_.geometry.vlen && hd < cfg_.geometry.mlen &&
         kv_combinable(cfg_, m_.kv_heads, hd);
}

// Projections, the KV store, attention, the output projection and the residual.
void PlanBuilder::attention_block(std::vector<PlannedCall>& v) {
  const uint64_t H = m_.hidden, qd = m_.q_cols;
  projections(v);
  const uint64_t kv_len = s_.past + s_.q_len;
  // Combined K|V cache rows where K and V fit one MLEN row: one store, one tile read per tile.
  const bool combined = kv_combinable(cfg_, m_.kv_heads, m_.head_dim);
  const bool fused = m_.fused_kv;
  for (const char* t : {"k", "v"}) {
    if (combined && *t == 'k') continue;
    KernelShape kv;
    kv.set("batch", s_.batch).set("q_len", s_.q_len).set("past", s_.past).set("kv_heads", m_.kv_heads);
    kv.set("head_dim", m_.head_dim).set("capacity", s_.capacity).set("rows_alloc", ra_);
    if (combined) kv.set("kv_combined", 1);
    if (fused) kv.set("kv_merged", 1);
    add(v, "kv_store", combined ? "kv_store" : std::string(t) + "_store", kv,
        [this, t, combined, fused](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
          // fused: "kv" already holds the K|V rows; otherwise V's tensor is merged with K's.
          emit_kv_store(b, plan, {"kv_store", fused ? "kv" : t, L + (combined ? "k" : t) + "_cache", *bind_->kv, s_.batch,
                                  s_.q_len, s_.past, combined && !fused ? "k" : ""});
          if (fused) {
            free("kv");
          } else if (*t == 'v') {
            free("k");
            free("v");
          }
        });
  }
  const uint64_t heads_cols = m_.heads * m_.head_dim;
  if (qd > heads_cols)  // the output's MLEN padding past the last head, which attention leaves as it was
    add(v, "zero_columns", "attn_padding", rows_shape(qd).set("first_col", heads_cols),
        [this, qd, heads_cols](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
          alloc("attn", qd);
          emit_zero_columns(b, plan, {L + "attn_padding", "attn", heads_cols});
        });
  KernelShape at;
  at.set("batch", s_.batch).set("q_len", s_.q_len).set("kv_len", kv_len).set("heads", m_.heads);
  at.set("kv_heads", m_.kv_heads).set("head_dim", m_.head_dim).set("window", m_.window);
  at.set("capacity", s_.capacity).set("rows_alloc", ra_).set("stats_vram", attention_stats_vram_budget(cfg_));
  if (combined) at.set("kv_combined", 1);
  const bool handoff = swap_handoff();
  if (handoff) at.set("copy_tile", 1);
  add(v, "attention", "attention", at, [this, qd, heads_cols, kv_len, combined, handoff](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
    if (qd == heads_cols) alloc("attn", qd);
    AttentionArgs a{.name = L + "attention",
                          .q = "q",
                          .out = "attn",
                          .k_cache = L + "k_cache",
                          .v_cache = L + (combined ? "k_cache" : "v_cache"),
                          .identity = bind_->identity,
                          .batch = s_.batch,
                          .q_len = s_.q_len,
                          .kv_len = kv_len,
                          .capacity = bind_->kv->capacity,
                          .num_heads = m_.heads,
                          .num_kv_heads = m_.kv_heads,
                          .head_dim = m_.head_dim,
                          .causal = true,
                          .sliding_window = m_.window,
                          .scale_head_dim = m_.model_head_dim,
                          .stats_vram_rows = attention_stats_vram_budget(cfg_),
                          .kv_combined = combined};
    if (handoff) a.copy_tile = bind_->rope->swap + ".tile";
    if (bind_->at_attention) bind_->at_attention(plan);
    emit_flash_attention(b, plan, a);
    free("q");
  });
  // The residual add runs inside o_proj unless the bias comes between them.
  const bool fuse = m_.fused_residual && !m_.o_proj_bias;
  KernelShape osh = linear_shape(ra_, qd, H);
  if (fuse) osh.set("residual", 1);
  add(v, "linear", "o_proj", osh, [this, H, fuse](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
    alloc("o", H);
    emit_linear(b, plan, {.name = L + "o_proj", .weight = L + "o_proj", .input = "attn", .output = "o",
                          .residual = fuse ? "x" : ""});
    free("attn");
    if (fuse) free("o");
  });
  if (m_.o_proj_bias)
    add(v, "bias_add", "o_bias", rows_shape(H), [](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
      emit_bias_add(b, plan, {L + "o_bias", "o", "o", L + "o_bias"});
    });
  v.back().all_reduce_after = true;
  if (!fuse) residual(v, "attn_residual", "o");
}

void PlanBuilder::residual(std::vector<PlannedCall>& v, const std::string& name, const std::string& out) {
  add(v, "residual_add", name, rows_shape(m_.hidden), [this, name, out](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
    emit_residual_add(b, plan, {L + name, "x", out, "x"});
    free(out);
  });
}

// Norm, gate and up projections, SwiGLU, the down projection and the residual.
void PlanBuilder::mlp_block(std::vector<PlannedCall>& v) {
  const uint64_t H = m_.hidden, I = m_.inter;
  // gate -> up -> (SwiGLU, no MRAM) -> down run chained; mlp_norm runs inside gate_proj.
  add(v, "linear", "gate_proj", normed_shape(chained_shape(linear_shape(ra_, H, I), false, H, I)),
      [this, H, I](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
        alloc("h", H);
        alloc("gate", I);
        alloc("up", I);
        const RmsNormArgs norm = norm_args(L + "mlp_norm", "x", "h", L + "mlp_norm");
        LinearArgs a = chained({L + "gate_proj", L + "gate_proj", "h", "gate"}, false, L + "up_proj");
        a.norm = &norm;
        emit_linear(b, plan, a);
      });
  // SwiGLU runs inside up_proj, each finished column block under the next one's multiplies.
  add(v, "linear", "up_proj", chained_shape(linear_shape(ra_, H, I), true, I, H).set("swiglu", 1),
      [this](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
        LinearArgs a = chained({L + "up_proj", L + "up_proj", "h", "up"}, true, L + "down_proj");
        a.swiglu_gate = "gate";
        emit_linear(b, plan, a);
        free("h");
        free("up");
      });
  const bool fuse = m_.fused_residual;
  KernelShape dsh = chained_shape(linear_shape(ra_, I, H), true, 0, 0);
  if (fuse) dsh.set("residual", 1);
  add(v, "linear", "down_proj", dsh, [this, H, fuse](ProgramBuilder& b, MemoryPlan& plan, const std::string& L) {
    alloc("down", H);
    emit_linear(b, plan, chained({.name = L + "down_proj", .weight = L + "down_proj", .input = "gate", .output = "down",
                                  .residual = fuse ? "x" : ""}, true, ""));
    free("gate");
    if (fuse) free("down");
  });
  v.back().all_reduce_after = true;
  if (!fuse) residual(v, "mlp_residual", "down");
}

// The last position of each sequence (prefill gathers those rows first), the final norm, the LM head.
void PlanBuilder::tail(std::vector<PlannedCall>& v) {
  const uint64_t H = m_.hidden, blen = cfg_.geometry.blen, B = s_.batch;
  const bool gather = s_.q_len > 1;
  const uint64_t lm_rows = gather ? round_up(B, blen) : ra_;
  const std::string final_in = gather ? "final" : "x";
  if (gather) {
    KernelShape g;
    g.set("batch", B).set("q_len", s_.q_len).set("cols", H);
    add(v, "gather_last", "gather_last", g, [this, B, H, blen](ProgramBuilder& b, MemoryPlan& plan, const std::string&) {
      VramPlaceOptions fin;
      fin.row_multiple = blen;
      plan.alloc_vram("final", B, H, fin);
      emit_gather_last(b, plan, {"gather_last", "x", "final", B, s_.q_len});
    });
  }
  KernelShape n;
  n.set("rows", B).set("rows_alloc", lm_rows).set("cols", H);
  add(v, "rmsnorm", "final_norm", n, [this, final_in](ProgramBuilder& b, MemoryPlan& plan, const std::string&) {
    emit_rmsnorm(b, plan, norm_args("final_norm", final_in, final_in, "final_norm"));
  });
  add(v, "linear", "lm_head", linear_shape(lm_rows, H, m_.vocab),
      [this, B, final_in](ProgramBuilder& b, MemoryPlan& plan, const std::string&) {
        VramPlaceOptions lo;
        lo.row_multiple = plan.vram(final_in).rows_alloc;
        plan.alloc_vram("logits", B, m_.vocab, lo);
        emit_linear(b, plan, {"lm_head", "lm_head", final_in, "logits"});
      });
}

}  // namespace

StepPlan step_plan(const ModelDims& m, const config::HardwareConfig& cfg, const StepDims& s, const StepBinding* bind) {
  // The bound calls refer to the builder's copy of the dimensions: the plan keeps it alive.
  auto builder = std::make_shared<PlanBuilder>(m, cfg, s, bind);
  StepPlan plan = builder->build();
  plan.owner = builder;
  return plan;
}

}  // namespace plena::compiler
