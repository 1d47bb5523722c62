// Parsing of the embedded coefficient tables and the technology-node scaling rule.
#include "ppa/tables.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "support/support.hpp"

namespace plena::ppa::detail {
namespace {

toml::table parse_text(std::string_view text, std::string_view name) {
  try {
    return toml::parse(text, std::string(name));
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}:{}:{}: {}", name, e.source().begin.line, e.source().begin.column,
                                 e.description()));
  }
}

// Every `key = { value = number, unit = "...", source = "..." }` of the file, as "section.key".
void collect(const toml::table& root, std::string_view file, std::map<std::string, Num>& out) {
  for (const auto& [section, node] : root) {
    const toml::table* sec = node.as_table();
    if (!sec) continue;
    for (const auto& [key, entry] : *sec) {
      const std::string path = fmt::format("{}.{}", section.str(), key.str());
      const toml::table* t = entry.as_table();
      const auto v = t ? (*t)["value"].value<double>() : std::nullopt;
      const auto src = t ? (*t)["source"].value<std::string>() : std::nullopt;
      if (!v || !src || src->empty())
        throw InputError(fmt::format("{}: {}: expected {{ value = <number>, unit = \"...\", source = \"...\" }}", file,
                                     path));
      out[path] = Num{*v, (*t)["unit"].value_or(std::string{}), *src};
    }
  }
}

std::vector<double> number_array(const toml::table& root, std::string_view file, std::string_view key) {
  const toml::array* arr = root[key].as_array();
  if (!arr || arr->empty()) throw InputError(fmt::format("{}: {}: expected a non-empty array of numbers", file, key));
  std::vector<double> out;
  for (const auto& x : *arr) {
    const auto v = x.value<double>();
    if (!v) throw InputError(fmt::format("{}: {}: expected numbers only", file, key));
    out.push_back(*v);
  }
  return out;
}

void parse_technology(std::string_view text, Tables& t) {
  constexpr std::string_view file = "data/ppa/technology.toml";
  const toml::table root = parse_text(text, file);
  t.nodes_nm = number_array(root, file, "nodes_nm");
  t.area_from_7nm = number_array(root, file, "area_from_7nm");
  const toml::array* poly = root["energy_poly"].as_array();
  if (!poly) throw InputError(fmt::format("{}: energy_poly: expected an array of [a, b, c] rows", file));
  for (const auto& row : *poly) {
    const toml::array* r = row.as_array();
    if (!r || r->size() != 3) throw InputError(fmt::format("{}: energy_poly: every row must be [a, b, c]", file));
    t.energy_poly.push_back({r->get(0)->value_or(0.0), r->get(1)->value_or(0.0), r->get(2)->value_or(0.0)});
  }
  if (t.area_from_7nm.size() != t.nodes_nm.size() || t.energy_poly.size() != t.nodes_nm.size())
    throw InputError(fmt::format("{}: nodes_nm, area_from_7nm and energy_poly must have one entry per node", file));
  for (size_t i = 1; i < t.nodes_nm.size(); ++i)
    if (!(t.nodes_nm[i] < t.nodes_nm[i - 1]))
      throw InputError(fmt::format("{}: nodes_nm must be strictly decreasing", file));
  t.vdd = root["vdd"]["value"].value_or(0.8);
  t.technology_source = root["source"].value_or(std::string{});
  for (const auto& p : t.energy_poly) t.energy_at_node.push_back(p[0] * t.vdd * t.vdd + p[1] * t.vdd + p[2]);
}

// Log-log interpolation of ys over the decreasing node list.
double interpolate(const Tables& t, const std::vector<double>& ys, double node) {
  const auto& n = t.nodes_nm;
  for (size_t i = 0; i + 1 < n.size(); ++i)
    if (node <= n[i] && node >= n[i + 1]) {
      const double f = std::log(n[i] / node) / std::log(n[i] / n[i + 1]);
      return std::exp(std::log(ys[i]) + f * (std::log(ys[i + 1]) - std::log(ys[i])));
    }
  throw InputError(fmt::format("technology node {} nm is outside the scaling table ({} .. {} nm)", node, n.back(),
                               n.front()));
}

}  // namespace

const Num& Tables::a(std::string_view key) const {
  auto it = area.find(std::string(key));
  if (it == area.end()) throw std::logic_error("data/ppa/area.toml lacks " + std::string(key));
  return it->second;
}

const Num& Tables::e(std::string_view key) const {
  auto it = energy.find(std::string(key));
  if (it == energy.end()) throw std::logic_error("data/ppa/energy.toml lacks " + std::string(key));
  return it->second;
}

Tables parse_tables(std::string_view area_toml, std::string_view energy_toml, std::string_view technology_toml) {
  Tables t;
  collect(parse_text(area_toml, "data/ppa/area.toml"), "data/ppa/area.toml", t.area);
  collect(parse_text(energy_toml, "data/ppa/energy.toml"), "data/ppa/energy.toml", t.energy);
  for (const auto& [key, num] : t.energy)
    if (key.starts_with("dram.") && key != "dram.uncertainty") t.dram_pj_per_bit[key.substr(5)] = num;
  parse_technology(technology_toml, t);
  return t;
}

const Tables& tables() {
  static const Tables t = parse_tables(embedded_area_toml(), embedded_energy_toml(), embedded_technology_toml());
  return t;
}

double area_scale_from_7nm(const Tables& t, double node_nm) { return interpolate(t, t.area_from_7nm, node_nm); }

double energy_scale(const Tables& t, double from_nm, double to_nm) {
  return interpolate(t, t.energy_at_node, to_nm) / interpolate(t, t.energy_at_node, from_nm);
}

double min_node(const Tables& t) { return t.nodes_nm.back(); }
double max_node(const Tables& t) { return t.nodes_nm.front(); }

}  // namespace plena::ppa::detail
