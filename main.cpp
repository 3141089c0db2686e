// arca: the command line, and the wiring of config, store, upstream client and listener.
// This is the only code not linked into the tests.

#include "cache/store.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "net/assets.hpp"
#include "control/api_handler.hpp"
#include "net/codeartifact_upstreams.hpp"
#include "formats/context.hpp"
#include "app/router.hpp"
#include "net/server.hpp"
#include "net/upstream_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

namespace {

int serve(const std::string& config_path, const std::string& listen, const std::string& data_dir,
          const std::string& port_file) {
  using namespace arca;
  config::Config cfg;
  try {
    cfg = config::load_config(config_path);
    if (!listen.empty()) config::apply_listen(cfg.listen, listen);
    if (!data_dir.empty()) cfg.data_dir = data_dir;
    if (!port_file.empty()) cfg.port_file = port_file;
  } catch (const config::ConfigError& e) {
    std::cerr << "arca: config error: " << e.what() << "\n";
    return 2;
  }
  log::init(log::parse_level(cfg.log_level, log::Level::info));

  std::error_code fs_ec;
  std::filesystem::create_directories(cfg.data_dir, fs_ec);
  if (fs_ec) {
    std::cerr << "arca: cannot create data directory " << cfg.data_dir << ": " << fs_ec.message() << "\n";
    return 1;
  }
  {
    auto probe = std::filesystem::path(cfg.data_dir) / ".write-test";
    std::ofstream out(probe);
    if (!out) {
      std::cerr << "arca: data directory " << cfg.data_dir << " is not writable\n";
      return 1;
    }
    out.close();
    std::filesystem::remove(probe, fs_ec);
  }
  cache::StoreOptions store_options;
  store_options.chunk_size_bytes = cfg.cache.chunk_size_bytes;
  auto store = cache::Store::open((std::filesystem::path(cfg.data_dir) / "db").string(), store_options);
  if (!store) {
    std::cerr << "arca: cannot open the store in " << cfg.data_dir << ": " << store.error().message << "\n";
    return 1;
  }

  unsigned threads = cfg.listen.threads ? cfg.listen.threads : std::max(1u, std::thread::hardware_concurrency());
  boost::asio::io_context ioc(static_cast<int>(threads));
  boost::asio::thread_pool pool(std::max(2u, threads));
  net::Metrics metrics;
  net::UpstreamClient client(ioc.get_executor(), cfg.upstream);
  net::AssetService assets(ioc, pool, **store, client, cfg, metrics);
  formats::Context context{cfg, ioc, pool, **store, client, assets, metrics, repo::Topology(cfg)};
  // Real CodeArtifact repositories as upstreams: AWS credentials, tokens, endpoints; the
  // client asks it for the credentials of every upstream request.
  net::CodeArtifactUpstreams codeartifact(cfg, client, **store, pool);
  if (!codeartifact.empty()) {
    codeartifact.load_stored_endpoints();
    client.set_authorizer(&codeartifact);
    context.codeartifact = &codeartifact;
  }
  // Domains and repositories created through the API, the config's ones, the token secret.
  if (auto loaded = control::load_control_plane(context); !loaded) {
    std::cerr << "arca: cannot load domains and repositories: " << loaded.error().message << "\n";
    return 1;
  }
  app::Router router(context);
  net::Server server(ioc, cfg.listen, router);

  uint16_t port = 0;
  try {
    port = server.listen();
  } catch (const std::exception& e) {
    std::cerr << "arca: " << e.what() << "\n";
    return 1;
  }
  client.refuse_own_listener(cfg.listen.host, port, cfg.public_url);
  server.start();
  router.set_ready(true);
  if (!codeartifact.empty()) {
    // Tokens and endpoints before the first request, then tokens kept fresh while idle.
    boost::asio::co_spawn(ioc, codeartifact.keep_fresh(), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const boost::system::system_error& ex) {
        if (ex.code() != boost::asio::error::operation_aborted) {
          ARCA_LOG_ERROR("codeartifact token refresher stopped: {}", ex.what());
        }
      } catch (const std::exception& ex) {
        ARCA_LOG_ERROR("codeartifact token refresher stopped: {}", ex.what());
      }
    });
  }
  ARCA_LOG_INFO("arca {} listening on http://{}:{} (data in {})", ARCA_VERSION, cfg.listen.host, port,
                cfg.data_dir);
  if (!cfg.port_file.empty()) {
    auto tmp = cfg.port_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::filesystem::rename(tmp, cfg.port_file, fs_ec);
  }

  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    ARCA_LOG_INFO("signal {}: finishing in-flight requests", signal);
    router.set_ready(false);
    server.shutdown([&ioc] { ioc.stop(); });
    // A second signal stops at once.
    signals.async_wait([&ioc](boost::system::error_code ec2, int) {
      if (!ec2) ioc.stop();
    });
  });

  std::vector<std::thread> workers;
  for (unsigned i = 1; i < threads; ++i) workers.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : workers) t.join();
  pool.join();
  ARCA_LOG_INFO("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"arca: a package repository and caching proxy for npm, PyPI, Maven and NuGet"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "print the version and exit");
  std::string config_path, listen, data_dir, port_file;
  auto* serve_cmd = app.add_subcommand("serve", "run the server");
  serve_cmd->add_option("--config", config_path, "config file (JSON with comments); default: the embedded one");
  serve_cmd->add_option("--listen", listen, "HOST:PORT to listen on (overrides the config)");
  serve_cmd->add_option("--data", data_dir, "data directory (overrides the config)");
  serve_cmd->add_option("--port-file", port_file, "write the bound port to this file once listening");
  bool print_default = false;
  auto* config_cmd = app.add_subcommand("default-config", "print the embedded default configuration");
  (void)config_cmd;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (version) {
    std::cout << "arca " << ARCA_VERSION << "\n";
    return 0;
  }
  if (app.got_subcommand("default-config") || print_default) {
    std::cout << arca::config::default_config_text();
    return 0;
  }
  if (app.got_subcommand("serve")) return serve(config_path, listen, data_dir, port_file);
  std::cout << app.help();
  return 0;
}
