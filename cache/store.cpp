#include "cache/store.hpp"

#include "common/log.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

namespace arca::cache {

namespace {

// Column families, in the order of the descriptors passed to DB::Open.
enum Cf : size_t { cf_default = 0, cf_blobs, cf_records, cf_pending, cf_index, cf_meta, cf_count };
constexpr std::array<const char*, cf_count> k_cf_names = {
    "default", "blobs", "records", "pending", "index", "meta"};

// In the default CF: the highest blob id ever allocated (u64 BE). Empty blobs have no chunks,
// so without it an id could be handed out again after a restart.
constexpr std::string_view k_high_water_key = "blob_id_high_water";

constexpr uint8_t k_record_version = 1;
constexpr size_t k_record_bytes = 1 + 8 + 8 + 4 + 8 + 32 + 64 + 20 + 16;
constexpr uint8_t k_meta_version = 1;
constexpr size_t k_meta_header_bytes = 1 + 8 + 4 + 4;

// Values of at least this size go to blob files; chunks are normally far larger.
constexpr uint64_t k_min_blob_size = 4096;

// --- Fixed-width encodings ---

void put_be64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}
void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}
uint64_t get_be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  }
  return v;
}
uint32_t get_be32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  }
  return v;
}
template <class T>
void put_le(std::string& out, T v) {
  auto u = static_cast<std::make_unsigned_t<T>>(v);
  for (size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  }
}
template <class T>
T get_le(const char* p) {
  std::make_unsigned_t<T> u = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    u |= static_cast<std::make_unsigned_t<T>>(static_cast<uint8_t>(p[i])) << (8 * i);
  }
  return static_cast<T>(u);
}
template <size_t N>
void put_bytes(std::string& out, const std::array<uint8_t, N>& a) {
  out.append(reinterpret_cast<const char*>(a.data()), N);
}
template <size_t N>
void get_bytes(const char* p, std::array<uint8_t, N>& a) {
  std::memcpy(a.data(), p, N);
}

std::string id_key(BlobId id) {
  std::string key;
  key.reserve(8);
  put_be64(key, id);
  return key;
}
std::string chunk_key(BlobId id, uint32_t index) {
  std::string key;
  key.reserve(12);
  put_be64(key, id);
  put_be32(key, index);
  return key;
}
// [chunk_key(id, 0), chunk_key(id + 1, 0)) holds every chunk of `id`.
std::pair<std::string, std::string> chunk_range(BlobId id) {
  return {chunk_key(id, 0), chunk_key(id + 1, 0)};
}
std::string_view sha_key(const Sha256& sha256) {
  return {reinterpret_cast<const char*>(sha256.data()), sha256.size()};
}

rocksdb::Slice to_slice(std::string_view s) { return {s.data(), s.size()}; }
std::string_view to_view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

Error status_error(const rocksdb::Status& s, std::string_view what) {
  Errc code = Errc::io_error;
  if (s.IsNotFound()) {
    code = Errc::not_found;
  } else if (s.IsCorruption()) {
    code = Errc::corrupt;
  }
  return Error(code, std::string("store: ") + std::string(what) + ": " + s.ToString());
}

// The smallest string greater than every string starting with `prefix`; empty if none.
std::string prefix_successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(s.back());
    if (last != 0xff) {
      ++last;
      return s;
    }
    s.pop_back();
  }
  return s;
}

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// --- Record and meta encodings ---

// Version 1 (161 bytes, little-endian): version u8, id u64, size u64, chunk_size u32,
// created_unix_ms i64, sha256[32], sha512[64], sha1[20], md5[16].
std::string encode_record(const BlobRecord& record) {
  std::string out;
  out.reserve(k_record_bytes);
  out.push_back(static_cast<char>(k_record_version));
  put_le<uint64_t>(out, record.id);
  put_le<uint64_t>(out, record.size);
  put_le<uint32_t>(out, record.chunk_size);
  put_le<int64_t>(out, record.created_unix_ms);
  put_bytes(out, record.digests.sha256);
  put_bytes(out, record.digests.sha512);
  put_bytes(out, record.digests.sha1);
  put_bytes(out, record.digests.md5);
  return out;
}

std::optional<BlobRecord> decode_record(std::string_view value) {
  if (value.size() != k_record_bytes || static_cast<uint8_t>(value[0]) != k_record_version) {
    return std::nullopt;
  }
  const char* p = value.data() + 1;
  BlobRecord r;
  r.id = get_le<uint64_t>(p);
  p += 8;
  r.size = get_le<uint64_t>(p);
  p += 8;
  r.chunk_size = get_le<uint32_t>(p);
  p += 4;
  r.created_unix_ms = get_le<int64_t>(p);
  p += 8;
  get_bytes(p, r.digests.sha256);
  p += 32;
  get_bytes(p, r.digests.sha512);
  p += 64;
  get_bytes(p, r.digests.sha1);
  p += 20;
  get_bytes(p, r.digests.md5);
  // chunk_count() must be defined and fit in the u32 chunk index.
  if (r.size > 0 && (r.chunk_size == 0 || (r.size - 1) / r.chunk_size >= UINT32_MAX)) {
    return std::nullopt;
  }
  return r;
}

// Version 1 (little-endian): version u8, fetched_unix_ms i64, etag length u32, last_modified
// length u32, etag, last_modified, then the body up to the end of the value.
std::string encode_meta(const MetaEntry& entry) {
  std::string out;
  out.reserve(k_meta_header_bytes + entry.etag.size() + entry.last_modified.size() +
              entry.body.size());
  out.push_back(static_cast<char>(k_meta_version));
  put_le<int64_t>(out, entry.fetched_unix_ms);
  put_le<uint32_t>(out, static_cast<uint32_t>(entry.etag.size()));
  put_le<uint32_t>(out, static_cast<uint32_t>(entry.last_modified.size()));
  out += entry.etag;
  out += entry.last_modified;
  out += entry.body;
  return out;
}

std::optional<MetaEntry> decode_meta(std::string_view value) {
  if (value.size() < k_meta_header_bytes || static_cast<uint8_t>(value[0]) != k_meta_version) {
    return std::nullopt;
  }
  const char* p = value.data() + 1;
  MetaEntry e;
  e.fetched_unix_ms = get_le<int64_t>(p);
  uint64_t etag_len = get_le<uint32_t>(p + 8);
  uint64_t lm_len = get_le<uint32_t>(p + 12);
  value.remove_prefix(k_meta_header_bytes);
  if (etag_len + lm_len > value.size()) {
    return std::nullopt;
  }
  e.etag.assign(value.substr(0, etag_len));
  e.last_modified.assign(value.substr(etag_len, lm_len));
  e.body.assign(value.substr(etag_len + lm_len));
  return e;
}

// --- Store::Impl ---

struct Store::Impl {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // indexed by Cf

  // Serializes id allocation with the write of pending[id] and the high-water mark, so the
  // persisted mark never goes backwards.
  std::mutex id_mutex;
  BlobId next_id = 1;
  // Serializes commits that add blobs: the dedupe lookup of records[sha256] and the write
  // that depends on it must not interleave with another such commit.
  std::mutex commit_mutex;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (db == nullptr) {
      return;
    }
    // A clean shutdown leaves the WAL on disk, not just in the page cache.
    rocksdb::Status s = db->SyncWAL();
    if (!s.ok()) {
      ARCA_LOG_WARN("store: SyncWAL at close failed: {}", s.ToString());
    }
    for (auto* h : handles) {
      s = db->DestroyColumnFamilyHandle(h);
      if (!s.ok()) {
        ARCA_LOG_WARN("store: DestroyColumnFamilyHandle failed: {}", s.ToString());
      }
    }
    handles.clear();
    s = db->Close();
    if (!s.ok()) {
      ARCA_LOG_WARN("store: close failed: {}", s.ToString());
    }
    delete db;
    db = nullptr;
  }

  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return handles[c]; }
  rocksdb::ColumnFamilyHandle* cf(Space s) const {
    return s == Space::index ? handles[cf_index] : handles[cf_meta];
  }

  Result<std::optional<std::string>> get(rocksdb::ColumnFamilyHandle* h, std::string_view key,
                                         std::string_view what) {
    rocksdb::PinnableSlice value;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), h, to_slice(key), &value);
    if (s.IsNotFound()) {
      return std::optional<std::string>();
    }
    if (!s.ok()) {
      return status_error(s, what);
    }
    return std::optional<std::string>(std::string(value.data(), value.size()));
  }

  Result<void> write(rocksdb::WriteBatch& batch, bool sync, std::string_view what) {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    rocksdb::Status s = db->Write(wo, &batch);
    if (!s.ok()) {
      return status_error(s, what);
    }
    return {};
  }

  // The id in the first 8 bytes of the last key of `c`, if any.
  Result<std::optional<BlobId>> last_id(Cf c) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf(c)));
    it->SeekToLast();
    std::optional<BlobId> id;
    if (it->Valid() && it->key().size() >= 8) {
      id = get_be64(it->key().data());
    }
    if (!it->status().ok()) {
      return status_error(it->status(), std::string("seek to last in ") + k_cf_names[c]);
    }
    return id;
  }

  Result<std::vector<BlobId>> pending_ids() {
    std::vector<BlobId> ids;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf(cf_pending)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().size() == 8) {
        ids.push_back(get_be64(it->key().data()));
      } else {
        ARCA_LOG_WARN("store: ignoring malformed pending key of {} bytes", it->key().size());
      }
    }
    if (!it->status().ok()) {
      return status_error(it->status(), "scan pending");
    }
    return ids;
  }

  // Startup: the next blob id, then deletes the chunks of fills that never committed.
  Result<void> recover() {
    BlobId highest = 0;
    ARCA_TRY(auto high_water, get(cf(cf_default), k_high_water_key, "get blob id high water"));
    if (high_water) {
      if (high_water->size() != 8) {
        return make_error(Errc::corrupt, "store: malformed blob id high water mark");
      }
      highest = get_be64(high_water->data());
    }
    for (Cf c : {cf_blobs, cf_pending}) {
      ARCA_TRY(auto last, last_id(c));
      if (last) {
        highest = std::max(highest, *last);
      }
    }
    if (highest == UINT64_MAX) {
      return make_error(Errc::corrupt, "store: blob ids exhausted");
    }
    next_id = highest + 1;

    rocksdb::WriteBatch batch;
    size_t count = 0;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf(cf_pending)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().size() == 8) {
        auto [begin, end] = chunk_range(get_be64(it->key().data()));
        rocksdb::Status s = batch.DeleteRange(cf(cf_blobs), begin, end);
        if (!s.ok()) {
          return status_error(s, "batch delete range");
        }
      }
      rocksdb::Status s = batch.Delete(cf(cf_pending), it->key());
      if (!s.ok()) {
        return status_error(s, "batch delete");
      }
      ++count;
    }
    if (!it->status().ok()) {
      return status_error(it->status(), "scan pending");
    }
    it.reset();
    if (count > 0) {
      ARCA_LOG_INFO("store: discarding {} unfinished fill(s) from the last run", count);
      ARCA_TRY_VOID(write(batch, false, "discard pending fills"));
    }
    return {};
  }
};

// --- Store ---

Store::Store(std::unique_ptr<Impl> impl, const StoreOptions& options)
    : impl_(std::move(impl)), options_(options) {}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, const StoreOptions& options) {
  if (options.chunk_size_bytes == 0) {
    return make_error(Errc::invalid_argument, "store: chunk_size_bytes must be positive");
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // Recover the WAL up to the first torn or corrupt record: writes are applied in WAL order, so
  // a record is never recovered without the chunks written before it.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.max_open_files = 1024;
  db_options.keep_log_file_num = 4;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  // `pending` and `default` get few writes, so their memtables rarely fill and would otherwise
  // keep old WAL files alive; past this size the CFs pinning the oldest WAL are flushed.
  db_options.max_total_wal_size = 256ull << 20;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  std::shared_ptr<rocksdb::TableFactory> table_factory(rocksdb::NewBlockBasedTableFactory(table));

  rocksdb::ColumnFamilyOptions base;
  base.table_factory = table_factory;
  base.compaction_style = rocksdb::kCompactionStyleLevel;
  base.level_compaction_dynamic_level_bytes = true;

  rocksdb::ColumnFamilyOptions small = base;  // default (one key) and pending (in-flight fills)
  small.write_buffer_size = 4 << 20;

  rocksdb::ColumnFamilyOptions blobs = base;
  blobs.enable_blob_files = true;
  blobs.min_blob_size = k_min_blob_size;
  blobs.blob_compression_type = rocksdb::kNoCompression;  // packages are compressed already
  blobs.enable_blob_garbage_collection = true;
  // Chunks sit in the memtable until a flush moves them into a blob file: a small memtable keeps
  // the memory of large fills low (two 16 MiB memtables at most, instead of RocksDB's 64 MiB
  // default each), at the cost of more, smaller flushes.
  blobs.write_buffer_size = 16 << 20;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t c = 0; c < cf_count; ++c) {
    const rocksdb::ColumnFamilyOptions& cf_options =
        c == cf_blobs ? blobs : (c == cf_default || c == cf_pending) ? small : base;
    std::string name = c == cf_default ? rocksdb::kDefaultColumnFamilyName : k_cf_names[c];
    descriptors.emplace_back(std::move(name), cf_options);
  }

  auto impl = std::make_unique<Impl>();
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, descriptors, &impl->handles, &impl->db);
  if (!s.ok()) {
    return status_error(s, "open " + dir);
  }
  if (impl->handles.size() != cf_count) {
    return make_error(Errc::internal, "store: unexpected column family count");
  }
  ARCA_TRY_VOID(impl->recover());
  return std::unique_ptr<Store>(new Store(std::move(impl), options));
}

Result<std::unique_ptr<BlobWriter>> Store::begin_blob() {
  BlobId id = 0;
  {
    std::lock_guard lock(impl_->id_mutex);
    id = impl_->next_id++;
    rocksdb::WriteBatch batch;
    std::string key = id_key(id);
    rocksdb::Status s = batch.Put(impl_->cf(cf_pending), key, rocksdb::Slice());
    if (s.ok()) {
      s = batch.Put(impl_->cf(cf_default), to_slice(k_high_water_key), key);
    }
    if (!s.ok()) {
      return status_error(s, "batch put");
    }
    ARCA_TRY_VOID(impl_->write(batch, false, "begin blob"));
  }
  return std::unique_ptr<BlobWriter>(new BlobWriter(*this, id, options_.chunk_size_bytes));
}

Result<std::optional<BlobRecord>> Store::find_blob(const Sha256& sha256) {
  ARCA_TRY(auto value, impl_->get(impl_->cf(cf_records), sha_key(sha256), "get record"));
  if (!value) {
    return std::optional<BlobRecord>();
  }
  auto record = decode_record(*value);
  if (!record || record->digests.sha256 != sha256) {
    return make_error(Errc::corrupt, "store: malformed record for sha256 " + to_hex(sha256));
  }
  return std::optional<BlobRecord>(std::move(*record));
}

Result<std::string> Store::read_chunk(BlobId id, uint32_t index) {
  ARCA_TRY(auto value, impl_->get(impl_->cf(cf_blobs), chunk_key(id, index), "get chunk"));
  if (!value) {
    return make_error(Errc::not_found, "store: no chunk " + std::to_string(index) + " of blob " +
                                           std::to_string(id));
  }
  return std::move(*value);
}

Result<std::string> Store::read_all(const BlobRecord& record) {
  auto corrupt = [&](const std::string& why) {
    return make_error(Errc::corrupt, "store: blob " + std::to_string(record.id) + ": " + why);
  };
  if (record.size > 0 && record.chunk_size == 0) {
    return corrupt("chunk size 0");
  }
  const uint32_t count = record.chunk_count();
  std::string out;
  // The record may be corrupt: reserve no more than a sane amount up front.
  out.reserve(std::min<uint64_t>(record.size, 64ull << 20));

  auto [begin, end] = chunk_range(record.id);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;  // outlives the iterator
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(cf_blobs)));
  uint32_t expected = 0;
  for (it->Seek(begin); it->Valid(); it->Next()) {
    rocksdb::Slice key = it->key();
    if (key.size() != 12) {
      return corrupt("malformed chunk key");
    }
    uint32_t index = get_be32(key.data() + 8);
    if (index != expected) {
      return corrupt("chunk " + std::to_string(expected) + " is missing");
    }
    if (index >= count) {
      return corrupt("unexpected chunk " + std::to_string(index) + " past " +
                     std::to_string(count) + " chunk(s)");
    }
    uint64_t want = index + 1 < count
                        ? record.chunk_size
                        : record.size - static_cast<uint64_t>(count - 1) * record.chunk_size;
    if (it->value().size() != want) {
      return corrupt("chunk " + std::to_string(index) + " has " +
                     std::to_string(it->value().size()) + " bytes, expected " +
                     std::to_string(want));
    }
    out.append(it->value().data(), it->value().size());
    ++expected;
  }
  if (!it->status().ok()) {
    return status_error(it->status(), "read blob " + std::to_string(record.id));
  }
  if (expected != count) {
    return corrupt("chunk " + std::to_string(expected) + " of " + std::to_string(count) +
                   " is missing");
  }
  return out;
}

Result<std::optional<std::string>> Store::get(Space space, std::string_view key) {
  return impl_->get(impl_->cf(space), key, "get");
}

Result<void> Store::put(Space space, std::string_view key, std::string_view value) {
  rocksdb::Status s =
      impl_->db->Put(rocksdb::WriteOptions(), impl_->cf(space), to_slice(key), to_slice(value));
  if (!s.ok()) {
    return status_error(s, "put");
  }
  return {};
}

Result<std::vector<std::pair<std::string, std::string>>> Store::scan(Space space,
                                                                     std::string_view prefix,
                                                                     size_t limit,
                                                                     std::string_view after) {
  std::vector<std::pair<std::string, std::string>> out;
  if (limit == 0) {
    return out;
  }
  std::string upper_key = prefix_successor(prefix);
  rocksdb::Slice upper(upper_key);
  rocksdb::ReadOptions ro;
  if (!upper_key.empty()) {
    ro.iterate_upper_bound = &upper;  // outlives the iterator
  }
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(space)));
  std::string_view start = !after.empty() && after > prefix ? after : prefix;
  for (it->Seek(to_slice(start)); it->Valid() && out.size() < limit; it->Next()) {
    std::string_view key = to_view(it->key());
    if (!key.starts_with(prefix)) {
      break;
    }
    if (!after.empty() && key <= after) {
      continue;
    }
    out.emplace_back(std::string(key), std::string(to_view(it->value())));
  }
  if (!it->status().ok()) {
    return status_error(it->status(), "scan");
  }
  return out;
}

Result<std::optional<MetaEntry>> Store::get_meta(std::string_view key) {
  ARCA_TRY(auto value, impl_->get(impl_->cf(cf_meta), key, "get meta"));
  if (!value) {
    return std::optional<MetaEntry>();
  }
  auto entry = decode_meta(*value);
  if (!entry) {
    return make_error(Errc::corrupt, "store: malformed meta entry");
  }
  return std::optional<MetaEntry>(std::move(*entry));
}

Result<void> Store::put_meta(std::string_view key, const MetaEntry& entry) {
  if (entry.etag.size() > UINT32_MAX || entry.last_modified.size() > UINT32_MAX) {
    return make_error(Errc::too_large, "store: meta header field too large");
  }
  return put(Space::meta, key, encode_meta(entry));
}

Result<void> Store::commit(Batch&& batch, bool durable) {
  std::set<const BlobWriter*> seen;
  for (const BlobWriter* w : batch.blobs_) {
    if (w == nullptr || &w->store_ != this || !w->finished_ || w->committed_ || w->failed_ ||
        !seen.insert(w).second) {
      return make_error(Errc::invalid_argument,
                        "store: commit needs distinct finished, uncommitted writers of this store");
    }
  }

  rocksdb::WriteBatch wb;
  for (const auto& op : batch.ops_) {
    rocksdb::Status s = op.op == Batch::Op::put
                            ? wb.Put(impl_->cf(op.space), op.key, op.value)
                            : wb.Delete(impl_->cf(op.space), op.key);
    if (!s.ok()) {
      return status_error(s, "batch");
    }
  }
  if (batch.blobs_.empty()) {
    return impl_->write(wb, durable, "commit");
  }

  std::lock_guard lock(impl_->commit_mutex);
  std::vector<BlobRecord> effective;
  effective.reserve(batch.blobs_.size());
  std::map<Sha256, BlobRecord> added;  // records this batch puts, for duplicates within it
  for (BlobWriter* w : batch.blobs_) {
    const Sha256& sha = w->record_.digests.sha256;
    std::optional<BlobRecord> existing;
    if (auto found = added.find(sha); found != added.end()) {
      existing = found->second;
    } else {
      auto stored = find_blob(sha);
      if (stored) {
        existing = std::move(*stored);
      } else if (stored.error().code != Errc::corrupt) {
        return stored.error();
      } else {
        // The verified new bytes replace a record that can no longer be read.
        ARCA_LOG_WARN("{}; replacing it", stored.error().message);
      }
    }
    rocksdb::Status s;
    if (existing) {
      auto [begin, end] = chunk_range(w->id_);
      s = wb.DeleteRange(impl_->cf(cf_blobs), begin, end);
      effective.push_back(*existing);
    } else {
      s = wb.Put(impl_->cf(cf_records), sha_key(sha), encode_record(w->record_));
      added.emplace(sha, w->record_);
      effective.push_back(w->record_);
    }
    if (s.ok()) {
      s = wb.Delete(impl_->cf(cf_pending), id_key(w->id_));
    }
    if (!s.ok()) {
      return status_error(s, "batch");
    }
  }
  ARCA_TRY_VOID(impl_->write(wb, durable, "commit"));
  for (size_t i = 0; i < batch.blobs_.size(); ++i) {
    batch.blobs_[i]->committed_ = true;
    batch.blobs_[i]->record_ = std::move(effective[i]);
  }
  return {};
}

Result<std::vector<BlobId>> Store::pending_blobs() { return impl_->pending_ids(); }

Result<void> Store::write_chunk(BlobId id, uint32_t index, std::string_view bytes) {
  rocksdb::Status s = impl_->db->Put(rocksdb::WriteOptions(), impl_->cf(cf_blobs),
                                     chunk_key(id, index), to_slice(bytes));
  if (!s.ok()) {
    return status_error(s, "write chunk");
  }
  return {};
}

void Store::discard_blob(BlobId id) {
  rocksdb::WriteBatch batch;
  auto [begin, end] = chunk_range(id);
  rocksdb::Status s = batch.DeleteRange(impl_->cf(cf_blobs), begin, end);
  if (s.ok()) {
    s = batch.Delete(impl_->cf(cf_pending), id_key(id));
  }
  if (s.ok()) {
    s = impl_->db->Write(rocksdb::WriteOptions(), &batch);
  }
  if (!s.ok()) {
    // The pending key stays (or was never removed), so the next open deletes the chunks.
    ARCA_LOG_WARN("store: discarding blob {} failed: {}", id, s.ToString());
  }
}

Result<void> Store::erase_chunk(BlobId id, uint32_t index) {
  rocksdb::Status s =
      impl_->db->Delete(rocksdb::WriteOptions(), impl_->cf(cf_blobs), chunk_key(id, index));
  if (!s.ok()) {
    return status_error(s, "erase chunk");
  }
  return {};
}

// --- BlobWriter ---

BlobWriter::BlobWriter(Store& store, BlobId id, uint32_t chunk_size)
    : store_(store), id_(id), chunk_size_(chunk_size) {
  buffer_.reserve(chunk_size_);
}

BlobWriter::~BlobWriter() {
  if (!committed_) {
    store_.discard_blob(id_);
  }
}

Result<void> BlobWriter::append(std::string_view bytes) {
  if (finished_ || committed_) {
    return make_error(Errc::invalid_argument, "store: append after finish");
  }
  if (failed_) {
    return make_error(Errc::io_error, "store: blob writer failed earlier");
  }
  hasher_.update(bytes);
  size_ += bytes.size();
  while (!bytes.empty()) {
    // A whole chunk goes straight from the input; anything less is buffered until it fills.
    const bool direct = buffer_.empty() && bytes.size() >= chunk_size_;
    if (!direct) {
      size_t take = std::min<size_t>(chunk_size_ - buffer_.size(), bytes.size());
      buffer_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (buffer_.size() < chunk_size_) {
        break;
      }
    }
    std::string_view chunk = direct ? bytes.substr(0, chunk_size_) : std::string_view(buffer_);
    if (chunks_written_ == UINT32_MAX) {
      failed_ = true;
      return make_error(Errc::too_large, "store: blob has too many chunks");
    }
    auto written = store_.write_chunk(id_, chunks_written_, chunk);
    if (!written) {
      failed_ = true;
      return written.error();
    }
    ++chunks_written_;
    if (direct) {
      bytes.remove_prefix(chunk.size());
    } else {
      buffer_.clear();
    }
  }
  return {};
}

Result<BlobRecord> BlobWriter::finish() {
  if (finished_ || committed_) {
    return make_error(Errc::invalid_argument, "store: finish called twice");
  }
  if (failed_) {
    return make_error(Errc::io_error, "store: blob writer failed earlier");
  }
  if (!buffer_.empty()) {
    if (chunks_written_ == UINT32_MAX) {
      failed_ = true;
      return make_error(Errc::too_large, "store: blob has too many chunks");
    }
    auto written = store_.write_chunk(id_, chunks_written_, buffer_);
    if (!written) {
      failed_ = true;
      return written.error();
    }
    ++chunks_written_;
    buffer_.clear();
  }
  buffer_.shrink_to_fit();
  record_.id = id_;
  record_.size = size_;
  record_.chunk_size = chunk_size_;
  record_.digests = hasher_.finish();
  record_.created_unix_ms = now_unix_ms();
  finished_ = true;
  return record_;
}

}  // namespace arca::cache
