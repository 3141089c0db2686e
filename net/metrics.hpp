#pragma once
// Counters for every outcome (STYLE.md §31), rendered at /metrics in Prometheus text format.
// Thread-safety: all counters are atomics; safe from any thread.

#include <atomic>
#include <cstdint>
#include <string>

namespace arca::net {

struct Metrics {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> responses_2xx{0};
  std::atomic<uint64_t> responses_3xx{0};
  std::atomic<uint64_t> responses_4xx{0};
  std::atomic<uint64_t> responses_5xx{0};
  std::atomic<uint64_t> asset_hits{0};
  std::atomic<uint64_t> asset_misses{0};
  std::atomic<uint64_t> asset_coalesced{0};
  std::atomic<uint64_t> asset_fills_ok{0};
  std::atomic<uint64_t> asset_fills_failed{0};
  std::atomic<uint64_t> digest_mismatches{0};
  std::atomic<uint64_t> metadata_hits{0};
  std::atomic<uint64_t> metadata_fetches{0};
  std::atomic<uint64_t> metadata_revalidated{0};
  std::atomic<uint64_t> metadata_stale_served{0};
  std::atomic<uint64_t> upstream_requests{0};
  std::atomic<uint64_t> upstream_errors{0};
  std::atomic<uint64_t> bytes_served{0};
  std::atomic<uint64_t> bytes_fetched{0};
  std::atomic<uint64_t> publishes{0};
  // Versions retained in a downstream repository from an upstream repository.
  std::atomic<uint64_t> retained{0};

  void count_status(unsigned status);
  std::string render() const;
};

}  // namespace arca::net
