// SVG scatter plots of a front: axes with ticks, every feasible trial in grey, the Pareto points
// in blue joined in order, the baseline as a red square. Plain SVG 1.1, no scripts.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "dse/report.hpp"

namespace plena::dse {
namespace {

constexpr double kW = 640, kH = 480, kLeft = 90, kRight = 20, kTop = 20, kBottom = 60;

// Linear, or logarithmic when every value is positive and they span more than 20x (times and
// areas of a wide sweep would otherwise crowd into one corner).
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double map(double v) const { return log ? std::log10(v) : v; }
  double unmap(double t) const { return log ? std::pow(10.0, t) : t; }
  double pos(double v, double a, double b) const { return a + (map(v) - lo) / (hi - lo) * (b - a); }
};

Axis axis_of(const std::vector<double>& raw) {
  Axis a;
  if (raw.empty()) return a;
  const double mn = *std::min_element(raw.begin(), raw.end()), mx = *std::max_element(raw.begin(), raw.end());
  a.log = mn > 0 && mx / mn > 20;
  a.lo = a.map(mn);
  a.hi = a.map(mx);
  const double pad = a.hi > a.lo ? 0.05 * (a.hi - a.lo) : (a.lo != 0 ? 0.05 * std::fabs(a.lo) : 1);
  a.lo -= pad;
  a.hi += pad;
  return a;
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

std::string ticks(const Axis& x, const Axis& y) {
  std::string s;
  for (int i = 0; i <= 4; ++i) {
    const double vx = x.unmap(x.lo + (x.hi - x.lo) * i / 4), vy = y.unmap(y.lo + (y.hi - y.lo) * i / 4);
    const double px = x.pos(vx, kLeft, kW - kRight), py = y.pos(vy, kH - kBottom, kTop);
    s += fmt::format("<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"#ccc\"/>\n", px, kTop, px, kH - kBottom);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{:.4g}</text>\n", px,
                     kH - kBottom + 16, vx);
    s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ccc\"/>\n", kLeft, py, kW - kRight, py);
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\">{:.4g}</text>\n", kLeft - 4, py + 4, vy);
  }
  return s;
}

}  // namespace

std::string scatter_svg(const std::string& xlabel, const std::string& ylabel,
                        const std::vector<std::pair<double, double>>& all,
                        const std::vector<std::pair<double, double>>& front, const std::pair<double, double>* baseline) {
  std::vector<double> xs, ys;
  for (const auto& [x, y] : all) xs.push_back(x), ys.push_back(y);
  if (baseline) xs.push_back(baseline->first), ys.push_back(baseline->second);
  const Axis ax = axis_of(xs), ay = axis_of(ys);
  auto px = [&](double v) { return ax.pos(v, kLeft, kW - kRight); };
  auto py = [&](double v) { return ay.pos(v, kH - kBottom, kTop); };
  std::string s = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
                              "font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
                              kW, kH);
  s += ticks(ax, ay);
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>\n", kLeft, kTop,
                   kW - kLeft - kRight, kH - kTop - kBottom);
  for (const auto& [x, y] : all)
    s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2\" fill=\"#999\" fill-opacity=\"0.5\"/>\n", px(x), py(y));
  std::vector<std::pair<double, double>> f = front;
  std::sort(f.begin(), f.end());
  std::string line;
  for (const auto& [x, y] : f) line += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
  if (!line.empty()) s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"#1f5fbf\"/>\n", line);
  for (const auto& [x, y] : f)
    s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"#1f5fbf\"/>\n", px(x), py(y));
  if (baseline)
    s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"9\" height=\"9\" fill=\"#d62728\"/>\n"
                     "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" fill=\"#d62728\">baseline</text>\n",
                     px(baseline->first) - 4.5, py(baseline->second) - 4.5, px(baseline->first) + 8, py(baseline->second) - 6);
  s += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\">{}{}</text>\n", (kLeft + kW - kRight) / 2,
                   kH - 18, escape(xlabel), ax.log ? " (log scale)" : "");
  s += fmt::format("<text x=\"16\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">{}{}</text>\n",
                   (kTop + kH - kBottom) / 2, (kTop + kH - kBottom) / 2, escape(ylabel), ay.log ? " (log scale)" : "");
  s += fmt::format("<text x=\"{}\" y=\"14\" font-size=\"11\" fill=\"#1f5fbf\">Pareto front ({} points)</text>\n", kLeft,
                   front.size());
  return s + "</svg>\n";
}

}  // namespace plena::dse
