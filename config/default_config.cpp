#include "config/config.hpp"

namespace arca::config {

// The embedded default configuration: `arca serve` with no --config uses exactly this.
std::string_view default_config_text() {
  return R"json({
  // Where arca listens. Loopback: anonymous reads and publishes are allowed.
  "listen": "127.0.0.1:5080",
  // RocksDB and other state.
  "data_dir": "./arca-data",
  "external_connections": {
    "public:npmjs": { "url": "https://registry.npmjs.org/" },
    "public:pypi": { "url": "https://pypi.org/simple/" },
    "public:maven-central": { "url": "https://repo.maven.apache.org/maven2/" },
    "public:nuget-org": { "url": "https://api.nuget.org/v3/index.json" },
    "public:crates-io": { "url": "https://index.crates.io/" }
  },
  "domains": [
    { "name": "local", "repositories": [
        { "name": "npm-store", "external_connection": "public:npmjs" },
        { "name": "pypi-store", "external_connection": "public:pypi" },
        { "name": "maven-central-store", "external_connection": "public:maven-central" },
        { "name": "nuget-store", "external_connection": "public:nuget-org" },
        { "name": "cargo-store", "external_connection": "public:crates-io" },
        { "name": "main", "upstreams": ["npm-store", "pypi-store", "maven-central-store", "nuget-store",
                                        "cargo-store"] }
    ] }
  ]
}
)json";
}

}  // namespace arca::config
