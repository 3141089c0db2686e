#pragma once
// The parts main.cpp wires, over a fresh store on disk, for driving the router and the formats
// without sockets: repositories `store` and `app` (app's upstream: store) in domain `local`.

#include "app/router.hpp"
#include "formats/registry.hpp"
#include "net/assets.hpp"
#include "net/metrics.hpp"
#include "net/upstream_client.hpp"
#include "tests/unit/fake_exchange.hpp"
#include "tests/unit/test_support.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <string>

namespace arca::test {

struct DataPlaneEnv {
  config::Config config;
  boost::asio::io_context ioc;
  boost::asio::thread_pool pool{2};
  std::unique_ptr<cache::Store> store;
  net::Metrics metrics;
  std::unique_ptr<net::UpstreamClient> client;
  std::unique_ptr<net::AssetService> assets;
  std::unique_ptr<formats::Context> ctx;

  explicit DataPlaneEnv(const std::string& name) {
    config::DomainConfig d;
    d.name = "local";
    d.repositories.push_back(config::RepositoryConfig{"store", "", {}, ""});
    d.repositories.push_back(config::RepositoryConfig{"app", "", {"store"}, ""});
    config.domains.push_back(d);
    auto opened = cache::Store::open(temp_dir(name).string(), cache::StoreOptions{});
    REQUIRE(opened.has_value());
    store = std::move(*opened);
    client = std::make_unique<net::UpstreamClient>(ioc.get_executor(), config.upstream);
    assets = std::make_unique<net::AssetService>(ioc, pool, *store, *client, config, metrics);
    ctx.reset(new formats::Context{config, ioc, pool, *store, *client, *assets, metrics,
                                   repo::Topology(config), {}, nullptr, nullptr, nullptr});
  }

  static net::Request request(std::string method, std::string target, std::string body,
                              net::Headers headers) {
    net::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.headers = std::move(headers);
    r.headers.emplace_back("Host", "127.0.0.1:5080");
    return r;
  }

  // A request through the router (authentication, dispatch).
  std::unique_ptr<FakeExchange> send(app::Router& router, std::string method, std::string target,
                                     std::string body = {}, net::Headers headers = {}) {
    auto ex = std::make_unique<FakeExchange>(
        request(std::move(method), std::move(target), std::move(body), std::move(headers)));
    run(ioc, router.handle(*ex));
    return ex;
  }

  // A request straight to a format's handler: `rest` as after /local/<format>/<repo>/.
  std::unique_ptr<FakeExchange> send(formats::Format& format, const std::string& repo,
                                     std::string method, std::string rest, std::string body = {},
                                     net::Headers headers = {}) {
    const std::string target =
        "/local/" + std::string(format.name()) + "/" + repo + "/" + rest;
    auto ex = std::make_unique<FakeExchange>(
        request(std::move(method), target, std::move(body), std::move(headers)));
    auto* d = ctx->topology.domain("local");
    auto* r = ctx->topology.repository("local", repo);
    REQUIRE(d);
    REQUIRE(r);
    run(ioc, format.handle(*ex, *d, *r, std::move(rest)));
    return ex;
  }
};

}  // namespace arca::test
