// The ppa module's coefficient tables: data/ppa/{area,energy,technology}.toml, embedded in the
// binary at build time (embedded_tables.cpp.in) and parsed once. Internal to src/ppa.
#pragma once
#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace plena::ppa::detail {

// One number of a table: its value and where it comes from.
struct Num {
  double v = 0;
  std::string unit, source;
};

struct Tables {
  std::map<std::string, Num> area, energy;  // "section.key" -> number
  std::map<std::string, Num> dram_pj_per_bit;  // dram preset name -> pJ/bit
  std::vector<double> nodes_nm, area_from_7nm;
  std::vector<std::array<double, 3>> energy_poly;
  std::vector<double> energy_at_node;  // the polynomials at vdd
  double vdd = 0.8;
  std::string technology_source;
  const Num& a(std::string_view key) const;  // std::logic_error if absent (a test checks every key)
  const Num& e(std::string_view key) const;
};

// Parsed once from the embedded files; a malformed file is a build defect (tests parse them).
const Tables& tables();
// Parses the three texts (names used in messages); InputError naming file and key on bad input.
Tables parse_tables(std::string_view area_toml, std::string_view energy_toml, std::string_view technology_toml);

// The embedded file texts (generated embedded_tables.cpp).
std::string_view embedded_area_toml();
std::string_view embedded_energy_toml();
std::string_view embedded_technology_toml();

// Area of a 7 nm layout at node_nm (Stillmaker-Baas, log-log between tabulated nodes).
double area_scale_from_7nm(const Tables& t, double node_nm);
// Energy per operation at to_nm relative to from_nm (same supply, the polynomials' Vdd).
double energy_scale(const Tables& t, double from_nm, double to_nm);
double min_node(const Tables& t);
double max_node(const Tables& t);

}  // namespace plena::ppa::detail
