#include "formats/asset_path.hpp"

#include "common/log.hpp"
#include "common/url.hpp"
#include "net/codeartifact_upstreams.hpp"

#include <cctype>
#include "net/blocking.hpp"

namespace arca::formats {

using namespace net;

namespace asio = boost::asio;

asio::awaitable<Result<repo::StoredLookup>> locate_stored(Context& ctx, repo::RepositoryList order,
                                                          const repo::OriginPolicy& policy,
                                                          repo::PackageKey key, std::string asset,
                                                          std::string version) {
  auto* store = &ctx.store;
  const auto* p = &policy;
  co_return co_await offload(ctx.pool, [store, p, &order, &key, &asset, &version] {
    return repo::find_stored_asset(*store, order, *p, key, asset, version);
  });
}

asio::awaitable<repo::OriginPolicy> load_policy(Context& ctx, const config::DomainConfig& domain,
                                                const config::RepositoryConfig& requester,
                                                std::string format, std::string ns,
                                                std::string name) {
  auto order = ctx.topology.resolution_order(domain.name, requester.name);
  repo::OriginPolicy policy = ctx.policy(domain.name, format, ns, name);
  auto* p = &policy;
  co_await offload(ctx.pool, [p, &order] {
    p->prefetch(order);
    return true;
  });
  co_return policy;
}

namespace {

// Retains `version` of `key` from `holder` in `requester` and, when that wrote something,
// moves the package's generation. Failures are logged: the client already has its bytes.
asio::awaitable<void> retain_in(Context& ctx, const config::RepositoryConfig& holder,
                                const config::RepositoryConfig& requester, repo::PackageKey key,
                                std::string version, bool force_invalidate) {
  if (version.empty()) co_return;
  bool changed = force_invalidate;
  if (holder.name != requester.name) {
    key.repo = holder.name;
    auto* store = &ctx.store;
    const std::string to = requester.name;
    const std::string connection = holder.external_connection;
    auto wrote = co_await offload(ctx.pool, [store, &key, &to, &version, &connection] {
      return repo::retain(*store, key, to, version, connection);
    });
    if (!wrote) {
      ARCA_LOG_ERROR("retaining {}@{} in {} failed: {}", key.name, version, to,
                     wrote.error().message);
    } else if (*wrote) {
      ++ctx.metrics.retained;
      changed = true;
    }
  }
  if (changed) ctx.generations.package_changed(key.domain, key.format, key.ns, key.name);
}

}  // namespace

asio::awaitable<void> serve_located(Context& ctx, Exchange& exchange,
                                    const config::RepositoryConfig& requester,
                                    repo::StoredAsset stored, repo::PackageKey key,
                                    std::string version, Headers headers) {
  ++ctx.metrics.asset_hits;
  if (!stored.asset.version.empty()) version = stored.asset.version;
  co_await ctx.assets.serve_blob(exchange, stored.blob, std::move(headers));
  if (stored.holder->name == requester.name) co_return;
  co_await retain_in(ctx, *stored.holder, requester, std::move(key), std::move(version), false);
}

namespace {

// Whether an asset URL named by a connection's document may be fetched: the connection's own
// host and port, its allowed_hosts ("host" any port, "host:port"), and for the public
// registries that serve files from another host that host (pypi.org: files.pythonhosted.org;
// index.crates.io: static.crates.io). Upstream documents are not trusted to send arca anywhere
// else (an internal address, a port scan).
bool allowed_asset_host(const config::ExternalConnectionConfig& ec, const Authority& base,
                        const Authority& target) {
  if (target == base) return true;
  static constexpr std::pair<std::string_view, std::string_view> k_file_hosts[] = {
      {"pypi.org", "files.pythonhosted.org"}, {"index.crates.io", "static.crates.io"}};
  for (const auto& [index, files] : k_file_hosts) {
    if (base.host == index && target.host == files) return true;
  }
  for (const auto& h : ec.allowed_hosts) {
    std::string entry = h;
    for (auto& c : entry) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (entry == target.host || entry == target.host + ":" + std::to_string(target.port)) return true;
  }
  return false;
}

}  // namespace

asio::awaitable<Result<void>> fill_and_ingest(Context& ctx, Exchange& exchange, FillSpec spec,
                                              repo::IngestedAsset arrival,
                                              const config::RepositoryConfig& owner,
                                              const config::RepositoryConfig& requester,
                                              Headers headers) {
  if (const auto* ec = ctx.topology.external_connection(owner)) {
    auto base_url = co_await upstream_base_url(ctx.codeartifact, *ec, arrival.package.format);
    if (!base_url) co_return base_url.error();
    auto base = http_authority(*base_url);
    auto target = http_authority(spec.request.url);
    if (!base || !target || !allowed_asset_host(*ec, *base, *target)) {
      ++ctx.metrics.upstream_errors;
      std::string host = target ? target->host + ":" + std::to_string(target->port) : "?";
      ARCA_LOG_WARN("{}: refused to fetch {} of {} from {} (not an allowed host)", ec->name,
                    arrival.asset, arrival.package.name, host);
      co_return make_error(Errc::upstream_error,
                           ec->name + " names " + host + " for " + arrival.asset +
                               ", a host it may not send arca to (external_connections." +
                               ec->name + ".allowed_hosts)");
    }
  }
  arrival.package.repo = owner.name;
  if (arrival.entry.empty()) arrival.entry.external_connection = owner.external_connection;
  auto* store = &ctx.store;
  spec.find_stored = [store, k = arrival.package, file = arrival.asset] {
    return repo::stored_asset_blob(*store, k, file);
  };
  std::vector<std::string> into = repo::retaining_repositories(requester.name, owner.name, true);
  spec.on_commit = [store, arrival, into](cache::Batch& batch, const cache::BlobRecord& record) {
    repo::IngestedAsset a = arrival;
    a.asset_record = repo::AssetRecord{a.version, to_hex(record.digests.sha256), record.size};
    a.blob = record;
    // Runs on the blocking pool. A failed read leaves the version unrecorded: the bytes are
    // stored by content and the next request records it.
    if (auto r = repo::record_arrival(*store, batch, a, into); !r) {
      ARCA_LOG_ERROR("recording {}@{} failed: {}", a.package.name, a.version, r.error().message);
    }
  };
  co_await ctx.assets.fetch_and_serve(exchange, std::move(spec), std::move(headers));
  // A request that joined another repository's fill (or found its commit) retains it here too.
  std::string version = arrival.asset_only ? std::string() : arrival.version;
  co_await retain_in(ctx, owner, requester, arrival.package, std::move(version), true);
  co_return Result<void>();
}

}  // namespace arca::formats
