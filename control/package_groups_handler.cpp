#include "control/package_groups_handler.hpp"

#include "common/log.hpp"
#include "control/api_handler.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <variant>

namespace arca::control {

using namespace net;
using namespace formats;

namespace ca = api;
namespace pg = repo::groups;
using json = nlohmann::json;
using ca::ApiError;
using ca::body_string;

namespace {

constexpr char k_sep = '\x1f';
constexpr int k_default_page = 100;

std::string group_key(std::string_view domain, std::string_view pattern) {
  return "pg" + std::string(1, k_sep) + std::string(domain) + k_sep + std::string(pattern);
}
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string encode_group(const pg::Group& g) {
  json modes = json::object();
  json lists = json::object();
  for (auto t : pg::k_restriction_types) {
    auto i = static_cast<size_t>(t);
    modes[std::string(pg::to_string(t))] = std::string(pg::to_string(g.modes[i]));
    lists[std::string(pg::to_string(t))] = g.allowed[i];
  }
  json tags = json::array();
  for (auto& [k, v] : g.tags) tags.push_back(json::array({k, v}));
  return dump({{"pattern", g.pattern},
               {"contact_info", g.contact_info},
               {"description", g.description},
               {"created", g.created_unix_ms},
               {"tags", tags},
               {"modes", modes},
               {"allowed", lists}});
}

std::optional<pg::Group> decode_group(std::string_view s) {
  auto j = json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  pg::Group g;
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  g.pattern = str("pattern");
  g.contact_info = str("contact_info");
  g.description = str("description");
  if (auto it = j.find("created"); it != j.end() && it->is_number_integer())
    g.created_unix_ms = it->get<int64_t>();
  if (auto it = j.find("tags"); it != j.end() && it->is_array()) {
    for (auto& t : *it) {
      if (t.is_array() && t.size() == 2 && t[0].is_string() && t[1].is_string())
        g.tags.emplace_back(t[0], t[1]);
    }
  }
  for (auto t : pg::k_restriction_types) {
    auto i = static_cast<size_t>(t);
    const std::string name(pg::to_string(t));
    if (auto m = j.find("modes"); m != j.end() && m->is_object()) {
      if (auto v = m->find(name); v != m->end() && v->is_string()) {
        if (auto mode = pg::parse_mode(v->get<std::string>())) g.modes[i] = *mode;
      }
    }
    if (auto a = j.find("allowed"); a != j.end() && a->is_object()) {
      if (auto v = a->find(name); v != a->end() && v->is_array()) {
        for (auto& r : *v) {
          if (r.is_string()) g.allowed[i].insert(r.get<std::string>());
        }
      }
    }
  }
  if (g.pattern.empty()) return std::nullopt;
  return g;
}

std::optional<ApiError> check_pattern_shape(std::string_view member, std::string_view value) {
  if (value.size() < 2 || value.size() > 520) {
    return ca::validation_error("1 validation error detected: Value at '" + std::string(member) +
                                "' failed to satisfy constraint: Member must have length between "
                                "2 and 520");
  }
  return std::nullopt;
}

struct Page {
  size_t begin = 0, end = 0;
  std::string next;
};

}  // namespace

struct PackageGroupsHandler::Impl {
  Context& ctx;
  mutable std::shared_mutex mutex;  // guards `domains`
  std::mutex write_mutex;           // serializes writes
  std::map<std::string, pg::GroupIndex, std::less<>> domains;

  explicit Impl(Context& c) : ctx(c) {}

  const std::string& region() const { return ctx.config.region; }

  std::string owner_of(const config::DomainConfig& d) const {
    return d.owner.empty() ? primary_account(ctx.config) : d.owner;
  }

  std::string group_arn(const config::DomainConfig& d, std::string_view pattern) const {
    return "arn:aws:codeartifact:" + region() + ":" + owner_of(d) + ":package-group/" + d.name +
           std::string(pattern);
  }

  // Prereq: `mutex` held (shared or unique). The domain's index, or nullptr when it has none
  // yet (then it holds only the implicit root).
  const pg::GroupIndex* index_of(std::string_view domain) const {
    auto it = domains.find(domain);
    return it == domains.end() ? nullptr : &it->second;
  }
  // Prereq: `mutex` held (shared or unique). The domain's index, or `fallback` set to one
  // holding only the root group when the domain has none yet.
  const pg::GroupIndex* index_or_root(const config::DomainConfig& d,
                                      std::optional<pg::GroupIndex>& fallback) const {
    if (auto* index = index_of(d.name)) return index;
    return &fallback.emplace(d.created_unix_ms);
  }
  // Prereq: unique `mutex`.
  pg::GroupIndex& index_for_write(const config::DomainConfig& d) {
    auto it = domains.find(d.name);
    if (it == domains.end()) it = domains.emplace(d.name, pg::GroupIndex(d.created_unix_ms)).first;
    return it->second;
  }

  json reference(const config::DomainConfig& d, const pg::Group& g) const {
    return {{"arn", group_arn(d, g.pattern)}, {"pattern", g.pattern}};
  }

  json description(const config::DomainConfig& d, const pg::GroupIndex& index,
                   const pg::Group& g) const {
    json restrictions = json::object();
    for (auto t : pg::k_restriction_types) {
      auto i = static_cast<size_t>(t);
      auto eff = index.effective(g, t);
      json r = {{"mode", std::string(pg::to_string(g.modes[i]))},
                {"effectiveMode", std::string(pg::to_string(eff.mode))},
                {"repositoriesCount", g.allowed[i].size()}};
      if (g.modes[i] == pg::Mode::inherit && eff.source)
        r["inheritedFrom"] = reference(d, *eff.source);
      restrictions[std::string(pg::to_string(t))] = r;
    }
    json j = {{"arn", group_arn(d, g.pattern)},
              {"pattern", g.pattern},
              {"domainName", d.name},
              {"domainOwner", owner_of(d)},
              {"createdTime", ca::timestamp(g.created_unix_ms)},
              {"originConfiguration", {{"restrictions", restrictions}}}};
    if (!g.contact_info.empty()) j["contactInfo"] = g.contact_info;
    if (!g.description.empty()) j["description"] = g.description;
    if (auto* parent = index.parent(g.pattern)) j["parent"] = reference(d, *parent);
    return j;
  }

  // The domain and pattern a package-group ARN of this region and account names:
  // "arn:aws:codeartifact:<region>:<account>:package-group/<domain><pattern>".
  std::optional<std::pair<config::DomainConfig, std::string>> group_of_arn(
      std::string_view arn) const {
    constexpr std::string_view k_kind = ":package-group/";
    auto at = arn.find(k_kind);
    if (at == std::string_view::npos) return std::nullopt;
    auto rest = arn.substr(at + k_kind.size());
    auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return std::nullopt;
    auto* d = ctx.topology.domain(rest.substr(0, slash));
    if (!d) return std::nullopt;
    if (arn != group_arn(*d, rest.substr(slash))) return std::nullopt;  // region, account
    return std::pair{*d, std::string(rest.substr(slash))};
  }

  // --- Request helpers ---

  static std::string qs(const ca::Query& q, const char* name) {
    auto it = q.find(name);
    return it == q.end() ? std::string() : it->second;
  }
  static std::optional<std::string> q(const ca::Query& query, const char* name) {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }

  std::variant<const config::DomainConfig*, ApiError> domain_of(const ca::Query& query) const {
    const std::string name = qs(query, "domain");
    auto* d = ctx.topology.domain(name);
    if (!d || (q(query, "domain-owner") && *q(query, "domain-owner") != owner_of(*d))) {
      return ca::not_found("Domain not found: " + name, "domain", name);
    }
    return d;
  }

  static bool has_repo(const config::DomainConfig& d, const std::string& name) {
    return std::any_of(d.repositories.begin(), d.repositories.end(),
                       [&](auto& r) { return r.name == name; });
  }

  static ApiError group_not_found(const std::string& pattern) {
    return ca::not_found("Package group not found: " + pattern, "package-group", pattern);
  }

  static std::optional<ApiError> parse(const std::string& text, pg::Pattern& out) {
    if (auto e = check_pattern_shape("packageGroup", text)) return e;
    std::string error;
    auto p = pg::parse_pattern(text, error);
    if (!p) return ca::validation_error(error);
    out = std::move(*p);
    return std::nullopt;
  }

  static std::variant<Page, ApiError> page(const std::vector<std::string>& sorted_keys,
                                           const ca::Query& query, int limit_max = 1000) {
    int max = k_default_page;
    if (auto e = ca::parse_max_results(q(query, "max-results"), k_default_page, max)) return *e;
    max = std::min(max, limit_max);
    Page p;
    if (auto token = q(query, "next-token")) {
      auto after = ca::decode_next_token(*token);
      if (!after) return ca::validation_error("the nextToken is not valid");
      p.begin = static_cast<size_t>(
          std::upper_bound(sorted_keys.begin(), sorted_keys.end(), *after) - sorted_keys.begin());
    }
    p.end = std::min(sorted_keys.size(), p.begin + static_cast<size_t>(max));
    if (p.end < sorted_keys.size() && p.end > p.begin)
      p.next = ca::encode_next_token(sorted_keys[p.end - 1]);
    return p;
  }

  Result<void> save(const config::DomainConfig& d, const pg::Group& g) {
    return ctx.store.put(cache::Space::index, group_key(d.name, g.pattern), encode_group(g));
  }

  // --- Operations ---

  Outcome create(const config::DomainConfig& d, const json& body) {
    pg::Group g;
    if (auto e = body_string(body, "packageGroup", g.pattern, true)) return {e};
    pg::Pattern p;
    if (auto e = parse(g.pattern, p)) return {e};
    if (auto e = body_string(body, "contactInfo", g.contact_info)) return {e};
    if (auto e = ca::check_description("contactInfo", g.contact_info)) return {e};
    if (auto e = body_string(body, "description", g.description)) return {e};
    if (auto e = ca::check_description("description", g.description)) return {e};
    if (auto it = body.find("tags"); it != body.end() && !it->is_null()) {
      if (!it->is_array()) return {ca::validation_error("'tags' must be a list of {key, value}")};
      for (auto& t : *it) {
        if (!t.is_object() || !t.contains("key") || !t["key"].is_string() || !t.contains("value") ||
            !t["value"].is_string()) {
          return {ca::validation_error("every tag needs a string 'key' and 'value'")};
        }
        if (auto e = ca::check_tag(t["key"].get<std::string>(), t["value"].get<std::string>()))
          return {e};
        g.tags.emplace_back(t["key"], t["value"]);
      }
    }
    g.created_unix_ms = now_unix_ms();
    std::unique_lock lock(mutex);
    auto& index = index_for_write(d);
    if (index.find(g.pattern)) {
      return {
          ca::conflict("Package group already exists: " + g.pattern, "package-group", g.pattern)};
    }
    if (auto r = save(d, g); !r) return {ca::internal_error(r.error().message)};
    index.put(g);
    ARCA_LOG_INFO("control plane: created package group {} in {}", g.pattern, d.name);
    return {std::nullopt, {{"packageGroup", description(d, index, *index.find(g.pattern))}}};
  }

  Outcome describe(const config::DomainConfig& d, const std::string& pattern) {
    pg::Pattern p;
    if (auto e = parse(pattern, p)) return {e};
    std::shared_lock lock(mutex);
    std::optional<pg::GroupIndex> fallback;
    const pg::GroupIndex* index = index_or_root(d, fallback);
    auto* g = index->find(pattern);
    if (!g) return {group_not_found(pattern)};
    return {std::nullopt, {{"packageGroup", description(d, *index, *g)}}};
  }

  Outcome update(const config::DomainConfig& d, const json& body) {
    std::string pattern;
    if (auto e = body_string(body, "packageGroup", pattern, true)) return {e};
    pg::Pattern p;
    if (auto e = parse(pattern, p)) return {e};
    std::unique_lock lock(mutex);
    auto& index = index_for_write(d);
    auto* found = index.find(pattern);
    if (!found) return {group_not_found(pattern)};
    pg::Group g = *found;
    if (body.contains("contactInfo")) {
      if (auto e = body_string(body, "contactInfo", g.contact_info)) return {e};
      if (auto e = ca::check_description("contactInfo", g.contact_info)) return {e};
    }
    if (body.contains("description")) {
      if (auto e = body_string(body, "description", g.description)) return {e};
      if (auto e = ca::check_description("description", g.description)) return {e};
    }
    if (auto r = save(d, g); !r) return {ca::internal_error(r.error().message)};
    index.put(g);
    return {std::nullopt, {{"packageGroup", description(d, index, *index.find(pattern))}}};
  }

  Outcome update_origin(const config::DomainConfig& d, const std::string& pattern,
                        const json& body) {
    pg::Pattern p;
    if (auto e = parse(pattern, p)) return {e};
    // Validate everything before changing anything.
    std::vector<std::pair<pg::RestrictionType, pg::Mode>> modes;
    if (auto it = body.find("restrictions"); it != body.end() && !it->is_null()) {
      if (!it->is_object())
        return {ca::validation_error("'restrictions' must be a map of restriction type to mode")};
      for (auto r = it->begin(); r != it->end(); ++r) {
        auto type = pg::parse_restriction_type(r.key());
        if (!type) {
          return {ca::validation_error("'" + r.key().substr(0, 100) +
                                       "' is not an origin restriction type (EXTERNAL_UPSTREAM, "
                                       "INTERNAL_UPSTREAM, PUBLISH)")};
        }
        auto mode =
            r.value().is_string() ? pg::parse_mode(r.value().get<std::string>()) : std::nullopt;
        if (!mode) {
          return {ca::validation_error(
              "restriction modes are ALLOW, ALLOW_SPECIFIC_REPOSITORIES, BLOCK or INHERIT")};
        }
        if (*mode == pg::Mode::inherit && pattern == "/*")
          return {ca::validation_error("the root package group /* cannot inherit")};
        modes.emplace_back(*type, *mode);
      }
    }
    using RepoChange = std::pair<pg::RestrictionType, std::string>;
    auto read_list = [&](const char* member,
                         std::vector<RepoChange>& out) -> std::optional<ApiError> {
      auto it = body.find(member);
      if (it == body.end() || it->is_null()) return std::nullopt;
      if (!it->is_array()) {
        return ca::validation_error(std::string("'") + member +
                                    "' must be a list of {repositoryName, originRestrictionType}");
      }
      for (auto& item : *it) {
        if (!item.is_object() || !item.contains("repositoryName") ||
            !item["repositoryName"].is_string() || !item.contains("originRestrictionType") ||
            !item["originRestrictionType"].is_string()) {
          return ca::validation_error(
              std::string("'") + member +
              "' must be a list of {repositoryName, originRestrictionType}");
        }
        const std::string repo = item["repositoryName"];
        if (auto e = ca::check_repository_name("repositoryName", repo)) return e;
        auto type = pg::parse_restriction_type(item["originRestrictionType"].get<std::string>());
        if (!type) return ca::validation_error("'originRestrictionType' is not valid");
        if (!has_repo(d, repo)) {
          return ca::not_found("Repository not found: " + repo + " in domain " + d.name,
                               "repository", repo);
        }
        out.emplace_back(*type, repo);
      }
      return std::nullopt;
    };
    std::vector<RepoChange> added, removed;
    if (auto e = read_list("addAllowedRepositories", added)) return {e};
    if (auto e = read_list("removeAllowedRepositories", removed)) return {e};

    std::unique_lock lock(mutex);
    auto& index = index_for_write(d);
    auto* found = index.find(pattern);
    if (!found) return {group_not_found(pattern)};
    pg::Group g = *found;
    for (auto& [t, m] : modes) g.modes[static_cast<size_t>(t)] = m;
    json updates = json::object();
    auto note = [&](pg::RestrictionType t, const char* kind, const std::string& repo) {
      auto& slot = updates[std::string(pg::to_string(t))][kind];
      if (!slot.is_array()) slot = json::array();
      slot.push_back(repo);
    };
    for (auto& [t, repo] : added) {
      if (g.allowed[static_cast<size_t>(t)].insert(repo).second) note(t, "ADDED", repo);
    }
    for (auto& [t, repo] : removed) {
      if (g.allowed[static_cast<size_t>(t)].erase(repo)) note(t, "REMOVED", repo);
    }
    if (auto r = save(d, g); !r) return {ca::internal_error(r.error().message)};
    index.put(g);
    return {std::nullopt,
            {{"packageGroup", description(d, index, *index.find(pattern))},
             {"allowedRepositoryUpdates", updates}}};
  }

  Outcome remove(const config::DomainConfig& d, const std::string& pattern) {
    pg::Pattern p;
    if (auto e = parse(pattern, p)) return {e};
    if (pattern == "/*")
      return {ca::validation_error("the root package group /* cannot be deleted")};
    std::unique_lock lock(mutex);
    auto& index = index_for_write(d);
    auto* found = index.find(pattern);
    if (!found) return {group_not_found(pattern)};
    json desc = description(d, index, *found);
    cache::Batch batch;
    batch.del(cache::Space::index, group_key(d.name, pattern));
    if (auto r = ctx.store.commit(std::move(batch), true); !r)
      return {ca::internal_error(r.error().message)};
    index.remove(pattern);  // children now find the deleted group's parent
    ARCA_LOG_INFO("control plane: deleted package group {} in {}", pattern, d.name);
    return {std::nullopt, {{"packageGroup", desc}}};
  }

  Outcome list(const config::DomainConfig& d, const ca::Query& query,
               const std::optional<std::string>& parent_of) {
    std::shared_lock lock(mutex);
    std::optional<pg::GroupIndex> fallback;
    const pg::GroupIndex* index = index_or_root(d, fallback);
    std::vector<const pg::Group*> groups;
    if (parent_of) {
      pg::Pattern p;
      if (auto e = parse(*parent_of, p)) return {e};
      if (!index->find(*parent_of)) return {group_not_found(*parent_of)};
      groups = index->children(*parent_of);
    } else {
      const std::string prefix = qs(query, "prefix");
      for (auto* g : index->all()) {
        if (g->pattern.compare(0, prefix.size(), prefix) == 0) groups.push_back(g);
      }
    }
    std::vector<std::string> keys;
    for (auto* g : groups) keys.push_back(g->pattern);  // all() and children() are sorted
    auto pg_page = page(keys, query);
    if (auto* e = std::get_if<ApiError>(&pg_page)) return {*e};
    auto& pp = std::get<Page>(pg_page);
    json out = json::array();
    for (size_t i = pp.begin; i < pp.end; ++i) out.push_back(description(d, *index, *groups[i]));
    json body = {{"packageGroups", out}};
    if (!pp.next.empty()) body["nextToken"] = pp.next;
    return {std::nullopt, body};
  }

  Outcome associated_packages(const config::DomainConfig& d, const std::string& pattern,
                              const ca::Query& query) {
    pg::Pattern p;
    if (auto e = parse(pattern, p)) return {e};
    if (auto preview = q(query, "preview"); preview && *preview != "true" && *preview != "false")
      return {ca::validation_error("'preview' must be true or false")};
    // Every package of the domain, across repositories (package or version records).
    std::map<std::string, PackageKey> packages;
    for (const char* kind : {"pk", "pv"}) {
      auto rows = ctx.store.scan(cache::Space::index, std::string(kind) + k_sep + d.name + k_sep,
                                 100'000'000);
      if (!rows) return {ca::internal_error(rows.error().message)};
      for (auto& [key, value] : *rows) {
        std::vector<std::string> parts;
        size_t pos = 0;
        for (;;) {
          auto next = key.find(k_sep, pos);
          parts.push_back(key.substr(pos, next == std::string::npos ? next : next - pos));
          if (next == std::string::npos) break;
          pos = next + 1;
        }
        if (parts.size() < 6) continue;
        packages.emplace(parts[3] + k_sep + parts[4] + k_sep + parts[5],
                         PackageKey{d.name, {}, parts[3], parts[4], parts[5]});
      }
    }
    std::shared_lock lock(mutex);
    std::optional<pg::GroupIndex> fallback;
    const pg::GroupIndex* index = index_or_root(d, fallback);
    // preview: the packages that would be associated with the group if it existed (the model:
    // "even if it does not exist"), matched against the domain's groups plus this one.
    std::optional<pg::GroupIndex> trial;
    if (!index->find(pattern)) {
      if (q(query, "preview") != std::optional<std::string>("true")) return {group_not_found(pattern)};
      trial.emplace(d.created_unix_ms);
      for (auto* g : index->all()) trial->put(*g);
      pg::Group g;
      g.pattern = pattern;
      trial->put(std::move(g));
      index = &*trial;
    }
    std::vector<std::string> keys;
    std::vector<json> items;
    for (auto& [id, k] : packages) {
      auto m = index->match(k.format, k.ns, k.name);
      if (m.group->pattern != pattern) continue;
      json j = {{"format", k.format},
                {"package", k.name},
                {"associationType", m.association == pg::Association::strong ? "STRONG" : "WEAK"}};
      if (!k.ns.empty()) j["namespace"] = k.ns;
      keys.push_back(id);
      items.push_back(std::move(j));
    }
    auto pg_page = page(keys, query);
    if (auto* e = std::get_if<ApiError>(&pg_page)) return {*e};
    auto& pp = std::get<Page>(pg_page);
    json out = json::array();
    for (size_t i = pp.begin; i < pp.end; ++i) out.push_back(items[i]);
    json body = {{"packages", out}};
    if (!pp.next.empty()) body["nextToken"] = pp.next;
    return {std::nullopt, body};
  }

  Outcome associated_group(const config::DomainConfig& d, const ca::Query& query) {
    const std::string format = qs(query, "format");
    const std::string ns = qs(query, "namespace");
    const std::string name = qs(query, "package");
    std::shared_lock lock(mutex);
    std::optional<pg::GroupIndex> fallback;
    const pg::GroupIndex* index = index_or_root(d, fallback);
    auto m = index->match(format, ns, name);
    return {std::nullopt,
            {{"packageGroup", description(d, *index, *m.group)},
             {"associationType", m.association == pg::Association::strong ? "STRONG" : "WEAK"}}};
  }

  Outcome allowed_repositories(const config::DomainConfig& d, const std::string& pattern,
                               const ca::Query& query) {
    pg::Pattern p;
    if (auto e = parse(pattern, p)) return {e};
    auto type = pg::parse_restriction_type(qs(query, "originRestrictionType"));
    if (!type) {
      return {ca::validation_error(
          "'originRestrictionType' must be EXTERNAL_UPSTREAM, INTERNAL_UPSTREAM or PUBLISH")};
    }
    std::shared_lock lock(mutex);
    std::optional<pg::GroupIndex> fallback;
    const pg::GroupIndex* index = index_or_root(d, fallback);
    auto* g = index->find(pattern);
    if (!g) return {group_not_found(pattern)};
    auto& set = g->allowed[static_cast<size_t>(*type)];
    std::vector<std::string> keys(set.begin(), set.end());
    auto pg_page = page(keys, query);
    if (auto* e = std::get_if<ApiError>(&pg_page)) return {*e};
    auto& pp = std::get<Page>(pg_page);
    json out = json::array();
    for (size_t i = pp.begin; i < pp.end; ++i) out.push_back(keys[i]);
    json body = {{"allowedRepositories", out}};
    if (!pp.next.empty()) body["nextToken"] = pp.next;
    return {std::nullopt, body};
  }

  Outcome put_package_origin(const config::DomainConfig& d, const ca::Query& query,
                             const json& body) {
    PackageKey k{d.name, qs(query, "repository"), qs(query, "format"), qs(query, "namespace"),
                 qs(query, "package")};
    if (!has_repo(d, k.repo)) {
      return {ca::not_found("Repository not found: " + k.repo + " in domain " + d.name,
                            "repository", k.repo)};
    }
    if (k.format == "generic" && k.ns.empty())
      return {ca::validation_error("generic packages require a namespace")};
    auto it = body.find("restrictions");
    if (it == body.end() || it->is_null()) {
      return {ca::validation_error(
          "1 validation error detected: Value null at 'restrictions' failed to satisfy "
          "constraint: Member must not be null")};
    }
    if (!it->is_object()) return {ca::validation_error("'restrictions' must be an object")};
    json restrictions = json::object();
    for (const char* member : {"publish", "upstream"}) {
      auto v = it->find(member);
      if (v == it->end() || !v->is_string() ||
          (v->get<std::string>() != "ALLOW" && v->get<std::string>() != "BLOCK")) {
        return {ca::validation_error(std::string("'restrictions.") + member +
                                     "' is required and must be ALLOW or BLOCK")};
      }
      restrictions[member] = *v;
    }
    json config = {{"restrictions", restrictions}};
    std::lock_guard lock(write_mutex);
    cache::Batch batch;
    batch.put(cache::Space::index, origin_key(k), dump(config));
    // Setting controls on a package that does not exist creates an empty package record.
    auto existing = ctx.store.get(cache::Space::index, package_key(k));
    if (!existing) return {ca::internal_error(existing.error().message)};
    if (!*existing) {
      PackageRecord rec;
      rec.created_unix_ms = now_unix_ms();
      batch.put(cache::Space::index, package_key(k), encode(rec));
    }
    if (auto r = ctx.store.commit(std::move(batch), true); !r)
      return {ca::internal_error(r.error().message)};
    return {std::nullopt, {{"originConfiguration", config}}};
  }
};

namespace {

const std::vector<ca::Operation>& group_operations() {
  static const std::vector<ca::Operation> ops = {
      {"CreatePackageGroup", "POST", "/v1/package-group", {"domain", "domain-owner"}, {"domain"}},
      {"DescribePackageGroup",
       "GET",
       "/v1/package-group",
       {"domain", "domain-owner", "package-group"},
       {"domain", "package-group"}},
      {"UpdatePackageGroup", "PUT", "/v1/package-group", {"domain", "domain-owner"}, {"domain"}},
      {"UpdatePackageGroupOriginConfiguration",
       "PUT",
       "/v1/package-group-origin-configuration",
       {"domain", "domain-owner", "package-group"},
       {"domain", "package-group"}},
      {"DeletePackageGroup",
       "DELETE",
       "/v1/package-group",
       {"domain", "domain-owner", "package-group"},
       {"domain", "package-group"}},
      {"ListPackageGroups",
       "POST",
       "/v1/package-groups",
       {"domain", "domain-owner", "max-results", "next-token", "prefix"},
       {"domain"}},
      {"ListSubPackageGroups",
       "POST",
       "/v1/package-groups/sub-groups",
       {"domain", "domain-owner", "package-group", "max-results", "next-token"},
       {"domain", "package-group"}},
      {"ListAssociatedPackages",
       "GET",
       "/v1/list-associated-packages",
       {"domain", "domain-owner", "package-group", "max-results", "next-token", "preview"},
       {"domain", "package-group"}},
      {"GetAssociatedPackageGroup",
       "GET",
       "/v1/get-associated-package-group",
       {"domain", "domain-owner", "format", "namespace", "package"},
       {"domain", "format", "package"}},
      {"ListAllowedRepositoriesForGroup",
       "GET",
       "/v1/package-group-allowed-repositories",
       {"domain", "domain-owner", "package-group", "originRestrictionType", "max-results",
        "next-token"},
       {"domain", "package-group", "originRestrictionType"}},
      {"PutPackageOriginConfiguration",
       "POST",
       "/v1/package",
       {"domain", "domain-owner", "repository", "format", "namespace", "package"},
       {"domain", "repository", "format", "package"}},
  };
  return ops;
}

}  // namespace

PackageGroupsHandler::PackageGroupsHandler(Context& context)
    : impl_(std::make_unique<Impl>(context)) {
  auto rows = context.store.scan(cache::Space::index, std::string("pg") + k_sep, 100'000'000);
  if (!rows) {
    ARCA_LOG_WARN("package groups: loading failed: {}", rows.error().message);
    return;
  }
  size_t n = 0;
  for (auto& [key, value] : *rows) {
    auto first = key.find(k_sep);
    auto second = key.find(k_sep, first + 1);
    if (second == std::string::npos) continue;
    const std::string domain = key.substr(first + 1, second - first - 1);
    auto g = decode_group(value);
    if (!g) continue;
    auto* d = context.topology.domain(domain);
    auto it = impl_->domains.find(domain);
    if (it == impl_->domains.end()) {
      it = impl_->domains.emplace(domain, pg::GroupIndex(d ? d->created_unix_ms : 0)).first;
    }
    it->second.put(std::move(*g));
    ++n;
  }
  if (n) ARCA_LOG_INFO("package groups: loaded {}", n);
}

PackageGroupsHandler::~PackageGroupsHandler() = default;

const ca::Operation* PackageGroupsHandler::find_operation(std::string_view method,
                                                          std::string_view path) {
  for (auto& op : group_operations()) {
    if (op.method == method && op.path == path) return &op;
  }
  return nullptr;
}

PackageGroupsHandler::Outcome PackageGroupsHandler::run(const ca::Operation& op,
                                                        const ca::Query& query, const json& body,
                                                        const std::string& /*account*/) {
  auto& impl = *impl_;
  auto found = impl.domain_of(query);
  if (auto* e = std::get_if<ApiError>(&found)) return {*e};
  const config::DomainConfig domain = *std::get<const config::DomainConfig*>(found);
  const std::string_view name = op.name;
  const std::string pattern = Impl::qs(query, "package-group");
  if (name == "CreatePackageGroup") return impl.create(domain, body);
  if (name == "DescribePackageGroup") return impl.describe(domain, pattern);
  if (name == "UpdatePackageGroup") return impl.update(domain, body);
  if (name == "UpdatePackageGroupOriginConfiguration")
    return impl.update_origin(domain, pattern, body);
  if (name == "DeletePackageGroup") return impl.remove(domain, pattern);
  if (name == "ListPackageGroups") return impl.list(domain, query, std::nullopt);
  if (name == "ListSubPackageGroups") return impl.list(domain, query, pattern);
  if (name == "ListAssociatedPackages") return impl.associated_packages(domain, pattern, query);
  if (name == "GetAssociatedPackageGroup") return impl.associated_group(domain, query);
  if (name == "ListAllowedRepositoriesForGroup")
    return impl.allowed_repositories(domain, pattern, query);
  if (name == "PutPackageOriginConfiguration") return impl.put_package_origin(domain, query, body);
  return {ca::unknown_operation(op.method, op.path)};
}

pg::OriginRestrictions PackageGroupsHandler::origin_restrictions(std::string_view domain,
                                                                 std::string_view format,
                                                                 std::string_view ns,
                                                                 std::string_view name) const {
  std::shared_lock lock(impl_->mutex);
  if (auto* index = impl_->index_of(domain)) {
    auto r = index->origin_restrictions(format, ns, name);
    r.group = nullptr;  // the pointer would outlive the lock
    return r;
  }
  return pg::OriginRestrictions{};  // only the root group: everything allowed
}

OriginPolicy PackageGroupsHandler::policy(std::string_view domain, std::string_view format,
                                          std::string_view ns, std::string_view name) const {
  pg::OriginRestrictions group;
  std::string pattern = "/*";
  {
    std::shared_lock lock(impl_->mutex);
    if (auto* index = impl_->index_of(domain)) {
      group = index->origin_restrictions(format, ns, name);
      if (group.group) pattern = group.group->pattern;
      group.group = nullptr;  // the pointer would outlive the lock
    }
  }
  return OriginPolicy(&impl_->ctx.store,
                      PackageKey{std::string(domain), {}, std::string(format), std::string(ns),
                                 std::string(name)},
                      std::move(group), std::move(pattern));
}

std::string PackageGroupsHandler::associated_group(std::string_view domain,
                                                   std::string_view format, std::string_view ns,
                                                   std::string_view name) const {
  std::shared_lock lock(impl_->mutex);
  if (auto* index = impl_->index_of(domain)) {
    auto m = index->match(format, ns, name);
    if (m.group) return m.group->pattern;
  }
  return "/*";
}

bool PackageGroupsHandler::changes_restrictions(std::string_view operation) {
  return operation == "CreatePackageGroup" || operation == "UpdatePackageGroup" ||
         operation == "UpdatePackageGroupOriginConfiguration" ||
         operation == "DeletePackageGroup" || operation == "PutPackageOriginConfiguration";
}

std::optional<json> PackageGroupsHandler::package_origin(const PackageKey& key) const {
  return repo::stored_origin(impl_->ctx.store, key);
}

Result<void> PackageGroupsHandler::forget_domain(const std::string& domain) {
  std::lock_guard write(impl_->write_mutex);
  cache::Batch batch;
  for (const char* kind : {"pg", "po"}) {
    ARCA_TRY(auto rows, impl_->ctx.store.scan(cache::Space::index,
                                              std::string(kind) + k_sep + domain + k_sep,
                                              100'000'000));
    for (auto& [key, value] : rows) batch.del(cache::Space::index, key);
  }
  ARCA_TRY_VOID(impl_->ctx.store.commit(std::move(batch), true));
  std::unique_lock lock(impl_->mutex);
  impl_->domains.erase(domain);
  return {};
}

Result<void> PackageGroupsHandler::forget_repository(const std::string& domain,
                                                      const std::string& repository) {
  auto& impl = *impl_;
  std::lock_guard write(impl.write_mutex);
  std::unique_lock lock(impl.mutex);
  auto it = impl.domains.find(domain);
  if (it == impl.domains.end()) return {};
  std::vector<pg::Group> changed;
  for (const pg::Group* g : it->second.all()) {
    pg::Group copy = *g;
    bool any = false;
    for (auto& list : copy.allowed) any |= list.erase(repository) > 0;
    if (any) changed.push_back(std::move(copy));
  }
  if (changed.empty()) return {};
  cache::Batch batch;
  for (auto& g : changed) batch.put(cache::Space::index, group_key(domain, g.pattern), encode_group(g));
  ARCA_TRY_VOID(impl.ctx.store.commit(std::move(batch), true));
  for (auto& g : changed) it->second.put(std::move(g));
  return {};
}

void PackageGroupsHandler::forget_package(cache::Batch& batch, const PackageKey& key) {
  batch.del(cache::Space::index, origin_key(key));
}

std::optional<std::vector<std::pair<std::string, std::string>>> PackageGroupsHandler::group_tags(
    const std::string& arn) const {
  auto& impl = *impl_;
  auto target = impl.group_of_arn(arn);
  if (!target) return std::nullopt;
  std::shared_lock lock(impl.mutex);
  std::optional<pg::GroupIndex> fallback;
  const pg::GroupIndex* index = impl.index_or_root(target->first, fallback);
  auto* g = index->find(target->second);
  if (!g) return std::nullopt;
  return g->tags;
}

Result<bool> PackageGroupsHandler::set_group_tags(
    const std::string& arn, std::vector<std::pair<std::string, std::string>> tags) {
  auto& impl = *impl_;
  auto target = impl.group_of_arn(arn);
  if (!target) return false;
  std::unique_lock lock(impl.mutex);
  auto& index = impl.index_for_write(target->first);
  auto* found = index.find(target->second);
  if (!found) return false;
  pg::Group g = *found;
  g.tags = std::move(tags);
  ARCA_TRY_VOID(impl.save(target->first, g));
  index.put(std::move(g));
  return true;
}

}  // namespace arca::control
