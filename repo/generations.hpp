#pragma once
// Scoped invalidation. Whatever is built from what repositories hold (merged views, rendered
// documents, the warm asset map) remembers the generation it was built for and is rebuilt when
// that generation moves:
//   - a package's generation moves when anything about that package changes in its domain:
//     a publish, an ingest or retention, a status or dist-tag change, its package-level origin
//     configuration, its deletion or a copy into a repository;
//   - every package's generation moves when the topology (repositories, upstreams, external
//     connections) or the package groups change.
// So a publish of one package never costs the warm documents of another.
//
// Memory is bounded: packages share k_slots counters by hash, so a change may also rebuild the
// documents of a few unrelated packages that share its counter, never fewer than it should.
//
// Thread-safety: all methods are lock-free and safe from any thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace arca::repo {

class Generations {
 public:
  static constexpr size_t k_slots = 1u << 16;

  // The generation of documents about one package (name and namespace as stored).
  uint64_t package(std::string_view domain, std::string_view format, std::string_view ns,
                   std::string_view name) const {
    const uint64_t epoch = epoch_.load(std::memory_order_acquire);
    const uint64_t slot =
        slots_[slot_of(domain, format, ns, name)].load(std::memory_order_acquire);
    return (epoch << 32) + slot;
  }

  void package_changed(std::string_view domain, std::string_view format, std::string_view ns,
                       std::string_view name) {
    slots_[slot_of(domain, format, ns, name)].fetch_add(1, std::memory_order_acq_rel);
  }

  // Topology or package groups changed: every document is rebuilt.
  void all_changed() { epoch_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  static size_t slot_of(std::string_view domain, std::string_view format, std::string_view ns,
                        std::string_view name);

  std::atomic<uint64_t> epoch_{1};
  std::array<std::atomic<uint32_t>, k_slots> slots_{};
};

}  // namespace arca::repo
