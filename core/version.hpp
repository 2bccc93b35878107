#pragma once
// The library's version, as CMakeLists.txt's project(VERSION) says it (tests/tuning_cache_test
// checks the two agree). Persistent caches key their entries by it: a winner found by one
// version is not trusted by another, whose planner may build other kernels.
#include <string_view>

namespace convjit {

inline constexpr std::string_view kLibraryVersion = "0.1.0";

}  // namespace convjit
