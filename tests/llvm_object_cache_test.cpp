// The LLVM backend's on-disk object cache (CONVJIT_CACHE_DIR, generator/llvm/object_cache.hpp):
// the entry format and every way a file can be damaged, warm starts that link instead of
// compiling, recovery from truncated, corrupt, foreign and garbage files, concurrent writers
// (threads and two processes), an unwritable directory, and the Jit-owned LLJIT that kernels
// keep alive. Every case runs in its own mkdtemp directory.
#define BOOST_TEST_MODULE llvm_object_cache
#include <boost/test/unit_test.hpp>

#include "runtime/kernel_state.hpp"
#include "generator/llvm/object_cache.hpp"
#include "generator/plan.hpp"
#include "generator/kernel_code.hpp"
#include "core/reference.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace convjit;
using namespace convjit::testing;
namespace fs = std::filesystem;

namespace {

// Small shapes: a cold compile is a few milliseconds.
ConvShape shape_a() { return ConvSpec::parse("n=1,c=16,h=12,w=12,oc=16,k=3,p=1").resolve(); }
ConvShape shape_b() { return ConvSpec::parse("n=1,c=3,h=11,w=9,oc=24,k=3,s=2,p=same").resolve(); }

// The key of the plan an automatic llvm Jit makes on this CPU.
std::string key_of(const ConvShape& shape) {
  // algo=auto on the llvm backend is make_plan's choice (runtime/jit.cpp plan_for): shape_a
  // is a Winograd kernel, shape_b (stride 2) a direct one.
  return llvm_object_key(make_plan(shape, resolve_isa(Isa::automatic, Backend::llvm)));
}

// A fresh directory, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/convjit_object_cache_XXXXXX";
    const char* made = ::mkdtemp(pattern);
    if (!made) throw std::runtime_error("mkdtemp failed");
    path = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
};

// CONVJIT_CACHE_DIR for the scope of a test case (the previous value comes back afterwards).
struct CacheDirEnv {
  std::optional<std::string> previous;
  explicit CacheDirEnv(const std::string& dir) {
    if (const char* old = std::getenv("CONVJIT_CACHE_DIR")) previous = old;
    ::setenv("CONVJIT_CACHE_DIR", dir.c_str(), 1);
  }
  ~CacheDirEnv() {
    if (previous)
      ::setenv("CONVJIT_CACHE_DIR", previous->c_str(), 1);
    else
      ::unsetenv("CONVJIT_CACHE_DIR");
  }
};

// Statistics since construction.
struct StatsDelta {
  ObjectCacheStats start = ObjectCache::statistics();
  ObjectCacheStats now() const {
    const ObjectCacheStats s = ObjectCache::statistics();
    return {s.hits - start.hits, s.misses - start.misses, s.rejected - start.rejected,
            s.stores - start.stores, s.store_failures - start.store_failures};
  }
};

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path().string());
  return out;
}

bool valid_entry(const std::string& path, const std::string& key) {
  const std::vector<char> bytes = read_bytes(path);
  return decode_cache_entry(key, bytes).has_value();
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

std::vector<char> some_object() {
  std::vector<char> object(3000);
  std::mt19937_64 rng(7);
  for (char& c : object) c = static_cast<char>(rng());
  return object;
}

}  // namespace

// ------------------------------------------------------------------ the format on its own

BOOST_AUTO_TEST_CASE(entry_round_trips_and_every_single_byte_change_is_detected) {
  const std::string key = "a key\nwith lines";
  const std::vector<char> object = some_object();
  const std::vector<char> file = encode_cache_entry(key, object);
  BOOST_TEST(file.size() == ObjectCache::kHeaderBytes + key.size() + object.size());
  BOOST_TEST(std::memcmp(file.data(), "CJITOBJ", 8) == 0);

  CacheEntryProblem problem{};
  auto decoded = decode_cache_entry(key, file, &problem);
  BOOST_REQUIRE(decoded.has_value());
  BOOST_TEST(to_string(problem) == "none");
  BOOST_TEST(std::vector<char>(decoded->begin(), decoded->end()) == object);

  // FNV-1a is a bijection per byte, so any one changed byte anywhere changes a checksum (or a
  // magic, version, length or key that is compared directly).
  for (std::size_t i = 0; i < file.size(); ++i) {
    std::vector<char> damaged = file;
    damaged[i] = static_cast<char>(damaged[i] ^ (1 + i % 255));
    BOOST_TEST(!decode_cache_entry(key, damaged).has_value(), "byte " << i << " changed");
  }
  // Every truncation and an appended byte.
  for (std::size_t n = 0; n < file.size(); n += (n < 200 ? 1 : 97))
    BOOST_TEST(!decode_cache_entry(key, std::span(file.data(), n)).has_value(), "truncated to " << n);
  std::vector<char> longer = file;
  longer.push_back('x');
  BOOST_TEST(!decode_cache_entry(key, longer, &problem).has_value());
  BOOST_TEST(to_string(problem) == "size_mismatch");

  // Another key, of the same length and of another length.
  BOOST_TEST(!decode_cache_entry("a key\nwith linez", file, &problem).has_value());
  BOOST_TEST(!decode_cache_entry("short", file, &problem).has_value());
  BOOST_TEST(to_string(problem) == "other_key");

  // Garbage of every small size, and an empty object round trip.
  std::mt19937_64 rng(11);
  for (std::size_t n = 0; n < 300; ++n) {
    std::vector<char> garbage(n);
    for (char& c : garbage) c = static_cast<char>(rng());
    BOOST_TEST(!decode_cache_entry(key, garbage).has_value());
  }
  const std::vector<char> empty_entry = encode_cache_entry(key, {});
  BOOST_TEST(decode_cache_entry(key, empty_entry).has_value());
}

BOOST_AUTO_TEST_CASE(store_and_load_without_llvm) {
  TempDir dir;
  ObjectCache cache(dir.path + "/nested/deeper");  // created on the first store
  const std::vector<char> object = some_object();
  StatsDelta delta;
  BOOST_TEST(!cache.load("k").has_value());
  BOOST_TEST(cache.store("k", object));
  auto loaded = cache.load("k");
  BOOST_REQUIRE(loaded.has_value());
  BOOST_TEST(*loaded == object);
  BOOST_TEST(!cache.load("other").has_value());
  BOOST_TEST(delta.now().misses == 2u);
  BOOST_TEST(delta.now().hits == 1u);
  BOOST_TEST(delta.now().stores == 1u);
  BOOST_TEST(delta.now().rejected == 0u);
  // Entry files are 0644 whatever the umask; a group-writable one is not trusted.
  struct stat st {};
  BOOST_REQUIRE(::stat(cache.path("k").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0644u);
  ::chmod(cache.path("k").c_str(), 0664);
  BOOST_TEST(!cache.load("k").has_value());
  BOOST_TEST(delta.now().rejected == 1u);
  BOOST_TEST(files_in(dir.path + "/nested/deeper").size() == 1u);  // no temporary left over
}

BOOST_AUTO_TEST_CASE(key_names_shape_versions_and_host) {
  const std::string a = key_of(shape_a());
  BOOST_TEST(a == key_of(shape_a()));
  BOOST_TEST(a != key_of(shape_b()));
  for (const char* part : {"kernel_version ", "llvm ", "triple ", "cpu ", "features ", "build_id ",
                           "symbol "})
    BOOST_TEST(a.find(part) != std::string::npos, part);
  BOOST_TEST(a.find(shape_a().to_string()) != std::string::npos);
  ObjectCache cache("/somewhere");
  BOOST_TEST(cache.path(a) != cache.path(key_of(shape_b())));
  BOOST_TEST(cache.path(a).rfind("/somewhere/llvm-", 0) == 0u);
}

// ------------------------------------------------------------------ through the LLVM backend

BOOST_AUTO_TEST_CASE(warm_start_links_the_stored_object) {
  TempDir dir;
  CacheDirEnv env(dir.path);
  StatsDelta delta;
  check_backend_matches_reference(shape_a(), Backend::llvm, 1);  // cold: compiles and stores
  BOOST_TEST(delta.now().misses == 1u);
  BOOST_TEST(delta.now().stores == 1u);
  BOOST_TEST(delta.now().hits == 0u);
  const auto files = files_in(dir.path);
  BOOST_REQUIRE(files.size() == 1u);
  const std::string entry = files[0];
  BOOST_TEST(entry == ObjectCache(dir.path).path(key_of(shape_a())));
  BOOST_TEST(valid_entry(entry, key_of(shape_a())));
  const ino_t written = inode_of(entry);

  // Each check uses a new Jit (a new LLJIT, no in-memory cache): only the file can help.
  for (std::uint64_t seed = 2; seed < 5; ++seed)
    check_backend_matches_reference(shape_a(), Backend::llvm, seed);
  BOOST_TEST(delta.now().hits == 3u);
  BOOST_TEST(delta.now().stores == 1u);   // nothing compiled, nothing written again
  BOOST_TEST(inode_of(entry) == written);  // the file was not replaced

  // Another shape is another entry.
  check_backend_matches_reference(shape_b(), Backend::llvm, 5);
  BOOST_TEST(files_in(dir.path).size() == 2u);
  BOOST_TEST(delta.now().stores == 2u);
}

BOOST_AUTO_TEST_CASE(unset_directory_touches_nothing) {
  std::optional<std::string> previous;
  if (const char* old = std::getenv("CONVJIT_CACHE_DIR")) previous = old;
  ::unsetenv("CONVJIT_CACHE_DIR");
  StatsDelta delta;
  check_backend_matches_reference(shape_a(), Backend::llvm, 1);
  BOOST_TEST(delta.now().hits + delta.now().misses + delta.now().stores == 0u);
  if (previous) ::setenv("CONVJIT_CACHE_DIR", previous->c_str(), 1);
}

namespace {

// Damages the entry of shape_a, then checks the next compile rejects it, compiles correctly,
// writes a valid entry in its place, and that the compile after that is a hit.
struct Damage {
  // The entry's bytes no longer decode (false when only its permissions changed).
  bool bytes_invalid = true;
  // The entry decodes and is only refused when LLVM cannot link it (one hit is counted).
  bool refused_by_llvm = false;
};

void check_recovers_from(const std::string& what,
                         const std::function<void(const std::string& entry, const TempDir&)>& damage,
                         Damage kind = {}) {
  BOOST_TEST_CONTEXT(what) {
    TempDir dir;
    CacheDirEnv env(dir.path);
    check_backend_matches_reference(shape_a(), Backend::llvm, 1);
    const std::string entry = ObjectCache(dir.path).path(key_of(shape_a()));
    BOOST_REQUIRE(valid_entry(entry, key_of(shape_a())));
    const ino_t before = inode_of(entry);
    damage(entry, dir);
    BOOST_REQUIRE(valid_entry(entry, key_of(shape_a())) == !kind.bytes_invalid);

    StatsDelta delta;
    check_backend_matches_reference(shape_a(), Backend::llvm, 2);
    BOOST_TEST(delta.now().hits == (kind.refused_by_llvm ? 1u : 0u));
    BOOST_TEST(delta.now().rejected == 1u);
    BOOST_TEST(delta.now().stores == 1u);
    BOOST_TEST(valid_entry(entry, key_of(shape_a())));
    // A new file was renamed into place (a discarded entry is unlinked first, and its inode
    // number may come back).
    if (!kind.refused_by_llvm) BOOST_TEST(inode_of(entry) != before);
    check_backend_matches_reference(shape_a(), Backend::llvm, 3);
    BOOST_TEST(delta.now().hits == (kind.refused_by_llvm ? 2u : 1u));
    BOOST_TEST(delta.now().stores == 1u);
    for (const auto& file : files_in(dir.path))
      BOOST_TEST(file.find(".tmp.") == std::string::npos, "left over: " << file);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(damaged_entries_are_rejected_compiled_fresh_and_rewritten) {
  check_recovers_from("truncated to half", [](const std::string& entry, const TempDir&) {
    fs::resize_file(entry, fs::file_size(entry) / 2);
  });
  check_recovers_from("truncated inside the header", [](const std::string& entry, const TempDir&) {
    fs::resize_file(entry, 20);
  });
  check_recovers_from("truncated to nothing", [](const std::string& entry, const TempDir&) {
    fs::resize_file(entry, 0);
  });
  check_recovers_from("one byte short", [](const std::string& entry, const TempDir&) {
    fs::resize_file(entry, fs::file_size(entry) - 1);
  });
  check_recovers_from("a byte appended", [](const std::string& entry, const TempDir&) {
    std::vector<char> bytes = read_bytes(entry);
    bytes.push_back(0);
    write_bytes(entry, bytes);
  });
  check_recovers_from("bytes flipped in the object", [](const std::string& entry, const TempDir&) {
    std::vector<char> bytes = read_bytes(entry);
    for (std::size_t i = bytes.size() - 1; i > bytes.size() - 200; i -= 37) bytes[i] ^= 0x5a;
    write_bytes(entry, bytes);
  });
  check_recovers_from("a byte flipped in the key", [](const std::string& entry, const TempDir&) {
    std::vector<char> bytes = read_bytes(entry);
    bytes[ObjectCache::kHeaderBytes + 10] ^= 1;
    write_bytes(entry, bytes);
  });
  check_recovers_from("a foreign magic", [](const std::string& entry, const TempDir&) {
    std::vector<char> bytes = read_bytes(entry);
    std::memcpy(bytes.data(), "\x7f" "ELF\2\1\1\0", 8);
    write_bytes(entry, bytes);
  });
  check_recovers_from("another format version", [](const std::string& entry, const TempDir&) {
    std::vector<char> bytes = read_bytes(entry);
    bytes[8] = static_cast<char>(ObjectCache::kFormatVersion + 1);
    write_bytes(entry, bytes);
  });
  check_recovers_from("another kernel's entry under this name",
                      [](const std::string& entry, const TempDir& dir) {
                        check_backend_matches_reference(shape_b(), Backend::llvm, 9);
                        const std::string other = ObjectCache(dir.path).path(key_of(shape_b()));
                        BOOST_REQUIRE(valid_entry(other, key_of(shape_b())));
                        fs::copy_file(other, entry, fs::copy_options::overwrite_existing);
                      });
  check_recovers_from("garbage of the same size", [](const std::string& entry, const TempDir&) {
    std::vector<char> bytes(fs::file_size(entry));
    std::mt19937_64 rng(3);
    for (char& c : bytes) c = static_cast<char>(rng());
    write_bytes(entry, bytes);
  });
  check_recovers_from("text", [](const std::string& entry, const TempDir&) {
    const std::string text = "not a kernel\n";
    write_bytes(entry, std::vector<char>(text.begin(), text.end()));
  });
  // Checksums right, contents not an object: LLVM refuses it, the entry is discarded.
  check_recovers_from(
      "a valid entry holding no object",
      [](const std::string& entry, const TempDir&) {
        write_bytes(entry, encode_cache_entry(key_of(shape_a()), some_object()));
      },
      Damage{.bytes_invalid = false, .refused_by_llvm = true});
}

BOOST_AUTO_TEST_CASE(an_entry_others_could_write_is_not_trusted) {
  check_recovers_from(
      "group and world writable",
      [](const std::string& entry, const TempDir&) { ::chmod(entry.c_str(), 0666); },
      Damage{.bytes_invalid = false});
}

// ------------------------------------------------------------------ concurrency

BOOST_AUTO_TEST_CASE(threads_storing_and_loading_one_entry_never_see_a_partial_file) {
  TempDir dir;
  const ObjectCache cache(dir.path);
  // Large enough that a write takes several system calls' worth of time.
  std::vector<char> object(1 << 20);
  std::mt19937_64 rng(5);
  for (char& c : object) c = static_cast<char>(rng());
  StatsDelta delta;
  std::atomic<int> failures{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i)
        if (!cache.store("one key", object)) ++failures;
    });
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 40; ++i)
        if (auto loaded = cache.load("one key"); loaded && *loaded != object) ++wrong;
    });
  for (auto& t : threads) t.join();
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(wrong.load() == 0);
  BOOST_TEST(delta.now().rejected == 0u);  // never a half-written file
  BOOST_TEST(delta.now().stores == 40u);
  BOOST_TEST(files_in(dir.path).size() == 1u);
  BOOST_TEST((cache.load("one key") == std::optional(object)));
}

BOOST_AUTO_TEST_CASE(two_processes_writing_one_entry_both_succeed) {
  // The children run single-threaded code only (threads = 1, no OpenMP pool), and this test
  // process has no other threads at fork time.
  for (int round = 0; round < 3; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      TempDir dir;
      CacheDirEnv env(dir.path);
      int gate[2];
      BOOST_REQUIRE(::pipe(gate) == 0);
      pid_t children[2];
      for (pid_t& child : children) {
        child = ::fork();
        BOOST_REQUIRE(child >= 0);
        if (child == 0) {
          ::close(gate[1]);
          char c;
          while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {}
          int status = 1;
          try {
            const ObjectCacheStats before = ObjectCache::statistics();
            const Comparison r = compare_backend_with_reference(shape_a(), Backend::llvm, 1);
            const ObjectCacheStats after = ObjectCache::statistics();
            // Correct, and the entry either written by this child or read from the other's.
            const bool used_cache = after.stores > before.stores || after.hits > before.hits;
            const bool clean = after.store_failures == before.store_failures &&
                               after.rejected == before.rejected;
            status = r.ok() && used_cache && clean ? 0 : 2;
          } catch (...) {
            status = 3;
          }
          ::_exit(status);
        }
      }
      ::close(gate[0]);
      ::close(gate[1]);  // both children start now
      for (pid_t child : children) {
        int status = 0;
        BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
        BOOST_TEST(WIFEXITED(status));
        BOOST_TEST(WEXITSTATUS(status) == 0);
      }
      const auto files = files_in(dir.path);
      BOOST_TEST(files.size() == 1u);  // the entry, no temporaries
      BOOST_TEST(valid_entry(ObjectCache(dir.path).path(key_of(shape_a())), key_of(shape_a())));
      StatsDelta delta;
      check_backend_matches_reference(shape_a(), Backend::llvm, 4);
      BOOST_TEST(delta.now().hits == 1u);
    }
  }
}

// ------------------------------------------------------------------ an unusable directory

BOOST_AUTO_TEST_CASE(unwritable_directory_still_compiles) {
  TempDir dir;
  // A path under a regular file can be neither created nor written, even by root.
  write_bytes(dir.path + "/file", {'x'});
  {
    CacheDirEnv env(dir.path + "/file/cache");
    StatsDelta delta;
    check_backend_matches_reference(shape_a(), Backend::llvm, 1);
    check_backend_matches_reference(shape_a(), Backend::llvm, 2);
    BOOST_TEST(delta.now().store_failures == 2u);
    BOOST_TEST(delta.now().stores == 0u);
    BOOST_TEST(delta.now().hits == 0u);
  }
  // A read-only directory (permissions do not bind root).
  if (::geteuid() != 0) {
    const std::string readonly = dir.path + "/readonly";
    fs::create_directory(readonly);
    fs::permissions(readonly, fs::perms::owner_read | fs::perms::owner_exec);
    CacheDirEnv env(readonly);
    StatsDelta delta;
    check_backend_matches_reference(shape_a(), Backend::llvm, 3);
    BOOST_TEST(delta.now().store_failures == 1u);
    BOOST_TEST(files_in(readonly).empty());
    fs::permissions(readonly, fs::perms::owner_all);
  }
  // A directory where the entry should be: not a regular file, and not replaceable.
  {
    const std::string cache_dir = dir.path + "/blocked";
    fs::create_directories(ObjectCache(cache_dir).path(key_of(shape_a())));
    CacheDirEnv env(cache_dir);
    StatsDelta delta;
    check_backend_matches_reference(shape_a(), Backend::llvm, 4);
    BOOST_TEST(delta.now().rejected == 1u);
    BOOST_TEST(delta.now().store_failures == 1u);
    BOOST_TEST(files_in(cache_dir).size() == 1u);  // the temporary was cleaned up
  }
}

// ------------------------------------------------------------------ the Jit's own LLJIT

BOOST_AUTO_TEST_CASE(kernels_outlive_their_jit_and_share_names_safely) {
  TempDir dir;
  CacheDirEnv env(dir.path);
  const ConvShape shape = shape_a();
  const auto src = random_floats(static_cast<std::size_t>(shape.src_elems()), 1);
  const auto weights = random_floats(static_cast<std::size_t>(shape.weight_elems()), 2);
  const auto bias = random_floats(static_cast<std::size_t>(shape.oc), 3);
  std::vector<float> expected(static_cast<std::size_t>(shape.dst_elems()));
  reference_conv(shape, src.data(), weights.data(), bias.data(), expected.data());

  std::vector<std::shared_ptr<const Kernel>> kernels;
  {
    Jit jit(JitOptions{.backend = Backend::llvm, .threads = 1});
    // The same shape twice in one LLJIT (compile() bypasses the in-memory cache): once
    // compiled, once loaded, both entries named after the same plan, both alive at once.
    kernels.push_back(jit.compile(shape));
    kernels.push_back(jit.compile(shape));
    kernels.push_back(jit.get(shape));
  }  // the Jit is gone; its LLJIT lives on in the kernels
  {
    Jit other(JitOptions{.backend = Backend::llvm, .threads = 1});
    kernels.push_back(other.compile(shape));
  }
  for (const auto& kernel : kernels) {
    const PackedWeights packed = kernel->pack_weights(weights.data(), bias.data());
    std::vector<float> dst(expected.size());
    kernel->run(src.data(), packed, dst.data(), 1);
    BOOST_TEST(max_abs_error(dst, expected) <= tolerance(shape));
  }
  BOOST_TEST(kernel_code(*kernels[0]).entry() != kernel_code(*kernels[1]).entry());
  kernels.erase(kernels.begin());  // dropping one leaves the others callable
  for (const auto& kernel : kernels) {
    const PackedWeights packed = kernel->pack_weights(weights.data(), bias.data());
    std::vector<float> dst(expected.size());
    kernel->run(src.data(), packed, dst.data(), 1);
    BOOST_TEST(max_abs_error(dst, expected) <= tolerance(shape));
  }
}
