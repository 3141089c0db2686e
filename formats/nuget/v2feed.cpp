#include "formats/nuget/v2feed.hpp"

#include "formats/nuget/nuget.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <memory>
#include <variant>

namespace arca::formats::nuget::v2 {

namespace {

constexpr std::string_view k_atom_ns = "http://www.w3.org/2005/Atom";
constexpr std::string_view k_d_ns = "http://schemas.microsoft.com/ado/2007/08/dataservices";
constexpr std::string_view k_m_ns = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata";
constexpr std::string_view k_unlisted_published = "1900-01-01T00:00:00";
constexpr uint64_t k_max_top = 100;
// Bounds on $filter / $orderby (untrusted, from any anonymous GET): the parser is recursive
// descent, so nesting (parentheses, function calls, `not`) is what the stack pays for. NuGet
// clients nest a few levels; 100 leaves room for generated filters and keeps the deepest parse a
// few hundred small frames. The size bound keeps tokenizing, and the operand lists of long
// and/or chains, small; NuGet 2.x filters are a few hundred bytes.
constexpr size_t k_max_expression_depth = 100;
constexpr size_t k_max_expression_bytes = 8 * 1024;

Error bad(std::string message) { return make_error(Errc::invalid_argument, std::move(message)); }

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool icontains(std::string_view haystack, std::string_view needle) {
  return ascii_lower(haystack).find(ascii_lower(needle)) != std::string::npos;
}

// XML text and attribute escaping; control characters XML 1.0 cannot carry are dropped.
std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out += c;
    }
  }
  return out;
}

// An OData string literal: 'text' with quotes doubled.
std::string odata_literal(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// Reads an OData string literal ('...' with '' for a quote). Returns nullopt if `s` is not one.
std::optional<std::string> unquote(std::string_view s) {
  if (s.size() < 2 || s.front() != '\'' || s.back() != '\'') return std::nullopt;
  std::string out;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] == '\'') {
      if (i + 2 >= s.size() || s[i + 1] != '\'') return std::nullopt;
      ++i;
    }
    out += s[i];
  }
  return out;
}

// Edm.DateTime as NuGet.Server wrote it: no zone designator.
std::string edm_datetime(std::string_view iso) {
  if (iso.empty()) return std::string(k_unlisted_published);
  std::string s(iso);
  if (s.back() == 'Z') s.pop_back();
  if (s.size() > 6 && (s.ends_with("+00:00") || s.ends_with("-00:00"))) s.resize(s.size() - 6);
  return s;
}

// Atom dates carry the zone.
std::string atom_datetime(std::string_view iso) {
  std::string s = edm_datetime(iso);
  return s + "Z";
}

std::string now_iso() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// --- Versions: NuGet's order (formats/nuget); text order for what does not parse ---

int compare_versions(std::string_view a, std::string_view b) {
  auto x = nuget::parse_version(a);
  auto y = nuget::parse_version(b);
  if (x && y) return nuget::compare(*x, *y);
  if (x.has_value() != y.has_value()) return x ? 1 : -1;  // unparsable versions sort first
  return a < b ? -1 : a == b ? 0 : 1;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// --- $filter / $orderby: tokens, a typed expression tree, evaluation ---

enum class Type { boolean, integer, string, datetime, null };

std::string_view type_name(Type t) {
  switch (t) {
    case Type::boolean: return "Edm.Boolean";
    case Type::integer: return "Edm.Int64";
    case Type::string: return "Edm.String";
    case Type::datetime: return "Edm.DateTime";
    case Type::null: return "null";
  }
  return "?";
}

using Value = std::variant<std::monostate, bool, int64_t, std::string>;

struct Token {
  enum Kind { end, ident, string, number, datetime, lparen, rparen, comma } kind = end;
  std::string text;
  size_t pos = 0;
};

Result<std::vector<Token>> tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  auto read_string = [&](size_t& j) -> std::optional<std::string> {
    // s[j] == '\''
    std::string text;
    ++j;
    while (j < s.size()) {
      if (s[j] == '\'') {
        if (j + 1 < s.size() && s[j + 1] == '\'') {
          text += '\'';
          j += 2;
          continue;
        }
        ++j;
        return text;
      }
      text += s[j++];
    }
    return std::nullopt;
  };
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    Token t;
    t.pos = i;
    if (c == '(' || c == ')' || c == ',') {
      t.kind = c == '(' ? Token::lparen : c == ')' ? Token::rparen : Token::comma;
      t.text = std::string(1, c);
      ++i;
    } else if (c == '\'') {
      auto text = read_string(i);
      if (!text) return bad("unterminated string literal at position " + std::to_string(t.pos));
      t.kind = Token::string;
      t.text = std::move(*text);
    } else if ((c >= '0' && c <= '9') || (c == '-' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      size_t j = i + 1;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      // An 'L' suffix marks Edm.Int64 literals.
      t.kind = Token::number;
      t.text = std::string(s.substr(i, j - i));
      if (j < s.size() && (s[j] == 'L' || s[j] == 'l')) ++j;
      if (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.')) {
        return bad("unsupported number literal at position " + std::to_string(t.pos));
      }
      if (t.text.size() > 18) return bad("number literal out of range at position " + std::to_string(t.pos));
      i = j;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      t.text = std::string(s.substr(i, j - i));
      i = j;
      if (t.text == "datetime" && i < s.size() && s[i] == '\'') {
        auto text = read_string(i);
        if (!text) return bad("unterminated datetime literal at position " + std::to_string(t.pos));
        // yyyy-mm-ddThh:mm[:ss[.fff]][Z]
        const std::string& d = *text;
        bool shaped = d.size() >= 16 && d[4] == '-' && d[7] == '-' && d[10] == 'T' && d[13] == ':' &&
                      all_digits(d.substr(0, 4)) && all_digits(d.substr(5, 2)) &&
                      all_digits(d.substr(8, 2)) && all_digits(d.substr(11, 2)) && all_digits(d.substr(14, 2));
        if (!shaped) return bad("malformed datetime literal at position " + std::to_string(t.pos));
        t.kind = Token::datetime;
        t.text = std::move(*text);
      } else {
        t.kind = Token::ident;
      }
    } else {
      return bad(std::string("unexpected character '") + c + "' at position " + std::to_string(i));
    }
    out.push_back(std::move(t));
  }
  Token e;
  e.pos = s.size();
  out.push_back(e);
  return out;
}

enum class Prop {
  id, version, normalized_version, title, description, summary, release_notes, authors, owners,
  tags, project_url, license_url, icon_url, copyright, language, min_client_version, dependencies,
  package_hash, package_hash_algorithm, is_latest_version, is_absolute_latest_version,
  is_prerelease, listed, require_license_acceptance, download_count, version_download_count,
  package_size, created, published, last_updated
};

struct PropInfo {
  std::string_view name;
  Prop prop;
  Type type;
};

constexpr PropInfo k_props[] = {
    {"Id", Prop::id, Type::string},
    {"Version", Prop::version, Type::string},
    {"NormalizedVersion", Prop::normalized_version, Type::string},
    {"Title", Prop::title, Type::string},
    {"Description", Prop::description, Type::string},
    {"Summary", Prop::summary, Type::string},
    {"ReleaseNotes", Prop::release_notes, Type::string},
    {"Authors", Prop::authors, Type::string},
    {"Owners", Prop::owners, Type::string},
    {"Tags", Prop::tags, Type::string},
    {"ProjectUrl", Prop::project_url, Type::string},
    {"LicenseUrl", Prop::license_url, Type::string},
    {"IconUrl", Prop::icon_url, Type::string},
    {"Copyright", Prop::copyright, Type::string},
    {"Language", Prop::language, Type::string},
    {"MinClientVersion", Prop::min_client_version, Type::string},
    {"Dependencies", Prop::dependencies, Type::string},
    {"PackageHash", Prop::package_hash, Type::string},
    {"PackageHashAlgorithm", Prop::package_hash_algorithm, Type::string},
    {"IsLatestVersion", Prop::is_latest_version, Type::boolean},
    {"IsAbsoluteLatestVersion", Prop::is_absolute_latest_version, Type::boolean},
    {"IsPrerelease", Prop::is_prerelease, Type::boolean},
    {"Listed", Prop::listed, Type::boolean},
    {"RequireLicenseAcceptance", Prop::require_license_acceptance, Type::boolean},
    {"DownloadCount", Prop::download_count, Type::integer},
    {"VersionDownloadCount", Prop::version_download_count, Type::integer},
    {"PackageSize", Prop::package_size, Type::integer},
    {"Created", Prop::created, Type::datetime},
    {"Published", Prop::published, Type::datetime},
    {"LastUpdated", Prop::last_updated, Type::datetime},
};

const PropInfo* find_prop(std::string_view name) {
  for (const auto& p : k_props) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

int64_t clamp_i64(uint64_t v) {
  return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                         : static_cast<int64_t>(v);
}

std::string published_of(const Package& p) {
  if (!p.listed) return std::string(k_unlisted_published);
  return edm_datetime(p.published);
}

// The latest flags of a package within the set a query looks at (apply() computes them).
struct Flags {
  bool latest = false;
  bool absolute = false;
};

Value prop_value_raw(const Package& p, Flags f, Prop prop);

// Optional text that is empty is null, as the feed renders it (m:null="true").
Value prop_value(const Package& p, Flags f, Prop prop) {
  Value v = prop_value_raw(p, f, prop);
  if (prop != Prop::id && prop != Prop::version && prop != Prop::normalized_version &&
      prop != Prop::dependencies) {
    if (auto* s = std::get_if<std::string>(&v); s && s->empty()) return std::monostate{};
  }
  return v;
}

Value prop_value_raw(const Package& p, Flags f, Prop prop) {
  switch (prop) {
    case Prop::id: return p.id;
    case Prop::version: return p.version;
    case Prop::normalized_version: return p.version;
    case Prop::title: return p.title;
    case Prop::description: return p.description;
    case Prop::summary: return p.summary;
    case Prop::release_notes: return p.release_notes;
    case Prop::authors: return p.authors;
    case Prop::owners: return p.owners;
    case Prop::tags: return p.tags;
    case Prop::project_url: return p.project_url;
    case Prop::license_url: return p.license_url;
    case Prop::icon_url: return p.icon_url;
    case Prop::copyright: return p.copyright;
    case Prop::language: return p.language;
    case Prop::min_client_version: return p.min_client_version;
    case Prop::dependencies: return p.dependencies;
    case Prop::package_hash: return p.package_hash;
    case Prop::package_hash_algorithm: return p.package_hash_algorithm;
    case Prop::is_latest_version: return f.latest;
    case Prop::is_absolute_latest_version: return f.absolute;
    case Prop::is_prerelease: return p.is_prerelease;
    case Prop::listed: return p.listed;
    case Prop::require_license_acceptance: return p.require_license_acceptance;
    case Prop::download_count: return clamp_i64(p.download_count);
    case Prop::version_download_count: return clamp_i64(p.download_count);
    case Prop::package_size: return clamp_i64(p.package_size);
    case Prop::created: return edm_datetime(p.created.empty() ? p.published : p.created);
    case Prop::published: return published_of(p);
    case Prop::last_updated: return edm_datetime(p.last_updated.empty() ? p.published : p.last_updated);
  }
  return std::monostate{};
}

struct Node {
  enum Kind { literal, property, logical_not, logical_and, logical_or, compare, call } kind = literal;
  Type type = Type::null;
  Value value;                  // literal
  Prop prop = Prop::id;         // property
  std::string op;               // compare: eq ne gt ge lt le; call: function name
  std::vector<std::unique_ptr<Node>> args;
};
using NodePtr = std::unique_ptr<Node>;

NodePtr make_node(Node::Kind kind, Type type) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  n->type = type;
  return n;
}

// Recursive descent over the precedence levels of OData v2: or < and < not < comparison <
// primary (parentheses, literals, properties, function calls).
class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<NodePtr> parse_filter() {
    ARCA_TRY(auto n, parse_or());
    if (peek().kind != Token::end) return unexpected();
    if (n->type != Type::boolean) return bad("$filter must be a boolean expression");
    return n;
  }

  // One $orderby item: an expression, optionally followed by asc or desc.
  Result<std::pair<NodePtr, bool>> parse_order_item() {
    ARCA_TRY(auto n, parse_primary());
    bool desc = false;
    if (peek().kind == Token::ident && (peek().text == "asc" || peek().text == "desc")) {
      desc = next().text == "desc";
    }
    if (peek().kind != Token::end) return unexpected();
    if (n->type == Type::null) return bad("$orderby cannot order by null");
    return std::make_pair(std::move(n), desc);
  }

 private:
  const Token& peek() const { return tokens_[pos_]; }
  const Token& next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool at_keyword(std::string_view k) const { return peek().kind == Token::ident && peek().text == k; }

  Error unexpected() const {
    if (peek().kind == Token::end) return bad("unexpected end of expression");
    return bad("unexpected '" + peek().text + "' at position " + std::to_string(peek().pos));
  }

  // Counts one level of nesting for as long as it lives; deeper than k_max_expression_depth
  // is refused before the recursion goes further.
  class Nesting {
   public:
    explicit Nesting(size_t& depth) : depth_(depth) { ++depth_; }
    ~Nesting() { --depth_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;
    bool too_deep() const { return depth_ > k_max_expression_depth; }

   private:
    size_t& depth_;
  };

  Error too_deep() const {
    return bad("expression nested more than " + std::to_string(k_max_expression_depth) +
               " levels deep at position " + std::to_string(peek().pos));
  }

  // a or b or c is one node with three operands (and likewise for and), so a long chain
  // costs no depth when it is evaluated or destroyed.
  Result<NodePtr> parse_or() {
    ARCA_TRY(auto first, parse_and());
    if (!at_keyword("or")) return first;
    auto n = make_node(Node::logical_or, Type::boolean);
    ARCA_TRY_VOID(add_operand(*n, std::move(first), "or"));
    while (at_keyword("or")) {
      next();
      ARCA_TRY(auto operand, parse_and());
      ARCA_TRY_VOID(add_operand(*n, std::move(operand), "or"));
    }
    return n;
  }

  Result<NodePtr> parse_and() {
    ARCA_TRY(auto first, parse_not());
    if (!at_keyword("and")) return first;
    auto n = make_node(Node::logical_and, Type::boolean);
    ARCA_TRY_VOID(add_operand(*n, std::move(first), "and"));
    while (at_keyword("and")) {
      next();
      ARCA_TRY(auto operand, parse_not());
      ARCA_TRY_VOID(add_operand(*n, std::move(operand), "and"));
    }
    return n;
  }

  Result<void> add_operand(Node& n, NodePtr operand, std::string_view name) {
    if (operand->type != Type::boolean) {
      return bad("'" + std::string(name) + "' needs boolean operands");
    }
    n.args.push_back(std::move(operand));
    return {};
  }

  Result<NodePtr> parse_not() {
    if (at_keyword("not")) {
      Nesting level(depth_);
      if (level.too_deep()) return too_deep();
      next();
      ARCA_TRY(auto operand, parse_not());
      if (operand->type != Type::boolean) return bad("'not' needs a boolean operand");
      auto n = make_node(Node::logical_not, Type::boolean);
      n->args.push_back(std::move(operand));
      return n;
    }
    return parse_comparison();
  }

  Result<NodePtr> parse_comparison() {
    ARCA_TRY(auto left, parse_primary());
    static constexpr std::string_view k_ops[] = {"eq", "ne", "gt", "ge", "lt", "le"};
    if (peek().kind != Token::ident) return left;
    std::string op = peek().text;
    if (std::find(std::begin(k_ops), std::end(k_ops), op) == std::end(k_ops)) {
      if (op == "add" || op == "sub" || op == "mul" || op == "div" || op == "mod") {
        return bad("arithmetic operator '" + op + "' is not supported");
      }
      return left;
    }
    next();
    ARCA_TRY(auto right, parse_primary());
    Type lt = left->type, rt = right->type;
    bool equality = op == "eq" || op == "ne";
    if (lt == Type::null || rt == Type::null) {
      if (!equality) return bad("'" + op + "' cannot compare with null");
    } else if (lt != rt) {
      return bad("'" + op + "' compares " + std::string(type_name(lt)) + " with " +
                 std::string(type_name(rt)));
    } else if (lt == Type::boolean && !equality) {
      return bad("'" + op + "' cannot order booleans");
    }
    auto n = make_node(Node::compare, Type::boolean);
    n->op = op;
    n->args.push_back(std::move(left));
    n->args.push_back(std::move(right));
    return n;
  }

  Result<NodePtr> parse_primary() {
    const Token& t = peek();
    switch (t.kind) {
      case Token::lparen: {
        Nesting level(depth_);
        if (level.too_deep()) return too_deep();
        next();
        ARCA_TRY(auto inner, parse_or());
        if (peek().kind != Token::rparen) return unexpected();
        next();
        return inner;
      }
      case Token::string: {
        auto n = make_node(Node::literal, Type::string);
        n->value = next().text;
        return n;
      }
      case Token::datetime: {
        auto n = make_node(Node::literal, Type::datetime);
        n->value = edm_datetime(next().text);
        return n;
      }
      case Token::number: {
        auto n = make_node(Node::literal, Type::integer);
        n->value = static_cast<int64_t>(std::stoll(next().text));
        return n;
      }
      case Token::ident: break;
      default: return unexpected();
    }
    std::string name = next().text;
    if (name == "true" || name == "false") {
      auto n = make_node(Node::literal, Type::boolean);
      n->value = name == "true";
      return n;
    }
    if (name == "null") return make_node(Node::literal, Type::null);
    if (peek().kind == Token::lparen) return parse_call(name);
    if (const PropInfo* p = find_prop(name)) {
      auto n = make_node(Node::property, p->type);
      n->prop = p->prop;
      return n;
    }
    return bad("unknown property '" + name + "'");
  }

  Result<NodePtr> parse_call(const std::string& name) {
    struct Fn {
      std::string_view name;
      size_t arity;
      Type result;
    };
    static constexpr Fn k_fns[] = {
        {"tolower", 1, Type::string},      {"toupper", 1, Type::string},
        {"trim", 1, Type::string},         {"length", 1, Type::integer},
        {"substringof", 2, Type::boolean}, {"startswith", 2, Type::boolean},
        {"endswith", 2, Type::boolean},    {"indexof", 2, Type::integer},
        {"concat", 2, Type::string},
    };
    const Fn* fn = nullptr;
    for (const auto& f : k_fns) {
      if (f.name == name) fn = &f;
    }
    if (!fn) return bad("unsupported function '" + name + "'");
    Nesting level(depth_);
    if (level.too_deep()) return too_deep();
    next();  // '('
    auto n = make_node(Node::call, fn->result);
    n->op = name;
    while (true) {
      ARCA_TRY(auto arg, parse_or());
      if (arg->type != Type::string) return bad("'" + name + "' takes string arguments");
      n->args.push_back(std::move(arg));
      if (peek().kind == Token::comma) {
        next();
        continue;
      }
      if (peek().kind != Token::rparen) return unexpected();
      next();
      break;
    }
    if (n->args.size() != fn->arity) {
      return bad("'" + name + "' takes " + std::to_string(fn->arity) + " argument(s)");
    }
    return n;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  size_t depth_ = 0;  // parentheses, calls and `not`s open at the current token
};

Value eval(const Node& n, const Package& p, Flags f) {
  switch (n.kind) {
    case Node::literal: return n.value;
    case Node::property: return prop_value(p, f, n.prop);
    case Node::logical_not: return !std::get<bool>(eval(*n.args[0], p, f));
    case Node::logical_and:
      for (const auto& arg : n.args) {
        if (!std::get<bool>(eval(*arg, p, f))) return false;
      }
      return true;
    case Node::logical_or:
      for (const auto& arg : n.args) {
        if (std::get<bool>(eval(*arg, p, f))) return true;
      }
      return false;
    case Node::compare: {
      Value l = eval(*n.args[0], p, f), r = eval(*n.args[1], p, f);
      int c = 0;
      if (l.index() != r.index()) {
        // Only null against a value gets here (types were checked when parsing).
        c = 1;
        if (n.op == "eq") return false;
        if (n.op == "ne") return true;
        return false;
      }
      if (auto* ls = std::get_if<std::string>(&l)) {
        const auto& rs = std::get<std::string>(r);
        c = *ls < rs ? -1 : *ls == rs ? 0 : 1;
      } else if (auto* li = std::get_if<int64_t>(&l)) {
        int64_t ri = std::get<int64_t>(r);
        c = *li < ri ? -1 : *li == ri ? 0 : 1;
      } else if (auto* lb = std::get_if<bool>(&l)) {
        c = *lb == std::get<bool>(r) ? 0 : 1;
      }
      if (n.op == "eq") return c == 0;
      if (n.op == "ne") return c != 0;
      if (n.op == "gt") return c > 0;
      if (n.op == "ge") return c >= 0;
      if (n.op == "lt") return c < 0;
      return c <= 0;
    }
    case Node::call: {
      std::vector<std::string> a;
      for (const auto& arg : n.args) {
        Value v = eval(*arg, p, f);
        a.push_back(std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : std::string());
      }
      if (n.op == "tolower") return ascii_lower(a[0]);
      if (n.op == "toupper") return ascii_upper(a[0]);
      if (n.op == "trim") {
        auto b = a[0].find_first_not_of(" \t\r\n");
        auto e = a[0].find_last_not_of(" \t\r\n");
        return b == std::string::npos ? std::string() : a[0].substr(b, e - b + 1);
      }
      if (n.op == "length") return static_cast<int64_t>(a[0].size());
      if (n.op == "substringof") return a[1].find(a[0]) != std::string::npos;
      if (n.op == "startswith") return a[0].starts_with(a[1]);
      if (n.op == "endswith") return a[0].ends_with(a[1]);
      if (n.op == "indexof") {
        auto pos = a[0].find(a[1]);
        return pos == std::string::npos ? int64_t{-1} : static_cast<int64_t>(pos);
      }
      if (n.op == "concat") return a[0] + a[1];
      return std::monostate{};
    }
  }
  return std::monostate{};
}

struct OrderKey {
  NodePtr expr;
  bool desc = false;
  bool by_version = false;  // Version / NormalizedVersion order as versions, not as text
};

Result<void> check_expression_size(std::string_view option, std::string_view text) {
  if (text.size() > k_max_expression_bytes) {
    return bad(std::string(option) + " is longer than " + std::to_string(k_max_expression_bytes) +
               " bytes");
  }
  return {};
}

Result<NodePtr> parse_filter_expr(std::string_view text) {
  ARCA_TRY_VOID(check_expression_size("$filter", text));
  ARCA_TRY(auto tokens, tokenize(text));
  Parser parser(std::move(tokens));
  return parser.parse_filter();
}

// Splits on commas outside parentheses and string literals.
std::vector<std::string_view> split_orderby(std::string_view s) {
  std::vector<std::string_view> out;
  int depth = 0;
  bool in_string = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\'') in_string = !in_string;
    if (in_string) continue;
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

Result<std::vector<OrderKey>> parse_orderby_expr(std::string_view text) {
  ARCA_TRY_VOID(check_expression_size("$orderby", text));
  std::vector<OrderKey> keys;
  for (auto item : split_orderby(text)) {
    ARCA_TRY(auto tokens, tokenize(item));
    if (tokens.size() == 1) return bad("empty $orderby item");
    Parser parser(std::move(tokens));
    ARCA_TRY(auto parsed, parser.parse_order_item());
    OrderKey k;
    k.desc = parsed.second;
    k.by_version = parsed.first->kind == Node::property &&
                   (parsed.first->prop == Prop::version || parsed.first->prop == Prop::normalized_version);
    k.expr = std::move(parsed.first);
    keys.push_back(std::move(k));
  }
  return keys;
}

int compare_values(const Value& l, const Value& r) {
  if (l.index() != r.index()) return l.index() < r.index() ? -1 : 1;
  if (auto* s = std::get_if<std::string>(&l)) {
    // Text orders case-insensitively (as NuGet.Server's listings did), then ordinally.
    const auto& t = std::get<std::string>(r);
    std::string ls = ascii_lower(*s), lt = ascii_lower(t);
    if (ls != lt) return ls < lt ? -1 : 1;
    return *s < t ? -1 : *s == t ? 0 : 1;
  }
  if (auto* i = std::get_if<int64_t>(&l)) {
    auto j = std::get<int64_t>(r);
    return *i < j ? -1 : *i == j ? 0 : 1;
  }
  if (auto* b = std::get_if<bool>(&l)) {
    bool c = std::get<bool>(r);
    return *b == c ? 0 : (*b ? 1 : -1);
  }
  return 0;
}

Result<uint64_t> parse_count(std::string_view name, std::string_view v) {
  if (v.empty() || v.size() > 18 || !all_digits(v)) {
    return bad("'" + std::string(v) + "' is not a valid value for " + std::string(name));
  }
  return static_cast<uint64_t>(std::stoull(std::string(v)));
}

// A quoted parameter value ('x'); NuGet clients always quote, a bare value is taken as is.
Result<std::string> string_param(std::string_view name, std::string_view v) {
  if (!v.empty() && v.front() == '\'') {
    auto s = unquote(v);
    if (!s) return bad("malformed string literal for " + std::string(name));
    return *s;
  }
  return std::string(v);
}

std::string key_path(const Package& p) {
  return "Packages(Id=" + odata_literal(p.id) + ",Version=" + odata_literal(p.version) + ")";
}

void prop(std::string& out, std::string_view name, std::string_view value) {
  out += "      <d:";
  out += name;
  if (value.empty()) {
    out += " m:null=\"true\" />\n";
    return;
  }
  out += '>';
  out += xml_escape(value);
  out += "</d:";
  out += name;
  out += ">\n";
}

void required_prop(std::string& out, std::string_view name, std::string_view value) {
  out += "      <d:";
  out += name;
  out += '>';
  out += xml_escape(value);
  out += "</d:";
  out += name;
  out += ">\n";
}

void typed_prop(std::string& out, std::string_view name, std::string_view type, std::string_view value) {
  out += "      <d:";
  out += name;
  out += " m:type=\"";
  out += type;
  out += "\">";
  out += xml_escape(value);
  out += "</d:";
  out += name;
  out += ">\n";
}

std::string_view boolean(bool b) { return b ? "true" : "false"; }

std::string namespaces() {
  return "xmlns=\"" + std::string(k_atom_ns) + "\" xmlns:d=\"" + std::string(k_d_ns) + "\" xmlns:m=\"" +
         std::string(k_m_ns) + "\"";
}

// One <entry> (without the XML declaration); `ns`: write the namespace declarations on it.
std::string entry_xml(std::string_view base, const Package& p, bool ns) {
  const std::string key = key_path(p);
  const std::string updated = atom_datetime(p.last_updated.empty() ? p.published : p.last_updated);
  const std::string published = published_of(p);
  const std::string created = edm_datetime(p.created.empty() ? p.published : p.created);
  const std::string last_updated = edm_datetime(p.last_updated.empty() ? p.published : p.last_updated);
  std::string out = "  <entry";
  if (ns) out += " xml:base=\"" + xml_escape(base) + "\" " + namespaces();
  out += ">\n";
  out += "    <id>" + xml_escape(std::string(base) + key) + "</id>\n";
  out += "    <category term=\"NuGetGallery.V2FeedPackage\" "
         "scheme=\"http://schemas.microsoft.com/ado/2007/08/dataservices/scheme\" />\n";
  out += "    <link rel=\"edit\" title=\"V2FeedPackage\" href=\"" + xml_escape(key) + "\" />\n";
  out += "    <title type=\"text\">" + xml_escape(p.id) + "</title>\n";
  out += "    <summary type=\"text\">" + xml_escape(p.summary) + "</summary>\n";
  out += "    <updated>" + updated + "</updated>\n";
  out += "    <author>\n      <name>" + xml_escape(p.authors) + "</name>\n    </author>\n";
  out += "    <link rel=\"edit-media\" title=\"V2FeedPackage\" href=\"" + xml_escape(key) + "/$value\" />\n";
  out += "    <content type=\"application/zip\" src=\"" +
         xml_escape(std::string(base) + "package/" + p.id + "/" + p.version) + "\" />\n";
  out += "    <m:properties>\n";
  required_prop(out, "Id", p.id);
  required_prop(out, "Version", p.version);
  required_prop(out, "NormalizedVersion", p.version);
  prop(out, "Title", p.title);
  prop(out, "Description", p.description);
  prop(out, "Summary", p.summary);
  prop(out, "ReleaseNotes", p.release_notes);
  prop(out, "Authors", p.authors);
  prop(out, "Owners", p.owners);
  prop(out, "Copyright", p.copyright);
  typed_prop(out, "Created", "Edm.DateTime", created);
  required_prop(out, "Dependencies", p.dependencies);
  typed_prop(out, "DownloadCount", "Edm.Int32",
             std::to_string(std::min<uint64_t>(p.download_count, std::numeric_limits<int32_t>::max())));
  typed_prop(out, "VersionDownloadCount", "Edm.Int32",
             std::to_string(std::min<uint64_t>(p.download_count, std::numeric_limits<int32_t>::max())));
  prop(out, "IconUrl", p.icon_url);
  typed_prop(out, "IsLatestVersion", "Edm.Boolean", boolean(p.is_latest_version));
  typed_prop(out, "IsAbsoluteLatestVersion", "Edm.Boolean", boolean(p.is_absolute_latest_version));
  typed_prop(out, "IsPrerelease", "Edm.Boolean", boolean(p.is_prerelease));
  prop(out, "Language", p.language);
  typed_prop(out, "LastUpdated", "Edm.DateTime", last_updated);
  typed_prop(out, "Published", "Edm.DateTime", published);
  typed_prop(out, "Listed", "Edm.Boolean", boolean(p.listed));
  prop(out, "LicenseUrl", p.license_url);
  prop(out, "MinClientVersion", p.min_client_version);
  prop(out, "PackageHash", p.package_hash);
  prop(out, "PackageHashAlgorithm", p.package_hash.empty() ? std::string_view() : p.package_hash_algorithm);
  typed_prop(out, "PackageSize", "Edm.Int64", std::to_string(p.package_size));
  prop(out, "ProjectUrl", p.project_url);
  typed_prop(out, "RequireLicenseAcceptance", "Edm.Boolean", boolean(p.require_license_acceptance));
  prop(out, "Tags", p.tags.empty() ? std::string() : " " + p.tags + " ");
  out += "    </m:properties>\n";
  out += "  </entry>\n";
  return out;
}

constexpr std::string_view k_xml_decl = "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\n";

}  // namespace

Result<Query> parse_query(std::string_view raw_query) {
  Query q;
  auto params = parse_query_string(raw_query);
  if (!params) return bad(params.error().message);
  for (auto& param : *params) {
    const std::string& k = param.key;
    const std::string& v = param.value;
    if (k == "$filter") {
      q.filter = v;
      ARCA_TRY_VOID(parse_filter_expr(v));
    } else if (k == "$orderby") {
      q.orderby = v;
      ARCA_TRY_VOID(parse_orderby_expr(v));
    } else if (k == "$skip") {
      ARCA_TRY(q.skip, parse_count("$skip", v));
    } else if (k == "$top") {
      ARCA_TRY(q.top, parse_count("$top", v));
      q.top = std::min(q.top, k_max_top);
    } else if (k == "searchTerm") {
      ARCA_TRY(q.search_term, string_param("searchTerm", v));
    } else if (k == "targetFramework") {
      ARCA_TRY(q.target_framework, string_param("targetFramework", v));
    } else if (k == "includePrerelease") {
      q.include_prerelease_given = true;
      if (v == "true") {
        q.include_prerelease = true;
      } else if (v == "false") {
        q.include_prerelease = false;
      } else {
        return bad("includePrerelease must be true or false");
      }
    } else if (k == "id") {
      ARCA_TRY(auto id, string_param("id", v));
      q.id = std::move(id);
    } else if (k == "semVerLevel") {
      auto dot = v.find('.');
      std::string_view major = std::string_view(v).substr(0, dot);
      if (!all_digits(major) || major.size() > 9) return bad("semVerLevel must be a version such as 2.0.0");
      q.semver2 = std::stoul(std::string(major)) >= 2;
    } else if (k == "$inlinecount") {
      if (v == "allpages") {
        q.count = true;
      } else if (v != "none") {
        return bad("$inlinecount must be allpages or none");
      }
    }
    // Other options ($select, $expand, $format, ...) are accepted and ignored: every entry is
    // rendered whole, as Atom.
  }
  return q;
}

Result<std::vector<Package>> apply(const Query& query, std::span<const Package> all, uint64_t* total) {
  std::optional<NodePtr> filter;
  if (!query.filter.empty()) {
    ARCA_TRY(auto f, parse_filter_expr(query.filter));
    filter = std::move(f);
  }
  std::vector<OrderKey> order;
  if (!query.orderby.empty()) {
    ARCA_TRY(order, parse_orderby_expr(query.orderby));
  }

  // Versions this client may see at all: SemVer 2.0 ones only when it asked for them.
  auto visible = [&](const Package& p) { return query.semver2 || !p.is_semver2; };

  // Each package once: its lower-case id and parsed version, for the latest flags and the
  // orderings (parsing inside sort comparisons would cost O(n log n) parses).
  struct Row {
    const Package* p = nullptr;
    std::string lower_id;
    std::optional<nuget::Version> version;
    Flags flags;
    std::vector<Value> keys;  // the $orderby values (unused for version keys)
  };
  auto compare_rows = [](const Row& a, const Row& b) {
    if (a.version && b.version) return nuget::compare(*a.version, *b.version);
    return compare_versions(a.p->version, b.p->version);
  };
  std::vector<Row> rows;
  rows.reserve(all.size());
  for (const auto& p : all) {
    if (!visible(p)) continue;
    Row r;
    r.p = &p;
    r.lower_id = ascii_lower(p.id);
    if (auto v = nuget::parse_version(p.version)) r.version = std::move(*v);
    rows.push_back(std::move(r));
  }

  // Latest flags per id over the listed versions this client may see.
  std::map<std::string_view, std::pair<Row*, Row*>> latest;  // stable, absolute
  for (auto& r : rows) {
    if (!r.p->listed) continue;
    auto& [stable, absolute] = latest[r.lower_id];
    if (!absolute || compare_rows(r, *absolute) > 0) absolute = &r;
    if (!r.p->is_prerelease && (!stable || compare_rows(r, *stable) > 0)) stable = &r;
  }
  for (auto& [id, best] : latest) {
    if (best.first) best.first->flags.latest = true;
    if (best.second) best.second->flags.absolute = true;
  }

  std::vector<std::string> terms;
  {
    std::string_view s = query.search_term;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      size_t j = i;
      while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      if (j > i) terms.emplace_back(s.substr(i, j - i));
      i = j;
    }
  }

  const std::string wanted_id = query.id ? ascii_lower(*query.id) : std::string();
  std::vector<Row*> selected;
  for (auto& r : rows) {
    const Package& p = *r.p;
    if (query.id) {
      if (r.lower_id != wanted_id) continue;
    } else if (!p.listed) {
      continue;
    }
    if (!query.include_prerelease && p.is_prerelease) continue;
    if (!terms.empty()) {
      bool hit = std::any_of(terms.begin(), terms.end(), [&](const std::string& t) {
        return icontains(p.id, t) || icontains(p.title, t) || icontains(p.description, t) ||
               icontains(p.tags, t);
      });
      if (!hit) continue;
    }
    if (filter && !std::get<bool>(eval(**filter, p, r.flags))) continue;
    for (const auto& k : order) r.keys.push_back(k.by_version ? Value{} : eval(*k.expr, p, r.flags));
    selected.push_back(&r);
  }

  // By id, then version; $orderby keys first when given (ties keep that order).
  std::stable_sort(selected.begin(), selected.end(), [&](const Row* a, const Row* b) {
    if (a->lower_id != b->lower_id) return a->lower_id < b->lower_id;
    return compare_rows(*a, *b) < 0;
  });
  if (!order.empty()) {
    std::stable_sort(selected.begin(), selected.end(), [&](const Row* a, const Row* b) {
      for (size_t i = 0; i < order.size(); ++i) {
        int c = order[i].by_version ? compare_rows(*a, *b) : compare_values(a->keys[i], b->keys[i]);
        if (c != 0) return order[i].desc ? c > 0 : c < 0;
      }
      return false;
    });
  }

  if (total) *total = selected.size();
  uint64_t skip = std::min<uint64_t>(query.skip, selected.size());
  uint64_t top = std::min(query.top, k_max_top);
  uint64_t end = std::min<uint64_t>(selected.size(), skip + top);
  std::vector<Package> out;
  out.reserve(end - skip);
  for (uint64_t i = skip; i < end; ++i) {
    out.push_back(*selected[i]->p);
    out.back().is_latest_version = selected[i]->flags.latest;
    out.back().is_absolute_latest_version = selected[i]->flags.absolute;
  }
  return out;
}

std::string render_feed(std::string_view base, std::string_view title, std::string_view self,
                        std::span<const Package> packages, std::string_view next,
                        std::optional<uint64_t> inline_count) {
  std::string out(k_xml_decl);
  out += "<feed xml:base=\"" + xml_escape(base) + "\" " + namespaces() + ">\n";
  out += "  <id>" + xml_escape(std::string(base) + std::string(self)) + "</id>\n";
  out += "  <title type=\"text\">" + xml_escape(title) + "</title>\n";
  out += "  <updated>" + now_iso() + "</updated>\n";
  out += "  <link rel=\"self\" title=\"" + xml_escape(title) + "\" href=\"" + xml_escape(self) + "\" />\n";
  if (inline_count) out += "  <m:count>" + std::to_string(*inline_count) + "</m:count>\n";
  for (const auto& p : packages) out += entry_xml(base, p, false);
  if (!next.empty()) {
    out += "  <link rel=\"next\" href=\"" + xml_escape(std::string(base) + std::string(next)) + "\" />\n";
  }
  out += "</feed>\n";
  return out;
}

std::string render_entry(std::string_view base, const Package& package) {
  std::string body = entry_xml(base, package, true);
  // A document of its own: no indentation of the root.
  return std::string(k_xml_decl) + body.substr(2);
}

std::string service_document(std::string_view base) {
  std::string out(k_xml_decl);
  out += "<service xml:base=\"" + xml_escape(base) +
         "\" xmlns=\"http://www.w3.org/2007/app\" xmlns:atom=\"http://www.w3.org/2005/Atom\" "
         "xmlns:app=\"http://www.w3.org/2007/app\">\n";
  out += "  <workspace>\n";
  out += "    <atom:title>Default</atom:title>\n";
  out += "    <collection href=\"Packages\">\n";
  out += "      <atom:title>Packages</atom:title>\n";
  out += "    </collection>\n";
  out += "  </workspace>\n";
  out += "</service>\n";
  return out;
}

std::string metadata_document() {
  std::string out(k_xml_decl);
  out += "<edmx:Edmx Version=\"1.0\" xmlns:edmx=\"http://schemas.microsoft.com/ado/2007/06/edmx\">\n";
  out += "  <edmx:DataServices xmlns:m=\"" + std::string(k_m_ns) + "\" m:DataServiceVersion=\"2.0\">\n";
  out += "    <Schema Namespace=\"NuGetGallery\" xmlns:d=\"" + std::string(k_d_ns) + "\" xmlns:m=\"" +
         std::string(k_m_ns) + "\" xmlns=\"http://schemas.microsoft.com/ado/2006/04/edm\">\n";
  out += "      <EntityType Name=\"V2FeedPackage\" m:HasStream=\"true\">\n";
  out += "        <Key>\n          <PropertyRef Name=\"Id\" />\n          <PropertyRef Name=\"Version\" />\n"
         "        </Key>\n";
  struct Column {
    std::string_view name, type;
    bool nullable;
    std::string_view mapping;  // Atom element the property is also written to
  };
  static constexpr Column k_columns[] = {
      {"Id", "Edm.String", false, "SyndicationTitle"},
      {"Version", "Edm.String", false, ""},
      {"NormalizedVersion", "Edm.String", true, ""},
      {"Title", "Edm.String", true, ""},
      {"Description", "Edm.String", true, ""},
      {"Summary", "Edm.String", true, "SyndicationSummary"},
      {"ReleaseNotes", "Edm.String", true, ""},
      {"Authors", "Edm.String", true, "SyndicationAuthorName"},
      {"Owners", "Edm.String", true, ""},
      {"Copyright", "Edm.String", true, ""},
      {"Created", "Edm.DateTime", false, ""},
      {"Dependencies", "Edm.String", true, ""},
      {"DownloadCount", "Edm.Int32", false, ""},
      {"VersionDownloadCount", "Edm.Int32", false, ""},
      {"IconUrl", "Edm.String", true, ""},
      {"IsLatestVersion", "Edm.Boolean", false, ""},
      {"IsAbsoluteLatestVersion", "Edm.Boolean", false, ""},
      {"IsPrerelease", "Edm.Boolean", false, ""},
      {"Language", "Edm.String", true, ""},
      {"LastUpdated", "Edm.DateTime", false, "SyndicationUpdated"},
      {"Published", "Edm.DateTime", false, ""},
      {"Listed", "Edm.Boolean", false, ""},
      {"LicenseUrl", "Edm.String", true, ""},
      {"MinClientVersion", "Edm.String", true, ""},
      {"PackageHash", "Edm.String", true, ""},
      {"PackageHashAlgorithm", "Edm.String", true, ""},
      {"PackageSize", "Edm.Int64", false, ""},
      {"ProjectUrl", "Edm.String", true, ""},
      {"RequireLicenseAcceptance", "Edm.Boolean", false, ""},
      {"Tags", "Edm.String", true, ""},
  };
  for (const auto& c : k_columns) {
    out += "        <Property Name=\"" + std::string(c.name) + "\" Type=\"" + std::string(c.type) +
           "\" Nullable=\"" + (c.nullable ? "true" : "false") + "\"";
    if (!c.mapping.empty()) {
      out += " m:FC_TargetPath=\"" + std::string(c.mapping) +
             "\" m:FC_ContentKind=\"text\" m:FC_KeepInContent=\"true\"";
    }
    out += " />\n";
  }
  out += "      </EntityType>\n";
  out += "      <EntityContainer Name=\"V2FeedContext\" m:IsDefaultEntityContainer=\"true\">\n";
  out += "        <EntitySet Name=\"Packages\" EntityType=\"NuGetGallery.V2FeedPackage\" />\n";
  out += "        <FunctionImport Name=\"Search\" EntitySet=\"Packages\" "
         "ReturnType=\"Collection(NuGetGallery.V2FeedPackage)\" m:HttpMethod=\"GET\">\n";
  out += "          <Parameter Name=\"searchTerm\" Type=\"Edm.String\" Mode=\"In\" />\n";
  out += "          <Parameter Name=\"targetFramework\" Type=\"Edm.String\" Mode=\"In\" />\n";
  out += "          <Parameter Name=\"includePrerelease\" Type=\"Edm.Boolean\" Nullable=\"false\" Mode=\"In\" />\n";
  out += "        </FunctionImport>\n";
  out += "        <FunctionImport Name=\"FindPackagesById\" EntitySet=\"Packages\" "
         "ReturnType=\"Collection(NuGetGallery.V2FeedPackage)\" m:HttpMethod=\"GET\">\n";
  out += "          <Parameter Name=\"id\" Type=\"Edm.String\" Mode=\"In\" />\n";
  out += "        </FunctionImport>\n";
  out += "      </EntityContainer>\n";
  out += "    </Schema>\n";
  out += "  </edmx:DataServices>\n";
  out += "</edmx:Edmx>\n";
  return out;
}

std::string error_document(std::string_view code, std::string_view message) {
  std::string out(k_xml_decl);
  out += "<m:error xmlns:m=\"" + std::string(k_m_ns) + "\">\n";
  out += "  <m:code>" + xml_escape(code) + "</m:code>\n";
  out += "  <m:message xml:lang=\"en-US\">" + xml_escape(message) + "</m:message>\n";
  out += "</m:error>\n";
  return out;
}

Result<EntryKey> parse_entry_key(std::string_view segment) {
  auto fail = [&] {
    return bad("expected (Id='<id>',Version='<version>') after Packages");
  };
  if (segment.size() < 2 || segment.front() != '(' || segment.back() != ')') return fail();
  std::string_view inner = segment.substr(1, segment.size() - 2);
  std::optional<std::string> id, version;
  size_t i = 0;
  while (i < inner.size()) {
    auto eq = inner.find('=', i);
    if (eq == std::string_view::npos) return fail();
    std::string_view name = inner.substr(i, eq - i);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    size_t j = eq + 1;
    while (j < inner.size() && inner[j] == ' ') ++j;
    if (j >= inner.size() || inner[j] != '\'') return fail();
    // The literal ends at a quote not followed by another quote.
    size_t k = j + 1;
    while (k < inner.size()) {
      if (inner[k] == '\'') {
        if (k + 1 < inner.size() && inner[k + 1] == '\'') {
          k += 2;
          continue;
        }
        break;
      }
      ++k;
    }
    if (k >= inner.size()) return fail();
    auto value = unquote(inner.substr(j, k - j + 1));
    if (!value) return fail();
    if (name == "Id" && !id) {
      id = std::move(*value);
    } else if (name == "Version" && !version) {
      version = std::move(*value);
    } else {
      return fail();
    }
    i = k + 1;
    while (i < inner.size() && inner[i] == ' ') ++i;
    if (i < inner.size()) {
      if (inner[i] != ',') return fail();
      ++i;
    }
  }
  if (!id || !version || id->empty() || version->empty()) return fail();
  return EntryKey{std::move(*id), std::move(*version)};
}

}  // namespace arca::formats::nuget::v2
