// The evaluation engine: parallel batches, the config-hash memo and the append-only log that
// --resume replays. docs/dse.md "Reproducibility and resume".
#include "dse/engine.hpp"

#include <fmt/format.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/support.hpp"

namespace plena::dse {
namespace {

constexpr double kPenalty = 1e30;  // fitness of a point that is not feasible (dominated by every feasible one)

Status status_of(const std::string& s) {
  for (Status st : {Status::Ok, Status::Pruned, Status::Infeasible, Status::Invalid})
    if (status_name(st) == s) return st;
  throw InputError(fmt::format("error: unknown status '{}'", s));
}

std::string header_json(const Space& s, const Options& o) {
  nlohmann::ordered_json j;
  j["plena_dse_log"] = 1;
  j["space"] = s.text_hash;
  j["seed"] = o.seed;
  return j.dump();
}

}  // namespace

std::string_view status_name(Status s) {
  switch (s) {
    case Status::Ok: return "ok";
    case Status::Pruned: return "pruned";
    case Status::Infeasible: return "infeasible";
    case Status::Invalid: return "invalid";
  }
  return "?";
}

std::string outcome_json(const Point& x, const Outcome& o) {
  nlohmann::ordered_json j;
  j["x"] = x;
  j["hash"] = o.hash;
  j["status"] = status_name(o.status);
  j["why"] = o.why;
  j["by_constraint"] = o.by_constraint;
  j["metrics"] = o.metrics;  // doubles as shortest round-trip text: a resumed run reads the same bits
  return j.dump();
}

Outcome outcome_from_json(const std::string& line, Point& x) {
  const auto j = nlohmann::json::parse(line);
  Outcome o;
  x = j.at("x").get<Point>();
  o.hash = j.at("hash").get<std::string>();
  o.status = status_of(j.at("status").get<std::string>());
  o.why = j.at("why").get<std::string>();
  o.by_constraint = j.at("by_constraint").get<bool>();
  o.metrics = j.at("metrics").get<std::map<std::string, double>>();
  return o;
}

Engine::Engine(const Space& s, const Options& o) : space(s), opts(o), prepared(s) { open_log(); }

Engine::~Engine() {
  if (log_) std::fclose(log_);
}

// A new run writes the header; --resume reads every complete line (a line cut by a kill is
// dropped and the file truncated before it) and appends after them.
void Engine::open_log() {
  const std::filesystem::path path = opts.out / "log.jsonl";
  const std::string header = header_json(space, opts);
  const bool exists = std::filesystem::exists(path);
  if (exists && !opts.resume)
    throw InputError(fmt::format("{}: error: a log of an earlier run exists: pass --resume to continue it, or choose "
                                 "another --out", path.string()));
  if (exists) {
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    std::istringstream lines(text.substr(0, complete));
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      ++n;
      if (n == 1) {
        if (line != header)
          throw InputError(fmt::format("{}:1: error: the log belongs to another space file or seed ({}), expected {}: "
                                       "use the same SPACE.toml and --seed, or another --out",
                                       path.string(), line, header));
        continue;
      }
      try {
        Point x;
        Outcome o = outcome_from_json(line, x);
        logged_.emplace(std::move(x), std::move(o));
      } catch (const std::exception& e) {
        throw InputError(fmt::format("{}:{}: error: not a log record ({})", path.string(), n, e.what()));
      }
    }
    if (opts.rank == 0) {
      std::filesystem::resize_file(path, complete);
    }
    if (n == 0) std::filesystem::remove(path);
  }
  if (opts.rank != 0) return;
  const bool fresh = !std::filesystem::exists(path);
  log_ = std::fopen(path.string().c_str(), "ab");
  if (!log_) throw InputError(fmt::format("{}: error: cannot write the log", path.string()));
  if (fresh) {
    std::fputs((header + "\n").c_str(), log_);
    std::fflush(log_);
  }
}

void Engine::append_log(const Point& x, const Outcome& o) {
  if (log_) std::fputs((outcome_json(x, o) + "\n").c_str(), log_);
}

// This rank's share of `todo` on opts.jobs threads, then every rank's results (MPI exchange).
std::vector<Outcome> Engine::compute(const std::vector<Point>& todo) {
  std::vector<Outcome> out(todo.size());
  std::vector<size_t> mine;
  for (size_t i = 0; i < todo.size(); ++i)
    if (int(i % size_t(opts.ranks)) == opts.rank) mine.push_back(i);
  auto memo = [this](const std::string& h) -> const Outcome* {
    auto it = by_hash_.find(h);  // read-only while the batch runs
    return it == by_hash_.end() ? nullptr : &it->second;
  };
  std::atomic<size_t> next{0};
  std::vector<std::string> errors(mine.size());
  auto work = [&] {
    for (size_t k; (k = next++) < mine.size();) {
      try {
        out[mine[k]] = prepared.evaluate(todo[mine[k]], memo);
      } catch (const std::exception& e) {  // an expression error: reported after the batch
        errors[k] = e.what();
      }
    }
  };
  const unsigned threads = std::max(1u, std::min<unsigned>(opts.jobs, unsigned(mine.size())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (const auto& e : errors)
    if (!e.empty()) throw InputError(e);
  computed += mine.size();
  if (opts.ranks > 1 && opts.exchange) {
    std::vector<std::string> lines;
    for (size_t i : mine) lines.push_back(fmt::format("{} {}", i, outcome_json(todo[i], out[i])));
    for (const std::string& l : opts.exchange(lines)) {
      const size_t sp = l.find(' ');
      Point x;
      const size_t i = std::stoull(l.substr(0, sp));
      out.at(i) = outcome_from_json(l.substr(sp + 1), x);
    }
  }
  return out;
}

std::vector<size_t> Engine::evaluate(const std::vector<Point>& batch) {
  std::vector<Point> todo, fresh;
  std::set<Point> pending;
  for (const Point& p : batch)
    if (!by_point_.count(p) && pending.insert(p).second) todo.push_back(p);
  for (const Point& p : todo)
    if (!logged_.count(p)) fresh.push_back(p);
  std::vector<Outcome> computed_out = compute(fresh);
  size_t next_fresh = 0;
  for (const Point& p : todo) {
    auto lg = logged_.find(p);
    const bool from_log = lg != logged_.end();
    const Outcome o = from_log ? lg->second : computed_out[next_fresh++];
    Trial t;
    t.id = trials.size();
    t.x = p;
    t.hash = o.hash;
    t.status = o.status;
    t.why = o.why;
    t.metrics = o.metrics;
    if (t.status == Status::Ok)
      for (const auto& obj : space.objectives) t.objectives.push_back(t.metrics.at(obj.metric));
    if (t.status != Status::Pruned) ++evaluated;
    if (!o.hash.empty() && (o.status == Status::Ok || o.status == Status::Infeasible)) by_hash_.emplace(o.hash, o);
    if (!from_log) append_log(p, o);
    by_point_[p] = trials.size();
    trials.push_back(std::move(t));
  }
  if (log_) std::fflush(log_);
  std::vector<size_t> idx;
  for (const Point& p : batch) idx.push_back(by_point_.at(p));
  return idx;
}

std::vector<double> Engine::fitness(const Trial& t) const {
  std::vector<double> f;
  for (size_t i = 0; i < space.objectives.size(); ++i)
    f.push_back(t.status != Status::Ok ? kPenalty : space.objectives[i].maximize ? -t.objectives[i] : t.objectives[i]);
  return f;
}

Outcome Engine::evaluate_base() const {
  Outcome o;
  if (space.serving()) return prepared.evaluate_deployment(space.deployment_text);
  try {
    const config::HardwareConfig cfg = config::parse_config_toml(space.base_text, space.base);
    o = prepared.evaluate_config(cfg);
    o.hash = config::canonical_hash(cfg);
  } catch (const InputError& e) {
    o.status = Status::Invalid;
    o.why = first_line(e.what());
  }
  return o;
}

}  // namespace plena::dse
