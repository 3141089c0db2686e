#pragma once
// The content-addressed store and index on RocksDB (DESIGN.md "Storage").
//
// Layout (column families):
//   blobs    : blob id (u64 BE) + chunk index (u32 BE) -> chunk bytes (BlobDB blob files)
//   records  : sha256 (32 raw bytes) -> BlobRecord (which blob id holds the bytes, size, digests)
//   pending  : blob id (u64 BE) -> empty; fills in progress, discarded at open after a crash
//   index    : ordered keys owned by the layers above (repositories, packages, versions, assets)
//   meta     : cached upstream documents with their freshness (see MetaEntry)
//
// Bytes are written under a fresh blob id while they stream in; only Store::commit makes them
// reachable, in one WriteBatch with the record and any index entries. A fill that is dropped, or
// a process that dies mid-fill, leaves only a pending blob id whose chunks are deleted at the
// next open, so a torn or unverified asset is never served.
//
// Thread-safety: Store is safe for concurrent use from any thread. Every method may block on
// disk I/O: call it from the blocking thread pool, not an I/O thread. BlobWriter is not
// thread-safe (one owner at a time).
//
// Lifetime: every BlobWriter holds a reference to its Store and must be destroyed before it.
//
// Durability: chunk, pending and index writes use sync=false (they reach the WAL, so they
// survive a process crash, and WAL order means a record is never recovered without the chunks
// written before it); Store::commit(durable=true) also fsyncs the WAL, for published content
// that cannot be fetched again.

#include "common/digest.hpp"
#include "common/error.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace arca::cache {

using BlobId = uint64_t;

// Where and what the bytes of one content digest are.
struct BlobRecord {
  BlobId id = 0;
  uint64_t size = 0;
  uint32_t chunk_size = 0;  // every chunk but the last has exactly this many bytes
  Digests digests;
  int64_t created_unix_ms = 0;

  uint32_t chunk_count() const {
    return size == 0 ? 0 : static_cast<uint32_t>((size + chunk_size - 1) / chunk_size);
  }
};

// A cached upstream document and its freshness.
struct MetaEntry {
  std::string body;
  std::string etag;
  std::string last_modified;
  int64_t fetched_unix_ms = 0;
};

enum class Space { index, meta };

class Store;

// Writes one blob's bytes in chunks under a fresh blob id. Dropping it without commit discards
// the bytes (their chunks are deleted).
class BlobWriter {
 public:
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // Appends bytes, writing each full chunk to the store as it fills.
  [[nodiscard]] Result<void> append(std::string_view bytes);
  // Writes the last partial chunk and computes the digests. Prereq: called once, after the
  // last append. The blob is still invisible until Store::commit.
  [[nodiscard]] Result<BlobRecord> finish();

  BlobId id() const { return id_; }
  // Bytes appended so far (some may still be buffered until their chunk fills or finish()).
  uint64_t size() const { return size_; }
  // Chunks written to the store so far; readers of an in-progress fill may read these.
  uint32_t chunks_written() const { return chunks_written_; }
  // After finish(): this blob's record. After a commit that found the content already stored,
  // the existing record instead (whose id differs from id(): this writer's chunks are gone).
  const BlobRecord& record() const { return record_; }

 private:
  friend class Store;
  friend struct StoreTestAccess;  // tests/unit/cache: simulates a crash mid-fill
  BlobWriter(Store& store, BlobId id, uint32_t chunk_size);

  Store& store_;
  BlobId id_;
  uint32_t chunk_size_;
  uint64_t size_ = 0;
  uint32_t chunks_written_ = 0;
  std::string buffer_;
  Hasher hasher_;
  bool finished_ = false;
  bool committed_ = false;
  bool failed_ = false;  // a chunk write failed: the writer only waits to be discarded
  BlobRecord record_;
};

// A set of writes applied atomically by Store::commit.
class Batch {
 public:
  void put(Space space, std::string key, std::string value) {
    ops_.push_back({Op::put, space, std::move(key), std::move(value)});
  }
  void del(Space space, std::string key) { ops_.push_back({Op::del, space, std::move(key), {}}); }
  // Makes a finished writer's bytes reachable by their sha256. If that digest is already
  // stored, the new chunks are deleted instead (each content is stored once).
  // Prereq: writer.finish() succeeded. The writer must outlive the commit.
  void add_blob(BlobWriter& writer) { blobs_.push_back(&writer); }
  bool empty() const { return ops_.empty() && blobs_.empty(); }

 private:
  friend class Store;
  enum class Op { put, del };
  struct Entry {
    Op op;
    Space space;
    std::string key;
    std::string value;
  };
  std::vector<Entry> ops_;
  std::vector<BlobWriter*> blobs_;
};

struct StoreOptions {
  uint32_t chunk_size_bytes = 256 * 1024;
  // Block cache for index/meta reads. Default: 64 MiB.
  uint64_t block_cache_bytes = 64ull * 1024 * 1024;
};

class Store {
 public:
  // Opens (creating if needed) the database in `dir`; deletes chunks of fills that were
  // pending when the process last stopped.
  [[nodiscard]] static Result<std::unique_ptr<Store>> open(const std::string& dir,
                                                           const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // --- Blobs ---
  [[nodiscard]] Result<std::unique_ptr<BlobWriter>> begin_blob();
  [[nodiscard]] Result<std::optional<BlobRecord>> find_blob(const Sha256& sha256);
  // Reads chunk `index` of blob `id` (committed or still being written). not_found if absent.
  [[nodiscard]] Result<std::string> read_chunk(BlobId id, uint32_t index);
  // Convenience for small blobs: the whole content. Prereq: record.size fits in memory.
  [[nodiscard]] Result<std::string> read_all(const BlobRecord& record);

  // --- Index and cached metadata ---
  [[nodiscard]] Result<std::optional<std::string>> get(Space space, std::string_view key);
  [[nodiscard]] Result<void> put(Space space, std::string_view key, std::string_view value);
  // Key/value pairs whose key starts with `prefix`, in key order, at most `limit`,
  // starting at the first key > `after` when `after` is non-empty.
  [[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>> scan(
      Space space, std::string_view prefix, size_t limit, std::string_view after = {});

  // A MetaEntry in Space::meta (stored with encode_meta). Errors: corrupt if the value there
  // is not an encoded MetaEntry.
  [[nodiscard]] Result<std::optional<MetaEntry>> get_meta(std::string_view key);
  [[nodiscard]] Result<void> put_meta(std::string_view key, const MetaEntry& entry);

  // Applies the batch atomically. `durable` syncs the WAL (used for published content).
  // Errors: invalid_argument if a blob's writer is not finished, already committed or belongs
  // to another store (nothing is written); io_error from RocksDB. On error the writers stay
  // uncommitted (dropping them discards their chunks).
  [[nodiscard]] Result<void> commit(Batch&& batch, bool durable = false);

  // Blob ids of fills begun but neither committed nor discarded (diagnostics and tests).
  [[nodiscard]] Result<std::vector<BlobId>> pending_blobs();

  uint32_t chunk_size() const { return options_.chunk_size_bytes; }

 private:
  friend class BlobWriter;
  struct Impl;
  Store(std::unique_ptr<Impl> impl, const StoreOptions& options);
  friend struct StoreTestAccess;
  [[nodiscard]] Result<void> write_chunk(BlobId id, uint32_t index, std::string_view bytes);
  void discard_blob(BlobId id);
  // Test hook (StoreTestAccess): deletes one chunk to simulate lost data.
  [[nodiscard]] Result<void> erase_chunk(BlobId id, uint32_t index);

  std::unique_ptr<Impl> impl_;
  StoreOptions options_;
};

// Encodes/decodes a BlobRecord value (fixed little format, versioned).
std::string encode_record(const BlobRecord& record);
std::optional<BlobRecord> decode_record(std::string_view value);

// Encodes/decodes a MetaEntry value as put_meta stores it (versioned binary header, then the
// body), e.g. for values returned by scan(Space::meta, ...). decode_meta: nullopt if malformed.
std::string encode_meta(const MetaEntry& entry);
std::optional<MetaEntry> decode_meta(std::string_view value);

}  // namespace arca::cache
