// Area and leakage rules (docs/ppa.md §Area): structural matrix model with per-PE and per-bit
// coefficients fitted to the PLENA DC synthesis points, per-lane vector/scalar/DMA/glue fits,
// ASAP7 macro SRAM, LLMCompass PHY/controller/link constants, Stillmaker-Baas node scaling.
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "dram/dram.hpp"
#include "ppa/model.hpp"
#include "support/support.hpp"

namespace plena::ppa {
namespace detail {
namespace {

Operand operand_of(const numerics::Format& f) {
  return f.is_int ? Operand{true, f.width, 0, 0} : Operand{false, f.width, f.ebits, f.mbits};
}

// Partial-sum width the reduce tree and output cells carry.
double partial_sum_bits(const Operand& T, const Operand& L) {
  if (T.is_int && L.is_int) return T.width + L.width;
  return (T.is_int ? T.width : T.mbits) + (L.is_int ? L.width : L.mbits);
}

struct MatrixTerms {
  double pe_um2 = 0, w = 0, pes = 0, slices = 0, reduce_nodes = 0, out_cells = 0, dc_um2 = 0;
};

MatrixTerms matrix_terms(const Tables& t, const config::HardwareConfig& cfg) {
  const Operand T = weight_side(cfg), L = activation_side(cfg);
  const double M = cfg.geometry.mlen, B = cfg.geometry.blen, S = M / B;
  MatrixTerms m;
  m.pe_um2 = pe_um2(t, T, L);
  m.w = partial_sum_bits(T, L);
  m.pes = M * B;
  m.slices = S;
  m.reduce_nodes = B * B * (S - 1);
  m.out_cells = B * B;
  m.dc_um2 = m.pe_um2 * m.pes + t.a("matrix.slice").v * m.slices +
             (t.a("matrix.reduce_node_base").v + t.a("matrix.reduce_node_per_bit").v * m.w) * m.reduce_nodes +
             (t.a("matrix.output_cell_base").v + t.a("matrix.output_cell_per_bit").v * m.w) * m.out_cells;
  return m;
}

// um2 per bit of a single-port memory of `bits`: the ASAP7 macro curve (log-log between the
// smallest and largest macro; larger memories tile the largest one).
double sram_um2_per_bit(const Tables& t, double bits) {
  const double b0 = t.a("sram.small_macro_bits").v, b1 = t.a("sram.large_macro_bits").v;
  const double a0 = t.a("sram.small_macro_um2_per_bit").v, a1 = t.a("sram.large_macro_um2_per_bit").v;
  const double b = std::clamp(bits, b0, b1);
  return std::exp(std::log(a0) + std::log(b / b0) / std::log(b1 / b0) * (std::log(a1) - std::log(a0)));
}


}  // namespace

double pe_um2(const Tables& t, const Operand& T, const Operand& L) {
  const double tw = T.width, lw = L.width;
  if (T.is_int && L.is_int)
    return t.a("matrix.pe_int_base").v + t.a("matrix.pe_int_per_product_bit").v * tw * lw +
           t.a("matrix.pe_int_per_operand_bit").v * (tw + lw);
  return t.a("matrix.pe_fp_base").v + t.a("matrix.pe_fp_per_operand_bit").v * (tw + lw);
}

Operand weight_side(const config::HardwareConfig& cfg) {
  const auto& w = cfg.formats.m_weight;
  const auto& kv = cfg.formats.m_kv;
  // The array multiplies both; the wider (a float on a tie) sets the multiplier.
  if (kv.width > w.width || (kv.width == w.width && w.is_int && !kv.is_int)) return operand_of(kv);
  return operand_of(w);
}

Operand activation_side(const config::HardwareConfig& cfg) { return operand_of(cfg.formats.v_act); }

std::string operand_name(const Operand& o) {
  return o.is_int ? fmt::format("int{}", o.width) : fmt::format("e{}m{}", o.ebits, o.mbits);
}

std::vector<Memory> memories(const config::HardwareConfig& cfg, const Tables& t) {
  const auto& g = cfg.geometry;
  const auto& s = cfg.sram;
  const double ib = t.a("sram.instruction_bits").v, intb = t.a("sram.int_sram_bits").v;
  return {
      {"vram", double(s.vector_depth) * g.vlen * s.vector_type.width, t.a("sram.vram_ports").v,
       double(g.vlen) * s.vector_type.width},
      {"mram", double(s.matrix_depth) * g.mlen * s.matrix_type.width, t.a("sram.mram_ports").v,
       double(g.mlen) * s.matrix_type.width},
      {"fp_sram", double(s.fp_depth) * s.fp_type.width, t.a("sram.fp_sram_ports").v, double(s.fp_type.width)},
      {"int_sram", double(s.int_depth) * intb, t.a("sram.int_sram_ports").v, intb},
      {"imem", t.a("sram.instruction_memory_bytes").v * 8.0, t.a("sram.imem_ports").v, ib},
  };
}

namespace {

DramInterface interface_of(const dram::Params& p) {
  DramInterface d;
  d.channels = p.channels;
  d.pseudo_channels = p.pseudo_channels;
  d.bus_width_bits = p.bus_width_bits;
  if (p.kind == dram::Kind::Ideal) {
    d.phy_class = "none";
    return d;
  }
  d.pins = double(p.units()) * p.bus_width_bits;
  d.phy_class = p.name.starts_with("hb") ? "hbm" : "ddr";
  return d;
}

}  // namespace

std::vector<DramInterface> dram_interfaces(const config::HardwareConfig& cfg) {
  // Every preset once (sweeps call this per point, from several threads).
  static const std::map<std::string, DramInterface> by_name = [] {
    std::map<std::string, DramInterface> m;
    for (const auto& name : dram::preset_names()) m[name] = interface_of(dram::preset(name));
    return m;
  }();
  std::vector<DramInterface> v;
  for (size_t i = 0; i < cfg.memory.size(); ++i) {
    v.push_back(interface_of(config::pool_params(cfg, i)));
    v.back().pool = cfg.memory[i].name;
  }
  if (!v.empty()) return v;
  auto it = by_name.find(cfg.hbm.dram);
  return {it != by_name.end() ? it->second : interface_of(dram::preset(cfg.hbm.dram))};
}

double logic_leakage_w_per_mm2(const Tables& t, double node_nm) {
  const double uw = t.e("leakage.adder_32b_uw").v + t.e("leakage.mult_32b_uw").v;
  const double um2 = t.e("leakage.adder_32b_um2").v + t.e("leakage.mult_32b_um2").v;
  const double at_ref = uw / um2;  // uW per um2 = W per mm2
  const double ref = t.e("leakage.node_nm").v;
  // Per device leakage follows energy per operation; devices per mm2 follow area.
  return at_ref * energy_scale(t, ref, node_nm) * area_scale_from_7nm(t, ref) / area_scale_from_7nm(t, node_nm);
}

namespace {

// What the three groups below share: tables, config, report sink, node factors.
struct AreaCtx {
  const Tables& t;
  const config::HardwareConfig& cfg;
  std::vector<Component>* out;  // report rows, null on the fast path
  double s7;    // area of a 7 nm layout at the node
  double dc;    // DC um2 -> mm2 at the node
  double leak;  // logic leakage, W per mm2
  void add(std::string name, const char* group, double mm2, double leak_w, double unc, std::string formula,
           std::string source) const {
    out->push_back({std::move(name), group, mm2, leak_w, unc, std::move(formula), std::move(source)});
  }
};

void logic_rows(const AreaCtx& c, const AreaSummary& r, const MatrixTerms& mt, double vector_dc, double scalar_dc,
                double dma_dc, double modules, double glue_dc) {
  const Tables& t = c.t;
  const double M = c.cfg.geometry.mlen, V = c.cfg.geometry.vlen;
  const Operand T = weight_side(c.cfg), L = activation_side(c.cfg);
  c.add("matrix", "logic", r.matrix_mm2, r.matrix_mm2 * c.leak, t.a("matrix.uncertainty").v,
        fmt::format("{} x {} PEs: ({:.0f} PEs x {:.1f} + {:.0f} slices x {:.2f} + {:.0f} reduce nodes x ({:.2f} + {:.3f} x "
                    "{:.0f} b) + {:.0f} output cells x ({:.1f} + {:.1f} x {:.0f} b)) = {:.0f} um2 DC",
                    operand_name(T), operand_name(L), mt.pes, mt.pe_um2, mt.slices, t.a("matrix.slice").v,
                    mt.reduce_nodes, t.a("matrix.reduce_node_base").v, t.a("matrix.reduce_node_per_bit").v, mt.w,
                    mt.out_cells, t.a("matrix.output_cell_base").v, t.a("matrix.output_cell_per_bit").v, mt.w, mt.dc_um2),
        t.a(T.is_int && L.is_int ? "matrix.pe_int_base" : "matrix.pe_fp_base").source + "; periphery: " +
            t.a("matrix.slice").source);
  c.add("vector", "logic", r.vector_mm2, r.vector_mm2 * c.leak, t.a("vector.uncertainty").v,
        fmt::format("{:.0f} + {:.1f} x {} lanes x {}/16 b = {:.0f} um2 DC", t.a("vector.base").v,
                    t.a("vector.per_lane").v, V, c.cfg.sram.vector_type.width, vector_dc),
        t.a("vector.base").source + "; " + t.a("vector.per_lane").source);
  c.add("scalar", "logic", r.scalar_mm2, r.scalar_mm2 * c.leak, t.a("scalar.uncertainty").v,
        fmt::format("{:.0f} + {:.2f} x MLEN {} = {:.0f} um2 DC", t.a("scalar.base").v, t.a("scalar.per_lane").v, M,
                    scalar_dc),
        t.a("scalar.base").source + "; " + t.a("scalar.per_lane").source);
  c.add("dma", "logic", r.dma_mm2, r.dma_mm2 * c.leak, t.a("hbm_system.uncertainty").v,
        fmt::format("DMA + MX converters: {:.0f} + {:.1f} x MLEN {} = {:.0f} um2 DC", t.a("hbm_system.base").v,
                    t.a("hbm_system.per_lane").v, M, dma_dc),
        t.a("hbm_system.base").source + "; " + t.a("hbm_system.per_lane").source);
  c.add("glue", "logic", r.glue_mm2, r.glue_mm2 * c.leak, t.a("glue.uncertainty").v,
        fmt::format("{:.1f} x MLEN {} + {:.4f} x {:.0f} um2 module logic = {:.0f} um2 DC", t.a("glue.per_lane").v, M,
                    t.a("glue.fraction_of_logic").v, modules, glue_dc),
        t.a("glue.per_lane").source);
}

void add_logic(const AreaCtx& c, AreaSummary& r) {
  const Tables& t = c.t;
  const double M = c.cfg.geometry.mlen, V = c.cfg.geometry.vlen;
  const MatrixTerms mt = matrix_terms(t, c.cfg);
  const double vector_dc = t.a("vector.base").v + t.a("vector.per_lane").v * V * c.cfg.sram.vector_type.width / 16.0;
  const double scalar_dc = t.a("scalar.base").v + t.a("scalar.per_lane").v * M;
  const double dma_dc = t.a("hbm_system.base").v + t.a("hbm_system.per_lane").v * M;
  const double modules = mt.dc_um2 + vector_dc + scalar_dc + dma_dc;
  const double glue_dc = t.a("glue.per_lane").v * M + t.a("glue.fraction_of_logic").v * modules;
  r.matrix_mm2 = mt.dc_um2 * c.dc;
  r.vector_mm2 = vector_dc * c.dc;
  r.scalar_mm2 = scalar_dc * c.dc;
  r.dma_mm2 = dma_dc * c.dc;
  r.glue_mm2 = glue_dc * c.dc;
  r.leakage_w += r.logic_mm2() * c.leak;
  if (c.out) logic_rows(c, r, mt, vector_dc, scalar_dc, dma_dc, modules, glue_dc);
}

void add_srams(const AreaCtx& c, AreaSummary& r) {
  const Tables& t = c.t;
  const double sram_leak = c.leak * t.e("leakage.sram_fraction_of_logic").v;
  for (const Memory& m : memories(c.cfg, t)) {
    const double per_bit = sram_um2_per_bit(t, m.bits);
    const double mm2 = m.bits * per_bit * m.ports * 1e-6 * c.s7;
    r.sram_mm2 += mm2;
    r.leakage_w += mm2 * sram_leak;
    if (c.out)
      c.add(m.name, "sram", mm2, mm2 * sram_leak, t.a("sram.uncertainty").v,
            fmt::format("{:.0f} bit ({:.3f} MiB) x {:.4f} um2/bit x {:.0f} port(s)", m.bits, m.bits / 8.0 / 1048576.0,
                        per_bit, m.ports),
            t.a("sram.large_macro_um2_per_bit").source + "; ports: " +
                t.a(std::string("sram.") + m.name + "_ports").source);
  }
}

void add_dram_io(const AreaCtx& c, AreaSummary& r, const DramInterface& d, bool name_pool) {
  const Tables& t = c.t;
  if (d.phy_class == "none") return;
  const std::string phy_key = "dram_io." + d.phy_class + "_phy_mm2_per_pin";
  const std::string ctrl_key = "dram_io." + d.phy_class + "_ctrl_mtr_per_pin";
  const double density = t.a("dram_io.mtr_per_mm2_7nm").v;
  const double phy = d.pins * t.a(phy_key).v;  // PHYs do not scale with the node
  const double ctrl = d.pins * t.a(ctrl_key).v / density * c.s7;
  r.dram_io_mm2 += phy + ctrl;
  r.leakage_w += ctrl * c.leak;
  if (!c.out) return;
  const std::string suffix = name_pool ? " (" + d.pool + ")" : "";
  const std::string chan = fmt::format("{} channels x {} pseudo-channels x {} bit = {:.0f} pins ({} class)",
                                       d.channels, d.pseudo_channels, d.bus_width_bits, d.pins, d.phy_class);
  c.add("dram_phy" + suffix, "io", phy, 0, t.a("dram_io.uncertainty").v,
        fmt::format("{} x {:.4f} mm2/pin ({:.3f} mm2 per channel; node-independent)", chan, t.a(phy_key).v,
                    phy / d.channels),
        t.a(phy_key).source);
  c.add("dram_ctrl" + suffix, "io", ctrl, ctrl * c.leak, t.a("dram_io.uncertainty").v,
        fmt::format("{} x {:.4f} MTr/pin / {} MTr/mm2 ({:.3f} mm2 per channel)", chan, t.a(ctrl_key).v, density,
                    ctrl / d.channels),
        t.a(ctrl_key).source);
}

void add_link(const AreaCtx& c, AreaSummary& r) {
  const Tables& t = c.t;
  const double lanes = t.a("link.lanes").v;
  const double ctrl = lanes * t.a("link.ctrl_mtr_per_lane").v / t.a("dram_io.mtr_per_mm2_7nm").v * c.s7;
  r.link_mm2 = lanes * t.a("link.phy_mm2_per_lane").v + ctrl;
  r.leakage_w += ctrl * c.leak;
  if (c.out)
    c.add("link", "io", r.link_mm2, ctrl * c.leak, t.a("link.uncertainty").v,
          fmt::format("{:.0f} lanes x ({:.2f} mm2 PHY + {:.2f} MTr controller)", lanes, t.a("link.phy_mm2_per_lane").v,
                      t.a("link.ctrl_mtr_per_lane").v),
          t.a("link.phy_mm2_per_lane").source + "; " + t.a("link.lanes").source);
}

}  // namespace

AreaSummary compute_area(const config::HardwareConfig& cfg, const Options& opt, std::vector<Component>* out) {
  const Tables& t = tables();
  check_options(opt, "node");
  const double s7 = area_scale_from_7nm(t, opt.node_nm);
  const AreaCtx c{t, cfg, out, s7, t.a("reference.dc_to_7nm").v * s7 * 1e-6, logic_leakage_w_per_mm2(t, opt.node_nm)};
  AreaSummary r;
  add_logic(c, r);
  add_srams(c, r);
  const auto interfaces = dram_interfaces(c.cfg);
  for (const DramInterface& d : interfaces) add_dram_io(c, r, d, interfaces.size() > 1);
  add_link(c, r);
  return r;
}

}  // namespace detail

void check_options(const Options& opt, const std::string& what) {
  const detail::Tables& t = detail::tables();
  if (!(opt.node_nm >= detail::min_node(t) && opt.node_nm <= detail::max_node(t)))
    throw InputError(fmt::format("{}: technology node {} nm is outside the supported range {} .. {} nm (the "
                                 "Stillmaker-Baas scaling table, data/ppa/technology.toml)",
                                 what, opt.node_nm, detail::min_node(t), detail::max_node(t)));
}

AreaSummary area(const config::HardwareConfig& cfg, const Options& opt) {
  return detail::compute_area(cfg, opt, nullptr);
}

}  // namespace plena::ppa
