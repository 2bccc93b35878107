# The library's floors, lowest first. Each floor's sources, and the rule that keeps includes
# pointing downward: a floor compiles against an include root holding links to itself and the
# floors below it only, so `#include "runtime/..."` from generator/ is "file not found".
#
#   core/       vocabulary: spec, shape, backend and ISA names, CPU features, the reference
#               oracle, the tolerance rule
#   generator/  plan, schedule, tile geometry, the kernel ABI, the four backends
#   runtime/    Jit, cache, Kernel, packing, threads, observability
#
# Tools, tests, benchmarks and fuzzers sit above all three and see the whole tree.
set(CONVJIT_FLOORS core generator runtime)

file(GLOB CONVJIT_CORE_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/../core/*.cpp)
file(GLOB CONVJIT_GENERATOR_SOURCES CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_LIST_DIR}/../generator/*.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../generator/*/*.cpp)
file(GLOB CONVJIT_RUNTIME_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/../runtime/*.cpp)
get_filename_component(CONVJIT_GENERIC_SOURCE
  ${CMAKE_CURRENT_LIST_DIR}/../generator/generic/generic_code.cpp ABSOLUTE)

# convjit_floor_includes(TARGET FLOOR): TARGET sees FLOOR and every floor below it.
function(convjit_floor_includes target floor)
  get_filename_component(root ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/.. ABSOLUTE)
  set(links ${CMAKE_BINARY_DIR}/floors/${floor})
  file(MAKE_DIRECTORY ${links})
  foreach(below ${CONVJIT_FLOORS})
    if(NOT EXISTS ${links}/${below})
      file(CREATE_LINK ${root}/${below} ${links}/${below} SYMBOLIC)
    endif()
    if(below STREQUAL floor)
      break()
    endif()
  endforeach()
  target_include_directories(${target} PRIVATE ${links} ${root}/include)
endfunction()
