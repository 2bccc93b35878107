// The tuning cache: winners kept under CONVJIT_CACHE_DIR, reused by a later Jit without
// timing anything, and every damaged, foreign or untrusted entry ignored and rewritten.
#define BOOST_TEST_MODULE tuning_cache
#include <boost/test/unit_test.hpp>

#include "core/cpu_features.hpp"
#include "core/version.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/tuning_cache.hpp"
#include "tests/support/test_support.hpp"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

using namespace convjit;
namespace fs = std::filesystem;

namespace {

const char* const kSpec = "c=16,h=12,w=12,oc=16,k=3,p=1";

ConvShape shape_of(const char* spec) { return ConvSpec::parse(spec).resolve(); }

// A fresh CONVJIT_CACHE_DIR for one test case.
class CacheDir {
 public:
  CacheDir() : path_(fs::temp_directory_path() / ("convjit_tuning_cache_" + std::to_string(::getpid()) + "_" +
                                                  std::to_string(counter_++))) {
    fs::remove_all(path_);
    ::setenv("CONVJIT_CACHE_DIR", path_.c_str(), 1);
  }
  ~CacheDir() {
    ::unsetenv("CONVJIT_CACHE_DIR");
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::shared_ptr<const Kernel> compile(const char* spec = kSpec) {
  Jit jit(JitOptions{.backend = Backend::xbyak, .threads = 1, .tune = Tuning::fast});
  return jit.compile(shape_of(spec));
}

const TuningReport& report_of(const Kernel& kernel) {
  BOOST_REQUIRE(kernel.state().tuning != nullptr);
  return *kernel.state().tuning;
}

// The key the Jit above uses for kSpec.
std::string key_of(const char* spec = kSpec) {
  return TuningCache::key(shape_of(spec), Backend::xbyak, available_isas(), Algorithm::automatic);
}

std::vector<char> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const fs::path& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  BOOST_REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// Tunes once (storing the winner), damages the entry, and checks that the next Jit ignores it
// (tunes again, never from the cache) and rewrites it so a third one uses it.
void check_damaged_entry_is_ignored_and_rewritten(const std::function<void(const fs::path&)>& damage,
                                                  bool counts_as_rejected = true) {
  const CacheDir dir;
  const fs::path entry = TuningCache(dir.path().string()).path(key_of());
  compile();
  BOOST_REQUIRE(fs::exists(entry));
  damage(entry);
  const auto rejected = TuningCache::statistics().rejected;
  const auto again = compile();
  BOOST_TEST(!report_of(*again).from_cache, report_of(*again).describe());
  // Tuned again: the pick was timed. How many others were depends on the wall-time budget,
  // which a loaded machine spends on the pick alone.
  BOOST_TEST(report_of(*again).candidates.front().median_us >= 0);
  if (counts_as_rejected) BOOST_TEST(TuningCache::statistics().rejected == rejected + 1);
  const auto third = compile();
  BOOST_TEST(report_of(*third).from_cache);
  BOOST_TEST(third->name() == again->name());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reuse)

BOOST_AUTO_TEST_CASE(a_later_jit_builds_the_stored_winner_without_timing_anything) {
  const CacheDir dir;
  const auto stores = TuningCache::statistics().stores;
  const auto first = compile();
  BOOST_TEST(!report_of(*first).from_cache);
  BOOST_TEST(TuningCache::statistics().stores == stores + 1);
  const auto later = compile();
  const TuningReport& r = report_of(*later);
  BOOST_TEST(r.from_cache);
  BOOST_TEST(later->name() == first->name());
  BOOST_REQUIRE(r.candidates.size() == 1u);
  BOOST_TEST(r.candidates[0].median_us < 0);  // not timed
  BOOST_TEST(later->describe().find("winner from the tuning cache") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(other_batches_share_the_entry) {
  const CacheDir dir;
  compile("n=1,c=16,h=12,w=12,oc=16,k=3,p=1");
  BOOST_TEST(report_of(*compile("n=3,c=16,h=12,w=12,oc=16,k=3,p=1")).from_cache);
}

BOOST_AUTO_TEST_CASE(entries_are_owner_only_files) {
  const CacheDir dir;
  compile();
  struct stat st {};
  BOOST_REQUIRE(::stat(TuningCache(dir.path().string()).path(key_of()).c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0644u);
  BOOST_TEST(st.st_uid == ::geteuid());
}

BOOST_AUTO_TEST_CASE(without_a_directory_nothing_is_stored_or_read) {
  ::unsetenv("CONVJIT_CACHE_DIR");
  const auto stores = TuningCache::statistics().stores;
  BOOST_TEST(!report_of(*compile()).from_cache);
  BOOST_TEST(!report_of(*compile()).from_cache);
  BOOST_TEST(TuningCache::statistics().stores == stores);
}

BOOST_AUTO_TEST_CASE(an_unwritable_directory_disables_storing_but_not_tuning) {
  ::setenv("CONVJIT_CACHE_DIR", "/proc/convjit-cannot-be-here", 1);
  const auto failures = TuningCache::statistics().store_failures;
  BOOST_TEST(!report_of(*compile()).from_cache);
  BOOST_TEST(TuningCache::statistics().store_failures == failures + 1);
  ::unsetenv("CONVJIT_CACHE_DIR");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(key)

BOOST_AUTO_TEST_CASE(the_key_names_the_cpu_the_library_version_and_the_shape) {
  const std::string key = key_of();
  BOOST_TEST(key.find("cpu " + cpu_identity()) != std::string::npos, key);
  BOOST_TEST(key.find("version " + std::string(kLibraryVersion)) != std::string::npos, key);
  BOOST_TEST(key.find(shape_of(kSpec).to_string()) != std::string::npos, key);
  BOOST_TEST(cpu_identity().find(" family ") != std::string::npos, cpu_identity());
  BOOST_TEST(key_of("c=16,h=12,w=12,oc=17,k=3,p=1") != key);
}

BOOST_AUTO_TEST_CASE(the_library_version_is_the_projects) {
  BOOST_TEST(std::string(kLibraryVersion) == CONVJIT_PROJECT_VERSION);
}

BOOST_AUTO_TEST_CASE(the_instruction_sets_tuned_among_are_part_of_the_key) {
  const std::vector<Isa> avx2{Isa::avx2};
  BOOST_TEST(TuningCache::key(shape_of(kSpec), Backend::xbyak, avx2, Algorithm::automatic) != key_of());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hostile_entries)

BOOST_AUTO_TEST_CASE(a_truncated_entry_is_ignored_and_rewritten) {
  check_damaged_entry_is_ignored_and_rewritten([](const fs::path& entry) {
    auto bytes = read_bytes(entry);
    bytes.resize(bytes.size() / 2);
    write_bytes(entry, bytes);
  });
}

BOOST_AUTO_TEST_CASE(garbage_is_ignored_and_rewritten) {
  check_damaged_entry_is_ignored_and_rewritten([](const fs::path& entry) {
    const auto noise = testing::random_floats(64, 5);
    std::vector<char> bytes(reinterpret_cast<const char*>(noise.data()),
                            reinterpret_cast<const char*>(noise.data()) + noise.size() * sizeof(float));
    write_bytes(entry, bytes);
  });
}

BOOST_AUTO_TEST_CASE(a_changed_payload_byte_is_ignored_and_rewritten) {
  check_damaged_entry_is_ignored_and_rewritten([](const fs::path& entry) {
    auto bytes = read_bytes(entry);
    bytes.back() ^= 1;
    write_bytes(entry, bytes);
  });
}

BOOST_AUTO_TEST_CASE(an_entry_of_another_cpu_is_ignored_and_rewritten) {
  check_damaged_entry_is_ignored_and_rewritten([](const fs::path& entry) {
    // Another machine's valid entry, copied over this one's name.
    const TuningCache cache(entry.parent_path().string());
    const std::string foreign = replaced(key_of(), cpu_identity(), "GenuineIntel family 6 model 143 stepping 8 features avx2");
    BOOST_REQUIRE(cache.store(foreign, "conv_k3x3_s1x1_d1x1_oc_vectors_ur6x2_nhwc_avx2"));
    fs::rename(cache.path(foreign), entry);
  });
}

BOOST_AUTO_TEST_CASE(an_entry_of_another_library_version_is_ignored_and_rewritten) {
  check_damaged_entry_is_ignored_and_rewritten([](const fs::path& entry) {
    const TuningCache cache(entry.parent_path().string());
    const std::string other = replaced(key_of(), "version " + std::string(kLibraryVersion), "version 9.9.9");
    BOOST_REQUIRE(cache.store(other, "conv_k3x3_s1x1_d1x1_oc_vectors_ur6x2_nhwc_avx2"));
    fs::rename(cache.path(other), entry);
  });
}

BOOST_AUTO_TEST_CASE(an_entry_of_another_format_version_is_ignored_and_rewritten) {
  check_damaged_entry_is_ignored_and_rewritten([](const fs::path& entry) {
    auto bytes = read_bytes(entry);
    bytes[8] = static_cast<char>(TuningCache::kFormatVersion + 1);
    write_bytes(entry, bytes);
  });
}

BOOST_AUTO_TEST_CASE(group_or_world_writable_entries_are_never_trusted) {
  for (const mode_t mode : {0666, 0620, 0602})
    check_damaged_entry_is_ignored_and_rewritten([mode](const fs::path& entry) {
      BOOST_REQUIRE(::chmod(entry.c_str(), mode) == 0);
    });
}

BOOST_AUTO_TEST_CASE(an_entry_owned_by_another_user_is_never_trusted) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("not root: no file of another owner can be made here");
    return;
  }
  check_damaged_entry_is_ignored_and_rewritten([](const fs::path& entry) {
    BOOST_REQUIRE(::chown(entry.c_str(), 65534, 65534) == 0);  // nobody
  });
}

BOOST_AUTO_TEST_CASE(a_symlink_in_place_of_an_entry_is_never_followed) {
  check_damaged_entry_is_ignored_and_rewritten([](const fs::path& entry) {
    const fs::path target = entry.string() + ".elsewhere";
    fs::rename(entry, target);
    fs::create_symlink(target, entry);
  });
}

BOOST_AUTO_TEST_CASE(a_winner_that_is_not_a_kernel_name_is_ignored) {
  check_damaged_entry_is_ignored_and_rewritten([](const fs::path& entry) {
    const TuningCache cache(entry.parent_path().string());
    BOOST_REQUIRE(cache.store(key_of(), "../../bin/sh -c"));
  });
}

BOOST_AUTO_TEST_CASE(a_winner_the_planner_does_not_offer_is_tuned_afresh) {
  // A valid entry naming a kernel that is not among this shape's candidates (another
  // planner's): nothing but the candidates is ever built.
  check_damaged_entry_is_ignored_and_rewritten(
      [](const fs::path& entry) {
        const TuningCache cache(entry.parent_path().string());
        BOOST_REQUIRE(cache.store(key_of(), "conv_k7x7_s2x2_d1x1_oc_vectors_ur1x1_nhwc_avx2"));
      },
      /*counts_as_rejected=*/false);
}

BOOST_AUTO_TEST_SUITE_END()
