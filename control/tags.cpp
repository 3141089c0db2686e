// The tag operations (TagResource, UntagResource, ListTagsForResource) on domain, repository
// and package-group ARNs.

#include "control/plane.hpp"

namespace arca::control::ops {

using namespace net;
using namespace formats;
using ca::body_string;

namespace {

json tags_json(const std::vector<std::pair<std::string, std::string>>& tags) {
  json out = json::array();
  for (auto& [k, v] : tags) out.push_back({{"key", k}, {"value", v}});
  return out;
}

// with_resource_tags for a package-group ARN.
Reply group_tags(
    Plane& plane, const std::string& arn,
    const std::function<std::optional<ApiError>(std::vector<std::pair<std::string, std::string>>&)>&
        change,
    bool write) {
  std::unique_lock<std::mutex> lock(plane.write_mutex, std::defer_lock);
  if (write) lock.lock();
  auto tags = plane.groups.group_tags(arn);
  if (!tags) return Reply::fail(ca::not_found("Resource not found: " + arn, "package-group", arn));
  if (auto e = change(*tags)) return Reply::fail(*e);
  if (!write) return Reply::ok({{"tags", tags_json(*tags)}});
  auto saved = plane.groups.set_group_tags(arn, std::move(*tags));
  if (!saved) return Reply::fail(ca::internal_error(saved.error().message));
  if (!*saved)
    return Reply::fail(ca::not_found("Resource not found: " + arn, "package-group", arn));
  return Reply::ok(json::object());
}

// Applies `change` to the tags of the resource an ARN names.
Reply with_resource_tags(
    Plane& plane, const Call& call,
    const std::function<std::optional<ApiError>(std::vector<std::pair<std::string, std::string>>&)>&
        change,
    bool write) {
  const std::string arn = call.qs("resourceArn");
  if (arn.find(":package-group/") != std::string::npos)
    return group_tags(plane, arn, change, write);
  auto parsed = ca::parse_arn(arn);
  if (!parsed)
    return Reply::fail(ca::validation_error("not a CodeArtifact domain or repository ARN: " + arn));
  std::unique_lock<std::mutex> lock(plane.write_mutex, std::defer_lock);
  if (write) lock.lock();
  auto* d = plane.ctx.topology.domain(parsed->domain);
  if (!d || parsed->account != owner_of(plane, *d) || parsed->region != region(plane)) {
    return Reply::fail(ca::not_found("Resource not found: " + arn, parsed->kind, arn));
  }
  std::vector<std::pair<std::string, std::string>> tags;
  if (parsed->kind == "domain") {
    config::DomainConfig copy = *d;
    if (auto e = change(copy.tags)) return Reply::fail(*e);
    tags = copy.tags;
    if (write) {
      if (auto s = save_domain(plane, copy); !s)
        return Reply::fail(ca::internal_error(s.error().message));
      if (auto s = apply_domain(plane, copy); !s)
        return Reply::fail(ca::internal_error(s.error().message));
    }
  } else {
    auto found = repo_of(plane, *d, parsed->repository);
    if (std::holds_alternative<ApiError>(found)) {
      return Reply::fail(ca::not_found("Resource not found: " + arn, "repository", arn));
    }
    config::RepositoryConfig copy = *std::get<const config::RepositoryConfig*>(found);
    if (auto e = change(copy.tags)) return Reply::fail(*e);
    tags = copy.tags;
    if (write) {
      if (auto s = save_repo(plane, d->name, copy); !s)
        return Reply::fail(ca::internal_error(s.error().message));
      if (auto s = apply_repo(plane, d->name, copy); !s)
        return Reply::fail(ca::internal_error(s.error().message));
    }
  }
  if (write) return Reply::ok(json::object());
  return Reply::ok({{"tags", tags_json(tags)}});
}

}  // namespace

Reply tag_resource(Plane& plane, const Call& call) {
  if (!call.body.contains("tags")) return Reply::fail(ca::validation_error("'tags' is required"));
  return with_resource_tags(
      plane, call, [&](auto& tags) { return body_tags(call.body, tags, true); }, true);
}

Reply untag_resource(Plane& plane, const Call& call) {
  auto it = call.body.find("tagKeys");
  if (it == call.body.end() || !it->is_array()) {
    return Reply::fail(ca::validation_error("'tagKeys' is required: a list of tag keys"));
  }
  std::vector<std::string> keys;
  for (auto& k : *it) {
    if (!k.is_string())
      return Reply::fail(ca::validation_error("'tagKeys' must be a list of strings"));
    keys.push_back(k);
  }
  return with_resource_tags(
      plane, call,
      [&](auto& tags) -> std::optional<ApiError> {
        tags.erase(std::remove_if(tags.begin(), tags.end(),
                                  [&](auto& t) {
                                    return std::find(keys.begin(), keys.end(), t.first) !=
                                           keys.end();
                                  }),
                   tags.end());
        return std::nullopt;
      },
      true);
}

Reply list_tags(Plane& plane, const Call& call) {
  return with_resource_tags(
      plane, call, [](auto&) -> std::optional<ApiError> { return std::nullopt; }, false);
}

}  // namespace arca::control::ops
