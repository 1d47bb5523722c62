// Report structs serialized from one field list each, kept next to the struct:
//
//   constexpr auto json_fields(std::type_identity<Agreement>) {
//     return std::tuple{field("max_abs", &Agreement::max_abs), ...};
//   }
//   static_assert(report_json::lists_every_member<Agreement>());
//
// The list gives the JSON key of each member (keys follow docs/cli.md's unit suffixes, so a
// member `host_seconds` is written as `host_s`) and the order of the keys. The static_assert
// fails when a member is added to the struct but not to its list, so no field is forgotten.
// json_fields is found by argument-dependent lookup on std::type_identity<S>, i.e. in S's
// namespace. The writer is generic in the JSON type: this header does not include nlohmann.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace plena::report_json {

// The member's value as its JSON (nlohmann's to_json for its type, or a listed struct's fields).
struct AsIs {
  template <class Json, class V>
  void operator()(Json& out, const V& v) const { out = v; }
};

template <class S, class M, class Writer = AsIs>
struct Field {
  std::string_view key;
  M S::*member;
  Writer write{};
  bool omit_if_empty = false;  // containers only: no key at all when empty
};

template <class S, class M>
constexpr Field<S, M> field(std::string_view key, M S::*m) { return {key, m}; }
template <class S, class M, class W>
constexpr Field<S, M, W> field(std::string_view key, M S::*m, W writer) { return {key, m, writer}; }
template <class S, class M>
constexpr Field<S, M> field_unless_empty(std::string_view key, M S::*m) { return {key, m, {}, true}; }

template <class S>
concept HasJsonFields = requires { json_fields(std::type_identity<S>{}); };

template <class Json, class S, class M, class W>
void write_field(Json& j, const S& s, const Field<S, M, W>& f) {
  const M& v = s.*f.member;
  if constexpr (requires { v.empty(); })
    if (f.omit_if_empty && v.empty()) return;
  f.write(j[std::string(f.key)], v);
}

// nlohmann finds this through the using-declaration in each struct's namespace.
template <class Json, HasJsonFields S>
void to_json(Json& j, const S& s) {
  j = Json::object();
  std::apply([&](const auto&... f) { (write_field(j, s, f), ...); }, json_fields(std::type_identity<S>{}));
}

// ---- coverage check ----

namespace detail {
// Converts to any member type; declared only, used in unevaluated aggregate initializations.
struct AnyMember {
  template <class T>
  operator T() const;
};

// Members of aggregate S: the largest n for which S{x1, ..., xn} is well-formed.
template <class S, class... A>
constexpr size_t member_count() {
  if constexpr (requires { S{A{}..., AnyMember{}}; })
    return member_count<S, A..., AnyMember>();
  else
    return sizeof...(A);
}

template <class F, class G>
constexpr bool same_member(const F& f, const G& g) {
  if constexpr (std::is_same_v<decltype(f.member), decltype(g.member)>)
    return f.member == g.member;
  else
    return false;
}

template <class Tuple, class F, size_t... J>
constexpr bool listed_before(const Tuple& t, const F& f, std::index_sequence<J...>) {
  return (same_member(std::get<J>(t), f) || ... || false);
}

template <class Tuple, size_t... I>
constexpr size_t distinct_members(const Tuple& t, std::index_sequence<I...>) {
  return (size_t(!listed_before(t, std::get<I>(t), std::make_index_sequence<I>{})) + ... + 0);
}

template <class Tuple, size_t... I>
constexpr bool keys_distinct(const Tuple& t, std::index_sequence<I...>) {
  const std::string_view keys[] = {std::get<I>(t).key...};
  for (size_t a = 0; a < sizeof...(I); ++a)
    for (size_t b = a + 1; b < sizeof...(I); ++b)
      if (keys[a] == keys[b]) return false;
  return true;
}
}  // namespace detail

// True when every member of aggregate S appears in its field list (a member may be listed more
// than once, under different keys) and no key repeats.
template <HasJsonFields S>
constexpr bool lists_every_member() {
  static_assert(std::is_aggregate_v<S>, "lists_every_member counts the members of an aggregate");
  constexpr auto fields = json_fields(std::type_identity<S>{});
  constexpr auto n = std::tuple_size_v<std::remove_const_t<decltype(fields)>>;
  return detail::distinct_members(fields, std::make_index_sequence<n>{}) == detail::member_count<S>() &&
         detail::keys_distinct(fields, std::make_index_sequence<n>{});
}

}  // namespace plena::report_json
