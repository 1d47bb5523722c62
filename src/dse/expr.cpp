// The space file's expression language: a small recursive-descent parser over numbers, 'strings',
// names, arithmetic, chained comparisons and boolean operators (docs/dse.md "Expressions").
#include <fmt/format.h>

#include <cctype>
#include <cmath>

#include "dse/dse.hpp"
#include "support/support.hpp"

namespace plena::dse {

std::string Value::text() const {
  if (is_string) return str;
  if (std::floor(num) == num && std::fabs(num) < 9.0e15) return fmt::format("{}", int64_t(num));
  return fmt::format("{}", num);
}

struct Expr::Node {
  enum Kind { Num, Str, Name, Unary, Binary, Compare, Call } kind = Num;
  Value value;                // Num, Str
  std::string name;           // Name, Call; Unary/Binary: the operator
  std::vector<std::string> ops;  // Compare: the chain's operators
  std::vector<std::shared_ptr<const Node>> args;
};

namespace {

using NodeP = std::shared_ptr<const Expr::Node>;

class Parser {
 public:
  Parser(const std::string& text, const std::string& file, int line) : t_(text), file_(file), line_(line) {}

  NodeP parse() {
    NodeP n = parse_or();
    skip();
    if (i_ < t_.size()) fail(fmt::format("unexpected '{}'", t_.substr(i_, 8)));
    return n;
  }

 private:
  const std::string& t_;
  const std::string& file_;
  int line_;
  size_t i_ = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(fmt::format("{}:{}: error: expression '{}' at column {}: {} (expected numbers, names, 'strings', "
                                 "+ - * / %, == != < <= > >=, and/or/not, min/max/log2/abs)",
                                 file_, line_, t_, i_ + 1, what));
  }
  void skip() {
    while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_]))) ++i_;
  }
  bool eat(std::string_view tok) {
    skip();
    if (t_.compare(i_, tok.size(), tok) != 0) return false;
    // A word operator must not be a prefix of a name.
    if (std::isalpha(static_cast<unsigned char>(tok[0])) && i_ + tok.size() < t_.size() &&
        (std::isalnum(static_cast<unsigned char>(t_[i_ + tok.size()])) || t_[i_ + tok.size()] == '_'))
      return false;
    i_ += tok.size();
    return true;
  }
  static NodeP make(Expr::Node n) { return std::make_shared<const Expr::Node>(std::move(n)); }
  static NodeP binary(std::string op, NodeP a, NodeP b) {
    Expr::Node n;
    n.kind = Expr::Node::Binary;
    n.name = std::move(op);
    n.args = {std::move(a), std::move(b)};
    return make(std::move(n));
  }

  NodeP parse_or() {
    NodeP a = parse_and();
    while (eat("||") || eat("or")) a = binary("or", a, parse_and());
    return a;
  }
  NodeP parse_and() {
    NodeP a = parse_not();
    while (eat("&&") || eat("and")) a = binary("and", a, parse_not());
    return a;
  }
  NodeP parse_not() {
    if (eat("not") || (peek_bang() && eat("!"))) {
      Expr::Node n;
      n.kind = Expr::Node::Unary;
      n.name = "not";
      n.args = {parse_not()};
      return make(std::move(n));
    }
    return parse_compare();
  }
  bool peek_bang() {
    skip();
    return i_ + 1 < t_.size() ? (t_[i_] == '!' && t_[i_ + 1] != '=') : (i_ < t_.size() && t_[i_] == '!');
  }
  NodeP parse_compare() {
    NodeP first = parse_sum();
    Expr::Node n;
    n.kind = Expr::Node::Compare;
    n.args.push_back(first);
    for (;;) {
      std::string op;
      for (std::string_view o : {"==", "!=", "<=", ">=", "<", ">"})
        if (eat(o)) {
          op = o;
          break;
        }
      if (op.empty()) {
        skip();
        if (i_ < t_.size() && t_[i_] == '=') fail("'=' is not a comparison: write '=='");
        break;
      }
      n.ops.push_back(op);
      n.args.push_back(parse_sum());
    }
    return n.ops.empty() ? first : make(std::move(n));
  }
  NodeP parse_sum() {
    NodeP a = parse_product();
    for (;;) {
      if (eat("+")) a = binary("+", a, parse_product());
      else if (eat("-")) a = binary("-", a, parse_product());
      else return a;
    }
  }
  NodeP parse_product() {
    NodeP a = parse_unary();
    for (;;) {
      if (eat("*")) a = binary("*", a, parse_unary());
      else if (eat("/")) a = binary("/", a, parse_unary());
      else if (eat("%")) a = binary("%", a, parse_unary());
      else return a;
    }
  }
  NodeP parse_unary() {
    if (eat("-")) {
      Expr::Node n;
      n.kind = Expr::Node::Unary;
      n.name = "-";
      n.args = {parse_unary()};
      return make(std::move(n));
    }
    return parse_atom();
  }
  NodeP parse_atom() {
    skip();
    if (i_ >= t_.size()) fail("ends too early");
    const char c = t_[i_];
    if (eat("(")) {
      NodeP n = parse_or();
      if (!eat(")")) fail("missing ')'");
      return n;
    }
    if (c == '\'' || c == '"') return parse_string(c);
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return parse_number();
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') return parse_name();
    fail(fmt::format("unexpected '{}'", c));
  }
  NodeP parse_string(char quote) {
    const size_t end = t_.find(quote, i_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    Expr::Node n;
    n.kind = Expr::Node::Str;
    n.value.is_string = true;
    n.value.str = t_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return make(std::move(n));
  }
  NodeP parse_number() {
    size_t used = 0;
    Expr::Node n;
    try {
      n.value.num = std::stod(t_.substr(i_), &used);
    } catch (const std::exception&) {
      fail("bad number");
    }
    i_ += used;
    return make(std::move(n));
  }
  NodeP parse_name() {
    const size_t start = i_;
    while (i_ < t_.size() && (std::isalnum(static_cast<unsigned char>(t_[i_])) || t_[i_] == '_' || t_[i_] == '.')) ++i_;
    Expr::Node n;
    n.name = t_.substr(start, i_ - start);
    if (!eat("(")) {
      n.kind = Expr::Node::Name;
      return make(std::move(n));
    }
    n.kind = Expr::Node::Call;
    if (n.name != "min" && n.name != "max" && n.name != "log2" && n.name != "abs")
      fail(fmt::format("unknown function '{}'", n.name));
    do n.args.push_back(parse_or());
    while (eat(","));
    if (!eat(")")) fail("missing ')' after the arguments");
    const size_t want = (n.name == "log2" || n.name == "abs") ? 1 : 2;
    if (n.name == "log2" || n.name == "abs" ? n.args.size() != want : n.args.size() < want)
      fail(fmt::format("{}() takes {} argument(s)", n.name, n.name == "log2" || n.name == "abs" ? "1" : "2 or more"));
    return make(std::move(n));
  }
};

struct Evaluator {
  const std::map<std::string, Value>& vars;
  const std::string& text;
  const std::string& file;
  int line;

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(fmt::format("{}:{}: error: expression '{}': {}", file, line, text, what));
  }
  double num(const Value& v, const char* op) const {
    if (v.is_string) fail(fmt::format("'{}' needs numbers, got the string '{}'", op, v.str));
    return v.num;
  }
  static Value number(double d) {
    Value v;
    v.num = d;
    return v;
  }
  static bool truth(const Value& v) { return v.is_string ? !v.str.empty() : v.num != 0; }

  Value eval(const Expr::Node& n) const {
    switch (n.kind) {
      case Expr::Node::Num:
      case Expr::Node::Str: return n.value;
      case Expr::Node::Name: {
        auto it = vars.find(n.name);
        if (it == vars.end()) fail(fmt::format("unknown name '{}' (a parameter, derived name or metric)", n.name));
        return it->second;
      }
      case Expr::Node::Unary: {
        const Value a = eval(*n.args[0]);
        return n.name == "not" ? number(truth(a) ? 0 : 1) : number(-num(a, "-"));
      }
      case Expr::Node::Binary: return binary(n);
      case Expr::Node::Compare: return compare(n);
      case Expr::Node::Call: return call(n);
    }
    return {};
  }
  Value binary(const Expr::Node& n) const {
    if (n.name == "and") return number(truth(eval(*n.args[0])) && truth(eval(*n.args[1])) ? 1 : 0);
    if (n.name == "or") return number(truth(eval(*n.args[0])) || truth(eval(*n.args[1])) ? 1 : 0);
    const double a = num(eval(*n.args[0]), n.name.c_str()), b = num(eval(*n.args[1]), n.name.c_str());
    if (n.name == "+") return number(a + b);
    if (n.name == "-") return number(a - b);
    if (n.name == "*") return number(a * b);
    if ((n.name == "/" || n.name == "%") && b == 0) fail("division by zero");
    if (n.name == "/") return number(a / b);
    return number(std::fmod(a, b));
  }
  Value compare(const Expr::Node& n) const {
    Value left = eval(*n.args[0]);
    for (size_t i = 0; i < n.ops.size(); ++i) {
      const Value right = eval(*n.args[i + 1]);
      const std::string& op = n.ops[i];
      bool ok;
      if (left.is_string != right.is_string) {
        if (op != "==" && op != "!=") fail(fmt::format("'{}' compares a string with a number", op));
        ok = op == "!=";
      } else if (left.is_string) {
        if (op != "==" && op != "!=") fail(fmt::format("'{}' on strings: only == and != compare strings", op));
        ok = (left.str == right.str) == (op == "==");
      } else {
        const double a = left.num, b = right.num;
        ok = op == "==" ? a == b : op == "!=" ? a != b : op == "<" ? a < b : op == "<=" ? a <= b : op == ">" ? a > b : a >= b;
      }
      if (!ok) return number(0);
      left = right;
    }
    return number(1);
  }
  Value call(const Expr::Node& n) const {
    if (n.name == "log2") {
      const double a = num(eval(*n.args[0]), "log2");
      if (a <= 0) fail("log2 of a value <= 0");
      return number(std::log2(a));
    }
    if (n.name == "abs") return number(std::fabs(num(eval(*n.args[0]), "abs")));
    double r = num(eval(*n.args[0]), n.name.c_str());
    for (size_t i = 1; i < n.args.size(); ++i) {
      const double v = num(eval(*n.args[i]), n.name.c_str());
      r = n.name == "min" ? std::min(r, v) : std::max(r, v);
    }
    return number(r);
  }
};

void collect(const Expr::Node& n, std::vector<std::string>& out) {
  if (n.kind == Expr::Node::Name) out.push_back(n.name);
  for (const auto& a : n.args) collect(*a, out);
}

}  // namespace

Expr::Expr() = default;
Expr::~Expr() = default;
Expr::Expr(const Expr&) = default;
Expr& Expr::operator=(const Expr&) = default;

Expr Expr::parse(const std::string& text, const std::string& file, int line) {
  Expr e;
  e.text_ = text;
  e.file_ = file;
  e.line_ = line;
  e.root_ = Parser(text, file, line).parse();
  return e;
}

Value Expr::eval(const std::map<std::string, Value>& vars) const {
  return Evaluator{vars, text_, file_, line_}.eval(*root_);
}

std::vector<std::string> Expr::names() const {
  std::vector<std::string> out;
  if (root_) collect(*root_, out);
  return out;
}

const std::string& Expr::text() const { return text_; }

}  // namespace plena::dse
