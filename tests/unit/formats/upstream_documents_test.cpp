#include "formats/upstream_documents.hpp"

#include "formats/view_cache.hpp"
#include "tests/unit/net/upstream_test_server.hpp"
#include "tests/unit/test_support.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <thread>

namespace {

using namespace arca;
using namespace arca::net;
using namespace arca::formats;
using namespace std::chrono_literals;
using arca::test::OriginServer;
using arca::test::Reply;
namespace asio = boost::asio;
namespace http = boost::beast::http;

// The real parts a handler has: a store on disk, the upstream client, a thread pool.
struct Env {
  config::Config config;
  asio::io_context ioc;
  asio::thread_pool pool{2};
  std::unique_ptr<cache::Store> store;
  Metrics metrics;
  std::unique_ptr<UpstreamClient> client;
  std::unique_ptr<AssetService> assets;
  std::unique_ptr<Context> ctx;
  config::ExternalConnectionConfig ec;

  Env(const std::string& name, unsigned short port) {
    config.upstream.connect_timeout = 2000ms;
    config.upstream.read_timeout = 2000ms;
    store = std::move(*cache::Store::open(test::temp_dir(name).string(), cache::StoreOptions{}));
    client = std::make_unique<UpstreamClient>(ioc.get_executor(), config.upstream);
    assets = std::make_unique<AssetService>(ioc, pool, *store, *client, config, metrics);
    ctx.reset(new Context{config,
                          ioc,
                          pool,
                          *store,
                          *client,
                          *assets,
                          metrics,
                          Topology(config),
                          {},
                          nullptr,
                          nullptr,
                          nullptr});
    ec.name = "upstream";
    ec.format = "npm";
    ec.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  }

  Result<UpstreamDocument> get(UpstreamDocuments& docs, const std::string& path) {
    DocumentRequest r;
    r.key = path;
    r.url = ec.url + path;
    r.what = path;
    std::optional<Result<UpstreamDocument>> out;
    asio::co_spawn(
        ioc, docs.get(&ec, std::move(r)),
        [&](std::exception_ptr, Result<UpstreamDocument> d) { out.emplace(std::move(d)); });
    ioc.restart();
    ioc.run();
    return std::move(*out);
  }
};

Result<std::shared_ptr<const void>> refuse_bad(std::string& body, const ResponseHead&,
                                               const std::string&, const std::string&) {
  if (body == "bad") return make_error(Errc::upstream_error, "refused");
  return std::shared_ptr<const void>();
}

Result<std::shared_ptr<const void>> parse_stored_int(const std::string& body) {
  return std::shared_ptr<const void>(std::make_shared<const int>(std::stoi(body)));
}
Result<std::shared_ptr<const void>> parse_int(std::string& body, const ResponseHead&,
                                              const std::string&, const std::string&) {
  body = std::to_string(std::stoi(body) * 10);  // what is stored may differ from the answer
  return parse_stored_int(body);
}

DocumentTraits plain_traits(bool persist_absent) {
  DocumentTraits t;
  t.meta_prefix = "test";
  t.accept = "application/json";
  t.max_bytes = 1 << 20;
  t.persist_absent = persist_absent;
  t.parse_response = &refuse_bad;
  return t;
}

std::string ok_etag(const std::string& body, const std::string& etag) {
  return arca::test::ok(body, "ETag: " + etag + "\r\n");
}

}  // namespace

TEST_SUITE("formats::UpstreamDocuments") {
  TEST_CASE("fetched, kept in memory, revalidated with the ETag after the TTL, stale on failure") {
    std::atomic<int> mode{0};  // 0: 200, 1: 304 when revalidated, 2: 500
    std::atomic<int> conditional{0};
    OriginServer origin([&](const http::request<http::string_body>& req) {
      if (req[http::field::if_none_match] == "\"v1\"") ++conditional;
      if (mode == 1 && req[http::field::if_none_match] == "\"v1\"")
        return Reply{.raw = "HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\n\r\n"};
      if (mode == 2) return Reply{.raw = "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"};
      return Reply{.raw = ok_etag("{\"v\":1}", "\"v1\"")};
    });
    Env env("docs-revalidate", origin.port());
    env.ec.metadata_ttl = 300s;
    {
      UpstreamDocuments docs(*env.ctx, plain_traits(false), 1 << 20);
      auto d = env.get(docs, "a");
      REQUIRE(d.has_value());
      CHECK(d->found);
      CHECK(d->body == "{\"v\":1}");
      auto again = env.get(docs, "a");
      REQUIRE(again.has_value());
      CHECK(again->body == "{\"v\":1}");
      CHECK(origin.requests().size() == 1);
      CHECK(env.metrics.metadata_hits.load() == 1);
    }
    {
      // Another process over the same store: the stored copy is fresh, no request.
      UpstreamDocuments docs(*env.ctx, plain_traits(false), 1 << 20);
      auto d = env.get(docs, "a");
      REQUIRE(d.has_value());
      CHECK(d->body == "{\"v\":1}");
      CHECK(origin.requests().size() == 1);
    }
    env.ec.metadata_ttl = 0s;
    {
      UpstreamDocuments docs(*env.ctx, plain_traits(false), 1 << 20);
      mode = 1;
      auto d = env.get(docs, "a");
      REQUIRE(d.has_value());
      CHECK(d->body == "{\"v\":1}");
      CHECK(conditional.load() == 1);
      CHECK(env.metrics.metadata_revalidated.load() == 1);
      mode = 2;
      auto stale = env.get(docs, "a");
      REQUIRE(stale.has_value());
      CHECK(stale->found);
      CHECK(stale->body == "{\"v\":1}");
      CHECK(env.metrics.metadata_stale_served.load() == 1);
      // Nothing stored and the upstream failing: an error.
      auto missing = env.get(docs, "b");
      CHECK(!missing.has_value());
    }
  }

  TEST_CASE("404s are remembered for the TTL; stored only when the traits say so") {
    OriginServer origin([&](const http::request<http::string_body>&) {
      return Reply{.raw = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"};
    });
    Env env("docs-absent", origin.port());
    for (bool persist : {true, false}) {
      const std::string path = persist ? "kept" : "memory";
      const size_t before = origin.requests().size();
      {
        UpstreamDocuments docs(*env.ctx, plain_traits(persist), 1 << 20);
        auto d = env.get(docs, path);
        REQUIRE(d.has_value());
        CHECK(!d->found);
        auto again = env.get(docs, path);
        REQUIRE(again.has_value());
        CHECK(!again->found);
        CHECK(origin.requests().size() == before + 1);
      }
      UpstreamDocuments fresh(*env.ctx, plain_traits(persist), 1 << 20);
      auto d = env.get(fresh, path);
      REQUIRE(d.has_value());
      CHECK(!d->found);
      CHECK(origin.requests().size() == before + (persist ? 1 : 2));
    }
  }

  TEST_CASE("a body the parser refuses is not stored; the stored copy is served instead") {
    std::atomic<bool> bad{true};
    OriginServer origin([&](const http::request<http::string_body>&) {
      return Reply{.raw = arca::test::ok(bad ? "bad" : "good")};
    });
    Env env("docs-refused", origin.port());
    env.ec.metadata_ttl = 0s;
    UpstreamDocuments docs(*env.ctx, plain_traits(false), 1 << 20);
    auto refused = env.get(docs, "p");
    REQUIRE(!refused.has_value());
    CHECK(refused.error().message == "refused");
    bad = false;
    auto good = env.get(docs, "p");
    REQUIRE(good.has_value());
    CHECK(good->body == "good");
    bad = true;
    auto stale = env.get(docs, "p");
    REQUIRE(stale.has_value());
    CHECK(stale->body == "good");
  }

  TEST_CASE("parsed documents: what the parser stores is what comes back from the store") {
    OriginServer origin(
        [&](const http::request<http::string_body>&) { return Reply{.raw = arca::test::ok("7")}; });
    Env env("docs-parsed", origin.port());
    DocumentTraits t = plain_traits(false);
    t.parse_response = &parse_int;
    t.parse_stored = &parse_stored_int;
    {
      UpstreamDocuments docs(*env.ctx, t, 1 << 20);
      auto d = env.get(docs, "n");
      REQUIRE(d.has_value());
      REQUIRE(d->parsed);
      CHECK(*std::static_pointer_cast<const int>(d->parsed) == 70);
      CHECK(d->body.empty());
    }
    UpstreamDocuments docs(*env.ctx, t, 1 << 20);
    auto d = env.get(docs, "n");
    REQUIRE(d.has_value());
    REQUIRE(d->parsed);
    CHECK(*std::static_pointer_cast<const int>(d->parsed) == 70);
    CHECK(origin.requests().size() == 1);
  }

  TEST_CASE("concurrent requests for one document share one upstream request") {
    OriginServer origin([&](const http::request<http::string_body>&) {
      std::this_thread::sleep_for(200ms);
      return Reply{.raw = arca::test::ok("{}")};
    });
    Env env("docs-flight", origin.port());
    UpstreamDocuments docs(*env.ctx, plain_traits(false), 1 << 20);
    int found = 0;
    for (int i = 0; i < 4; ++i) {
      DocumentRequest r;
      r.key = "same";
      r.url = env.ec.url + "same";
      r.what = "same";
      asio::co_spawn(
          env.ioc, docs.get(&env.ec, std::move(r)),
          [&](std::exception_ptr, Result<UpstreamDocument> d) { found += d && d->found; });
    }
    env.ioc.run();
    CHECK(found == 4);
    CHECK(origin.requests().size() == 1);
  }
}

namespace {
struct TestView {
  uint64_t generation = 0;
  int64_t fresh_until_ms = 0;
  int value = 0;
};
}  // namespace

TEST_SUITE("formats::ViewCache") {
  TEST_CASE("a view is served for its generation until its freshness ends") {
    ViewCache<const TestView> views(1 << 20);
    auto v = std::make_shared<TestView>();
    v->generation = 3;
    v->fresh_until_ms = now_unix_ms() + 60'000;
    v->value = 42;
    CHECK(!views.find("k", 3));
    views.put("k", v, 100);
    auto hit = views.find("k", 3);
    REQUIRE(hit);
    CHECK((*hit)->value == 42);
    CHECK(!views.find("k", 4));  // published content changed
    CHECK(!views.find("other", 3));
    auto stale = std::make_shared<TestView>(*v);
    stale->fresh_until_ms = now_unix_ms() - 1;
    views.put("k", stale, 100);
    CHECK(!views.find("k", 3));  // an upstream document it was built from is no longer fresh
  }
}
