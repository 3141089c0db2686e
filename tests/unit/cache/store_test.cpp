#include "cache/store.hpp"

#include "tests/unit/test_support.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

extern char** environ;

namespace arca::cache {

// Test hooks (friend of Store and BlobWriter).
struct StoreTestAccess {
  // Drops a writer the way a crash would: its destructor does not discard the fill.
  static void crash(std::unique_ptr<BlobWriter> writer) { writer->committed_ = true; }
  static Result<void> erase_chunk(Store& store, BlobId id, uint32_t index) {
    return store.erase_chunk(id, index);
  }
};

namespace {

constexpr uint32_t k_chunk = 1000;

// Result<T> is not printable by doctest (boost's operator<< needs one for arca::Error), so
// assertions go through ok(), which logs the error.
template <class T>
bool ok(const Result<T>& r) {
  if (!r) {
    std::string m = std::string(to_string(r.error().code)) + ": " + r.error().message;
    MESSAGE(m);
  }
  return r.has_value();
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) {
    c = static_cast<char>(rng() & 0xff);
  }
  return s;
}

StoreOptions small_chunks() {
  StoreOptions o;
  o.chunk_size_bytes = k_chunk;
  o.block_cache_bytes = 8 << 20;
  return o;
}

std::unique_ptr<Store> open_store(const std::filesystem::path& dir,
                                  const StoreOptions& options = small_chunks()) {
  auto store = Store::open(dir.string(), options);
  if (!store) {
    FAIL("open failed: ", store.error().message);
  }
  return std::move(*store);
}

// Appends `bytes` in uneven pieces so both the buffered and the direct chunk paths run.
std::unique_ptr<BlobWriter> write_blob(Store& store, std::string_view bytes) {
  auto writer = store.begin_blob();
  REQUIRE(ok(writer));
  size_t piece = 1;
  while (!bytes.empty()) {
    size_t n = std::min(piece, bytes.size());
    REQUIRE(ok((*writer)->append(bytes.substr(0, n))));
    bytes.remove_prefix(n);
    piece = piece * 3 + 7;
  }
  auto record = (*writer)->finish();
  REQUIRE(ok(record));
  return std::move(*writer);
}

BlobRecord commit_blob(Store& store, std::string_view bytes, bool durable = false) {
  auto writer = write_blob(store, bytes);
  Batch batch;
  batch.add_blob(*writer);
  REQUIRE(ok(store.commit(std::move(batch), durable)));
  return writer->record();
}

void check_digests(const Digests& got, std::string_view bytes) {
  Digests want = digest_of(bytes);
  CHECK(got.sha256 == want.sha256);
  CHECK(got.sha512 == want.sha512);
  CHECK(got.sha1 == want.sha1);
  CHECK(got.md5 == want.md5);
}

void check_no_chunks(Store& store, BlobId id, uint32_t up_to) {
  for (uint32_t i = 0; i < up_to; ++i) {
    auto chunk = store.read_chunk(id, i);
    REQUIRE_FALSE(chunk.has_value());
    CHECK(chunk.error().code == Errc::not_found);
  }
}

void check_no_pending(Store& store) {
  auto pending = store.pending_blobs();
  REQUIRE(ok(pending));
  CHECK(pending->empty());
}

}  // namespace

TEST_SUITE("cache::Store") {
  TEST_CASE("record encoding round-trips and rejects malformed values") {
    BlobRecord r;
    r.id = 0x0102030405060708ull;
    r.size = 123456789;
    r.chunk_size = 1 << 20;
    r.digests = digest_of("hello");
    r.created_unix_ms = -42;
    std::string v = encode_record(r);
    auto d = decode_record(v);
    REQUIRE(d);
    CHECK(d->id == r.id);
    CHECK(d->size == r.size);
    CHECK(d->chunk_size == r.chunk_size);
    CHECK(d->created_unix_ms == r.created_unix_ms);
    CHECK(d->digests.sha256 == r.digests.sha256);
    CHECK(d->digests.sha512 == r.digests.sha512);
    CHECK(d->digests.sha1 == r.digests.sha1);
    CHECK(d->digests.md5 == r.digests.md5);

    CHECK_FALSE(decode_record(""));
    CHECK_FALSE(decode_record(std::string_view(v).substr(0, v.size() - 1)));
    CHECK_FALSE(decode_record(v + "x"));
    std::string bad_version = v;
    bad_version[0] = 2;
    CHECK_FALSE(decode_record(bad_version));
    BlobRecord zero_chunk = r;
    zero_chunk.chunk_size = 0;
    CHECK_FALSE(decode_record(encode_record(zero_chunk)));
    zero_chunk.size = 0;
    CHECK(decode_record(encode_record(zero_chunk)));
  }

  TEST_CASE("meta encoding round-trips and rejects malformed values") {
    MetaEntry e{std::string("{\"a\":1}\0x", 9), "W/\"etag\"", "Tue, 01 Jan 2030 00:00:00 GMT",
                1700000000123};
    std::string v = encode_meta(e);
    auto d = decode_meta(v);
    REQUIRE(d);
    CHECK(d->body == e.body);
    CHECK(d->etag == e.etag);
    CHECK(d->last_modified == e.last_modified);
    CHECK(d->fetched_unix_ms == e.fetched_unix_ms);
    CHECK(decode_meta(encode_meta(MetaEntry{})));
    CHECK_FALSE(decode_meta(""));
    CHECK_FALSE(decode_meta(v.substr(0, 10)));
    // Header lengths point past the end.
    CHECK_FALSE(decode_meta(v.substr(0, 17 + e.etag.size())));
    std::string bad_version = v;
    bad_version[0] = 9;
    CHECK_FALSE(decode_meta(bad_version));
  }

  TEST_CASE("open rejects a zero chunk size") {
    StoreOptions o;
    o.chunk_size_bytes = 0;
    auto store = Store::open(test::temp_dir("store-zero-chunk").string(), o);
    REQUIRE_FALSE(store.has_value());
    CHECK(store.error().code == Errc::invalid_argument);
  }

  TEST_CASE("multi-chunk blob round-trips with correct digests") {
    auto dir = test::temp_dir("store-roundtrip");
    // 3500: a partial last chunk; 3000: an exact multiple of the chunk size.
    for (size_t n : {size_t{3500}, size_t{3000}, size_t{1}, size_t{999}, size_t{1001}}) {
      CAPTURE(n);
      std::string bytes = random_bytes(n, static_cast<uint32_t>(n));
      BlobRecord record;
      {
        auto store = open_store(dir);
        auto writer = write_blob(*store, bytes);
        const BlobRecord& r = writer->record();
        CHECK(r.id == writer->id());
        CHECK(r.size == n);
        CHECK(writer->size() == n);
        CHECK(r.chunk_size == k_chunk);
        CHECK(r.chunk_count() == (n + k_chunk - 1) / k_chunk);
        CHECK(writer->chunks_written() == r.chunk_count());
        CHECK(r.created_unix_ms > 0);
        check_digests(r.digests, bytes);

        // Readable by id before commit (followers of an in-progress fill), not by digest.
        auto first = store->read_chunk(writer->id(), 0);
        REQUIRE(ok(first));
        CHECK(*first == bytes.substr(0, k_chunk));
        auto before = store->find_blob(r.digests.sha256);
        REQUIRE(ok(before));
        CHECK_FALSE(*before);

        Batch batch;
        batch.add_blob(*writer);
        REQUIRE(ok(store->commit(std::move(batch))));
        record = writer->record();
        CHECK(record.id == writer->id());
        check_no_pending(*store);
      }
      // After a reopen the record and every chunk are there.
      auto store = open_store(dir);
      auto found = store->find_blob(record.digests.sha256);
      REQUIRE(ok(found));
      REQUIRE(*found);
      CHECK((*found)->id == record.id);
      CHECK((*found)->size == n);
      check_digests((*found)->digests, bytes);
      for (uint32_t i = 0; i < record.chunk_count(); ++i) {
        auto chunk = store->read_chunk(record.id, i);
        REQUIRE(ok(chunk));
        CHECK(*chunk == bytes.substr(size_t{i} * k_chunk, k_chunk));
      }
      auto past_end = store->read_chunk(record.id, record.chunk_count());
      REQUIRE_FALSE(past_end.has_value());
      CHECK(past_end.error().code == Errc::not_found);
      auto all = store->read_all(**found);
      REQUIRE(ok(all));
      CHECK(*all == bytes);
    }
  }

  TEST_CASE("a large single append and the default chunk size") {
    auto store = open_store(test::temp_dir("store-default-chunk"), StoreOptions{});
    CHECK(store->chunk_size() == 256 * 1024);
    std::string bytes = random_bytes(2 * 1024 * 1024 + 17, 7);
    auto writer = store->begin_blob();
    REQUIRE(ok(writer));
    REQUIRE(ok((*writer)->append(bytes)));
    CHECK((*writer)->chunks_written() == 8);
    auto record = (*writer)->finish();
    REQUIRE(ok(record));
    CHECK(record->chunk_count() == 9);
    Batch batch;
    batch.add_blob(**writer);
    REQUIRE(ok(store->commit(std::move(batch), /*durable=*/true)));
    auto all = store->read_all(*record);
    REQUIRE(ok(all));
    CHECK(*all == bytes);
    check_digests(record->digests, bytes);
  }

  TEST_CASE("the same bytes twice are stored once") {
    auto store = open_store(test::temp_dir("store-dedupe"));
    std::string bytes = random_bytes(2500, 1);

    SUBCASE("in separate commits") {
      BlobRecord first = commit_blob(*store, bytes);
      auto second = write_blob(*store, bytes);
      BlobId second_id = second->id();
      CHECK(second_id != first.id);
      REQUIRE(ok(store->read_chunk(second_id, 0)));
      Batch batch;
      batch.put(Space::index, "pkg/a", "x");
      batch.add_blob(*second);
      REQUIRE(ok(store->commit(std::move(batch))));
      // The existing record stays; the second copy's chunks are gone.
      CHECK(second->record().id == first.id);
      auto found = store->find_blob(first.digests.sha256);
      REQUIRE(ok(found));
      REQUIRE(*found);
      CHECK((*found)->id == first.id);
      CHECK((*found)->created_unix_ms == first.created_unix_ms);
      check_no_chunks(*store, second_id, 3);
      check_no_pending(*store);
      auto index = store->get(Space::index, "pkg/a");
      REQUIRE(ok(index));
      CHECK(*index == "x");
      // The committed writer's destructor must not touch the surviving blob.
      second.reset();
      auto all = store->read_all(**found);
      REQUIRE(ok(all));
      CHECK(*all == bytes);
    }

    SUBCASE("in one commit") {
      auto a = write_blob(*store, bytes);
      auto b = write_blob(*store, bytes);
      Batch batch;
      batch.add_blob(*a);
      batch.add_blob(*b);
      REQUIRE(ok(store->commit(std::move(batch))));
      CHECK(a->record().id == a->id());
      CHECK(b->record().id == a->id());
      check_no_chunks(*store, b->id(), 3);
      check_no_pending(*store);
      auto found = store->find_blob(a->record().digests.sha256);
      REQUIRE(ok(found));
      REQUIRE(*found);
      CHECK((*found)->id == a->id());
      a.reset();
      b.reset();
      auto all = store->read_all(**found);
      REQUIRE(ok(all));
      CHECK(*all == bytes);
    }
  }

  TEST_CASE("a dropped writer leaves nothing") {
    auto store = open_store(test::temp_dir("store-drop"));
    std::string bytes = random_bytes(2500, 2);
    BlobId id = 0;
    Sha256 sha{};
    SUBCASE("after finish") {
      auto writer = write_blob(*store, bytes);
      id = writer->id();
      sha = writer->record().digests.sha256;
      REQUIRE(ok(store->read_chunk(id, 2)));
    }
    SUBCASE("mid-fill") {
      auto writer = store->begin_blob();
      REQUIRE(ok(writer));
      id = (*writer)->id();
      REQUIRE(ok((*writer)->append(bytes)));
      CHECK((*writer)->chunks_written() == 2);
      auto pending = store->pending_blobs();
      REQUIRE(ok(pending));
      CHECK(*pending == std::vector<BlobId>{id});
      sha = sha256_of(bytes);
    }
    check_no_chunks(*store, id, 3);
    check_no_pending(*store);
    auto found = store->find_blob(sha);
    REQUIRE(ok(found));
    CHECK_FALSE(*found);
  }

  TEST_CASE("a failed commit leaves the batch unapplied and the writer discardable") {
    auto store = open_store(test::temp_dir("store-bad-commit"));
    auto unfinished = store->begin_blob();
    REQUIRE(ok(unfinished));
    REQUIRE(ok((*unfinished)->append(random_bytes(1500, 3))));
    BlobId id = (*unfinished)->id();
    Batch batch;
    batch.put(Space::index, "k", "v");
    batch.add_blob(**unfinished);
    auto committed = store->commit(std::move(batch));
    REQUIRE_FALSE(committed.has_value());
    CHECK(committed.error().code == Errc::invalid_argument);
    auto k = store->get(Space::index, "k");
    REQUIRE(ok(k));
    CHECK_FALSE(*k);

    // Committing a writer twice is refused too.
    auto done = write_blob(*store, "abc");
    Batch once;
    once.add_blob(*done);
    REQUIRE(ok(store->commit(std::move(once))));
    Batch twice;
    twice.add_blob(*done);
    CHECK_FALSE((store->commit(std::move(twice))).has_value());

    unfinished->reset();
    check_no_chunks(*store, id, 2);
    check_no_pending(*store);
  }

  TEST_CASE("append or finish after finish is an error") {
    auto store = open_store(test::temp_dir("store-after-finish"));
    auto writer = write_blob(*store, "abc");
    CHECK_FALSE((writer->append("d")).has_value());
    CHECK_FALSE((writer->finish()).has_value());
  }

  TEST_CASE("empty blob") {
    auto dir = test::temp_dir("store-empty");
    BlobRecord record;
    {
      auto store = open_store(dir);
      auto writer = store->begin_blob();
      REQUIRE(ok(writer));
      auto finished = (*writer)->finish();
      REQUIRE(ok(finished));
      CHECK(finished->size == 0);
      CHECK(finished->chunk_count() == 0);
      CHECK((*writer)->chunks_written() == 0);
      check_digests(finished->digests, "");
      Batch batch;
      batch.add_blob(**writer);
      REQUIRE(ok(store->commit(std::move(batch))));
      record = (*writer)->record();
      auto all = store->read_all(record);
      REQUIRE(ok(all));
      CHECK(all->empty());
    }
    // The empty blob's id has no chunks, yet is never handed out again.
    auto store = open_store(dir);
    auto found = store->find_blob(sha256_of(""));
    REQUIRE(ok(found));
    REQUIRE(*found);
    CHECK((*found)->size == 0);
    auto all = store->read_all(**found);
    REQUIRE(ok(all));
    CHECK(all->empty());
    auto next = store->begin_blob();
    REQUIRE(ok(next));
    CHECK((*next)->id() > record.id);
  }

  TEST_CASE("reopen after a crash mid-fill discards the pending fill") {
    auto dir = test::temp_dir("store-crash");
    std::string committed_bytes = random_bytes(2100, 4);
    std::string torn_bytes = random_bytes(3500, 5);
    BlobRecord committed;
    BlobId torn_id = 0;
    {
      auto store = open_store(dir);
      committed = commit_blob(*store, committed_bytes);
      auto writer = store->begin_blob();
      REQUIRE(ok(writer));
      torn_id = (*writer)->id();
      REQUIRE(ok((*writer)->append(torn_bytes)));
      CHECK((*writer)->chunks_written() == 3);
      auto pending = store->pending_blobs();
      REQUIRE(ok(pending));
      CHECK(*pending == std::vector<BlobId>{torn_id});
      StoreTestAccess::crash(std::move(*writer));
      REQUIRE(ok(store->read_chunk(torn_id, 2)));
    }
    auto store = open_store(dir);
    check_no_pending(*store);
    check_no_chunks(*store, torn_id, 4);
    auto all = store->read_all(committed);
    REQUIRE(ok(all));
    CHECK(*all == committed_bytes);
    auto next = store->begin_blob();
    REQUIRE(ok(next));
    CHECK((*next)->id() > torn_id);
  }

  // Re-executed by "kill -9 mid-fill ..." below with ARCA_STORE_CRASH_DIR set; a no-op otherwise.
  TEST_CASE("crash_child_process") {
    const char* dir = std::getenv("ARCA_STORE_CRASH_DIR");
    if (dir == nullptr) {
      return;
    }
    auto store = open_store(dir);
    commit_blob(*store, random_bytes(2100, 6));  // not durable: the WAL is in the page cache
    auto writer = store->begin_blob();
    REQUIRE(ok(writer));
    REQUIRE(ok((*writer)->append(random_bytes(3500, 7))));
    std::ofstream(std::string(dir) + ".torn-id") << (*writer)->id() << "\n";
    ::kill(::getpid(), SIGKILL);
  }

  TEST_CASE("kill -9 mid-fill keeps committed blobs and discards the fill") {
    if (std::getenv("ARCA_STORE_CRASH_DIR") != nullptr) {
      return;
    }
    auto dir = test::temp_dir("store-kill9") / "db";
    std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
    std::string filter = "--test-case=crash_child_process";
    std::vector<char*> argv = {exe.data(), filter.data(), nullptr};
    std::string env_dir = "ARCA_STORE_CRASH_DIR=" + dir.string();
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
      envp.push_back(*e);
    }
    envp.push_back(env_dir.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    // The child's doctest main made its own temp root and never got to remove it.
    std::error_code ec;
    std::filesystem::remove_all(
        std::filesystem::temp_directory_path() / ("arca-unit-" + std::to_string(pid)), ec);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);

    BlobId torn_id = 0;
    std::ifstream(dir.string() + ".torn-id") >> torn_id;
    REQUIRE(torn_id != 0);

    auto store = open_store(dir);
    std::string committed_bytes = random_bytes(2100, 6);
    auto found = store->find_blob(sha256_of(committed_bytes));
    REQUIRE(ok(found));
    REQUIRE(*found);
    auto all = store->read_all(**found);
    REQUIRE(ok(all));
    CHECK(*all == committed_bytes);
    check_no_pending(*store);
    check_no_chunks(*store, torn_id, 4);
    auto torn = store->find_blob(sha256_of(random_bytes(3500, 7)));
    REQUIRE(ok(torn));
    CHECK_FALSE(*torn);
  }

  TEST_CASE("read_all detects missing, short and extra chunks as corrupt") {
    auto store = open_store(test::temp_dir("store-corrupt"));
    std::string bytes = random_bytes(3500, 8);
    BlobRecord record = commit_blob(*store, bytes);
    REQUIRE(record.chunk_count() == 4);

    auto expect_corrupt = [&](const BlobRecord& r) {
      auto all = store->read_all(r);
      REQUIRE_FALSE(all.has_value());
      CHECK(all.error().code == Errc::corrupt);
    };
    SUBCASE("record claims more chunks than stored") {
      BlobRecord longer = record;
      longer.size += k_chunk;
      expect_corrupt(longer);
    }
    SUBCASE("last chunk shorter than the record says") {
      BlobRecord longer = record;
      longer.size += 1;
      expect_corrupt(longer);
    }
    SUBCASE("a chunk past the record's end") {
      BlobRecord shorter = record;
      shorter.size = 2 * k_chunk;
      expect_corrupt(shorter);
    }
    SUBCASE("a chunk in the middle is gone") {
      REQUIRE(ok(StoreTestAccess::erase_chunk(*store, record.id, 1)));
      expect_corrupt(record);
    }
    SUBCASE("the last chunk is gone") {
      REQUIRE(ok(StoreTestAccess::erase_chunk(*store, record.id, 3)));
      expect_corrupt(record);
    }
    SUBCASE("chunk size 0") {
      BlobRecord zero = record;
      zero.chunk_size = 0;
      expect_corrupt(zero);
    }
  }

  TEST_CASE("get, put and scan with prefix, limit and after") {
    auto store = open_store(test::temp_dir("store-scan"));
    for (const char* key : {"a/1", "a/2", "a/3", "ab", "b", "a"}) {
      REQUIRE(ok(store->put(Space::index, key, std::string("v:") + key)));
    }
    REQUIRE(ok(store->put(Space::meta, "a/9", "other space")));

    auto missing = store->get(Space::index, "a/9");
    REQUIRE(ok(missing));
    CHECK_FALSE(*missing);
    auto present = store->get(Space::index, "a/2");
    REQUIRE(ok(present));
    REQUIRE(*present);
    CHECK(**present == "v:a/2");

    auto keys = [&](std::string_view prefix, size_t limit, std::string_view after = {}) {
      auto r = store->scan(Space::index, prefix, limit, after);
      REQUIRE(ok(r));
      std::vector<std::string> out;
      for (auto& [k, v] : *r) {
        CHECK(v == "v:" + k);
        out.push_back(k);
      }
      return out;
    };
    using V = std::vector<std::string>;
    CHECK(keys("a/", 10) == V{"a/1", "a/2", "a/3"});
    CHECK(keys("a/", 2) == V{"a/1", "a/2"});
    CHECK(keys("a/", 0).empty());
    CHECK(keys("a/", 10, "a/1") == V{"a/2", "a/3"});
    CHECK(keys("a/", 1, "a/1") == V{"a/2"});
    CHECK(keys("a/", 10, "a/15") == V{"a/2", "a/3"});  // `after` need not exist
    CHECK(keys("a/", 10, "a/3").empty());
    CHECK(keys("a/", 10, "0").size() == 3);            // `after` before the prefix
    CHECK(keys("a/", 10, "b").empty());                // `after` past the prefix
    CHECK(keys("a", 10) == V{"a", "a/1", "a/2", "a/3", "ab"});
    CHECK(keys("", 10) == V{"a", "a/1", "a/2", "a/3", "ab", "b"});
    CHECK(keys("", 10, "ab") == V{"b"});
    CHECK(keys("c", 10).empty());

    auto meta = store->scan(Space::meta, "a", 10);
    REQUIRE(ok(meta));
    REQUIRE(meta->size() == 1);
    CHECK((*meta)[0].first == "a/9");

    // Prefixes ending in 0xff have a shorter (or no) upper bound.
    std::string ff = "\xff";
    std::string ffff = "\xff\xff";
    for (const std::string& key : {ff, ffff, ffff + "\x01", std::string("\xfe\xff")}) {
      REQUIRE(ok(store->put(Space::index, key, "v:" + key)));
    }
    CHECK(keys(ff, 10) == V{ff, ffff, ffff + "\x01"});
    CHECK(keys(ffff, 10) == V{ffff, ffff + "\x01"});
    CHECK(keys("\xfe", 10) == V{"\xfe\xff"});

    // Batched index writes and deletes.
    Batch batch;
    batch.del(Space::index, "a/2");
    batch.put(Space::index, "a/4", "v:a/4");
    REQUIRE(ok(store->commit(std::move(batch))));
    CHECK(keys("a/", 10) == V{"a/1", "a/3", "a/4"});
  }

  TEST_CASE("meta entries round-trip and persist") {
    auto dir = test::temp_dir("store-meta");
    MetaEntry entry{random_bytes(5000, 9), "\"abc\"", "Wed, 21 Oct 2015 07:28:00 GMT",
                    1700000000000};
    {
      auto store = open_store(dir);
      auto missing = store->get_meta("npm/left-pad");
      REQUIRE(ok(missing));
      CHECK_FALSE(*missing);
      REQUIRE(ok(store->put_meta("npm/left-pad", entry)));
    }
    auto store = open_store(dir);
    auto got = store->get_meta("npm/left-pad");
    REQUIRE(ok(got));
    REQUIRE(*got);
    CHECK((*got)->body == entry.body);
    CHECK((*got)->etag == entry.etag);
    CHECK((*got)->last_modified == entry.last_modified);
    CHECK((*got)->fetched_unix_ms == entry.fetched_unix_ms);

    auto raw = store->scan(Space::meta, "npm/", 10);
    REQUIRE(ok(raw));
    REQUIRE(raw->size() == 1);
    auto decoded = decode_meta((*raw)[0].second);
    REQUIRE(decoded);
    CHECK(decoded->body == entry.body);

    REQUIRE(ok(store->put(Space::meta, "garbage", "not a meta entry")));
    auto bad = store->get_meta("garbage");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == Errc::corrupt);
  }

  TEST_CASE("concurrent fills of overlapping contents") {
    auto store = open_store(test::temp_dir("store-concurrent"));
    constexpr int k_threads = 4;
    constexpr int k_per_thread = 12;
    constexpr uint32_t k_contents = 5;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < k_per_thread; ++i) {
          uint32_t c = static_cast<uint32_t>(t + i) % k_contents;
          std::string bytes = random_bytes(1500 + 700 * c, 100 + c);
          auto writer = store->begin_blob();
          if (!writer || !(*writer)->append(bytes) || !(*writer)->finish()) {
            ++failures;
            continue;
          }
          Batch batch;
          batch.put(Space::index, "t" + std::to_string(t) + "/" + std::to_string(i), "x");
          batch.add_blob(**writer);
          if (!store->commit(std::move(batch), /*durable=*/i % 4 == 0)) {
            ++failures;
          }
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
    CHECK(failures.load() == 0);
    check_no_pending(*store);
    std::set<BlobId> ids;
    for (uint32_t c = 0; c < k_contents; ++c) {
      std::string bytes = random_bytes(1500 + 700 * c, 100 + c);
      auto found = store->find_blob(sha256_of(bytes));
      REQUIRE(ok(found));
      REQUIRE(*found);
      ids.insert((*found)->id);
      auto all = store->read_all(**found);
      REQUIRE(ok(all));
      CHECK(*all == bytes);
    }
    CHECK(ids.size() == k_contents);
    auto index = store->scan(Space::index, "t", 1000);
    REQUIRE(ok(index));
    CHECK(index->size() == k_threads * k_per_thread);
  }
}

}  // namespace arca::cache
